"""Istio traffic routing: VirtualService weights by host (a Service per color) or by subset.

edits.py computes every change purely; router.py applies them through adapters/kube.
"""

from serinus.adapters.routers.istio.router import IstioRouter

__all__ = ["IstioRouter"]
