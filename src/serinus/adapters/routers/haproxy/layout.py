"""Names and paths shared by the rendered configuration and the runtime commands.

Metrics consumers rely on them too: HAProxy's Prometheus exporter labels per-server counters
with `proxy="be_main"` and `server="blue-0"`, `server="green-1"`, ...
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from serinus.core.spec import HaproxyRouting
from serinus.core.status import Color

# Unix socket paths are limited to 108 bytes; longer ones move to a short, stable location.
_MAX_SOCKET_PATH = 100

MAIN_BACKEND = "be_main"
NO_PREVIEW_BACKEND = "be_no_preview"
PREVIEW_KEY = "preview"

# A slot that no replica uses yet still needs an address in the configuration.
PLACEHOLDER_HOST = "127.0.0.1"
PLACEHOLDER_PORT = 1


def color_backend(color: Color) -> str:
    return f"be_{color}"


def server_name(color: Color, index: int) -> str:
    return f"{color}-{index}"


def admin_socket(routing: HaproxyRouting, state_dir: Path) -> Path:
    """The admin socket: configured, else `admin.sock` in the state folder if short enough."""
    if routing.admin_socket is not None:
        return Path(routing.admin_socket)
    path = state_dir / "admin.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"serinus-haproxy-{digest}.sock"
