"""Running the API app with uvicorn: in the foreground (`serinus serve`) or beside other work.

`background` is for commands that drive a rollout and show the dashboard at the same time (the
demo): it starts the server on the running event loop and yields its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from serinus.core.errors import DependencyError
from serinus.entrypoints.api.context import ApiContext

STARTUP_TIMEOUT = 10.0


def _config(app: FastAPI, host: str, port: int, access_log: bool) -> uvicorn.Config:
    # Access lines show method and path only: tokens travel in a header, never in the URL.
    # Live streams end when the shutdown begins (`_Server`); the timeout is only a backstop.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )


class _Server(uvicorn.Server):
    """Ends the app's live streams as the shutdown begins, before uvicorn waits for open
    responses: otherwise it cancels them after the grace period and logs a traceback each."""

    def __init__(self, app: FastAPI, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        context = self._app.state.serinus
        if isinstance(context, ApiContext):
            context.closing.set()
        await super().shutdown(sockets)


class _EmbeddedServer(_Server):
    """Leaves signals to the host command (it has its own SIGINT/SIGTERM handling)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def url_of(server: uvicorn.Server, host: str) -> str:
    sockets = [sock for s in server.servers for sock in (s.sockets or [])]
    port = sockets[0].getsockname()[1] if sockets else 0
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(app: FastAPI, host: str, port: int, access_log: bool = True) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles the signals)."""
    await _Server(app, _config(app, host, port, access_log)).serve()


@contextlib.asynccontextmanager
async def background(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, access_log: bool = False
) -> AsyncIterator[str]:
    """Serve `app` while the block runs; yields the base URL (port 0 picks a free port)."""
    server = _EmbeddedServer(app, _config(app, host, port, access_log))
    task = asyncio.create_task(server.serve())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while not server.started:
            if task.done():
                task.result()  # re-raise why it could not start
                raise DependencyError(f"the dashboard server on {host}:{port} did not start")
            if loop.time() > deadline:
                raise DependencyError(f"the dashboard server on {host}:{port} did not start")
            await asyncio.sleep(0.05)
        yield url_of(server, host)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await asyncio.wait_for(task, timeout=5.0)
