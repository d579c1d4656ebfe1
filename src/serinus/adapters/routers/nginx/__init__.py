"""NGINX Ingress canary routing: a managed canary Ingress (edits.py pure, router.py I/O)."""

from serinus.adapters.routers.nginx.router import NginxRouter

__all__ = ["NginxRouter"]
