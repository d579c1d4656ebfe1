"""The REST API and the dashboard as one ASGI app, over any StateStore.

`serinus serve` builds it over the local SQLite store; the operator mounts the same app over
the Kubernetes store. The dashboard is static files (no build step): HTML, CSS and JavaScript
served from the package, under a Content-Security-Policy that forbids inline scripts.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from serinus.app.metrics import DEFAULT, SerinusMetrics
from serinus.core.errors import (
    Conflict,
    DependencyError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SerinusError,
)
from serinus.core.ports import StateStore
from serinus.entrypoints.api.access import Access, TokensAccess
from serinus.entrypoints.api.auth import AuthConfig, FailureThrottle
from serinus.entrypoints.api.context import ApiContext, FailureSource
from serinus.entrypoints.api.directory import Directory, SingleStore
from serinus.entrypoints.api.routes import operations, rollouts, stream, system

log = logging.getLogger("serinus.api")
STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUS_OF: list[tuple[type[SerinusError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (PermissionDenied, 403),
    (DependencyError, 503),
]


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _serinus_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SerinusError)
    code = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 500)
    if code == 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    problems = exc.problems if isinstance(exc, InvalidInput) else []
    return JSONResponse({"detail": str(exc), "problems": problems}, status_code=code)


def _invalid_body(request: Request, exc: Exception) -> Response:
    """422 whose message names each field (`body.approve: Field required`)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        {"detail": "invalid request: " + "; ".join(problems), "problems": problems},
        status_code=422,
    )


def _version() -> str:
    try:
        return version("serinus")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI answers 400 for a body it cannot even decode (not UTF-8); like any other
        # malformed body, that is a 422 naming the body.
        problem = "body: cannot be decoded: send UTF-8 JSON"
        return JSONResponse({"detail": problem, "problems": [problem]}, status_code=422)
    return await http_exception_handler(request, exc)


def create_app(
    store: StateStore,
    auth: AuthConfig | Access,
    *,
    metrics: SerinusMetrics = DEFAULT,
    failures: FailureSource | None = None,
    throttle: FailureThrottle | None = None,
    poll_seconds: float = 0.5,
    heartbeat_seconds: float = 15.0,
    intent_key: bytes | None = None,
    directory: Directory | None = None,
) -> FastAPI:
    """The API and dashboard over `store`; callers authenticate against `auth` (a tokens file's
    users, or an Access such as Kubernetes'). `intent_key` seals recorded operations (the
    operator's key; see core.authorization).

    `failures(name)` gives a rollout's recent failed notifications (the notification
    dispatcher's `failures`) when this process also notifies; they appear on its page.
    """
    app = FastAPI(
        title="serinus",
        version=_version(),
        description="Progressive delivery: watch, judge, promote or roll back rollouts.",
        # The interactive docs load scripts from a CDN and inline; the CSP forbids both.
        docs_url=None,
        redoc_url=None,
    )
    directory = directory or SingleStore(store)
    app.state.serinus = ApiContext(
        store=directory.store(None),
        directory=directory,
        access=TokensAccess(auth) if isinstance(auth, AuthConfig) else auth,
        throttle=throttle or FailureThrottle(),
        metrics=metrics,
        failures=failures,
        poll_seconds=poll_seconds,
        heartbeat_seconds=heartbeat_seconds,
        intent_key=intent_key,
    )
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(SerinusError, _serinus_error)
    app.add_exception_handler(RequestValidationError, _invalid_body)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for router in (rollouts.router, operations.router, stream.router, system.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # The page routes client-side; the server hands out the same shell for each.
    app.add_api_route("/", dashboard, include_in_schema=False)
    app.add_api_route("/rollouts/{name}", dashboard, include_in_schema=False)
    return app
