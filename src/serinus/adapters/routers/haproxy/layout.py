"""Names shared by the rendered configuration and the runtime commands.

Metrics consumers rely on them too: HAProxy's Prometheus exporter labels per-server counters
with `proxy="be_main"` and `server="blue-0"`, `server="green-1"`, ...
"""

from __future__ import annotations

from serinus.core.status import Color

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
