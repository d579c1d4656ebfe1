"""Gateway API traffic routing: HTTPRoute backendRefs weights (edits.py pure, router.py I/O)."""

from serinus.adapters.routers.gatewayapi.router import GatewayApiRouter

__all__ = ["GatewayApiRouter"]
