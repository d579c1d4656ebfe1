"""Which version answers, request after request: a tight loop of GETs on one keep-alive connection.

    python benchmarks/version_probe.py URL OUTPUT

Writes one line per request to OUTPUT: the `time.monotonic()` at which it was sent (Linux's
monotonic clock is system-wide, so the parent process can compare it with its own readings) and
the version that answered (`X-Version`), or `error:<reason>`. Runs in its own process so that
neither its loop nor the engine's slows the other. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

FLUSH_SECONDS = 0.05


def main() -> None:
    url, output = sys.argv[1], sys.argv[2]
    running = True

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    flushed = time.monotonic()
    with Path(output).open("w") as out, httpx.Client(timeout=2.0, trust_env=False) as client:
        while running:
            sent = time.monotonic()
            try:
                response = client.get(url)
                version = response.headers.get("x-version", "unknown")
                if not response.is_success:
                    version = f"error:HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                version = f"error:{type(exc).__name__}"
            out.write(f"{sent:.6f} {version}\n")
            if sent - flushed >= FLUSH_SECONDS:
                out.flush()
                flushed = sent


if __name__ == "__main__":
    main()
