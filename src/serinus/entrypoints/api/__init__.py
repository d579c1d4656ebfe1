"""The REST API and web dashboard (FastAPI): `create_app(store, auth)`."""

from serinus.entrypoints.api.app import create_app
from serinus.entrypoints.api.auth import AuthConfig

__all__ = ["AuthConfig", "create_app"]
