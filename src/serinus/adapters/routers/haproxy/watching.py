"""Noticing at once that the HAProxy master serinus runs has died (kill -9, OOM killer).

HAProxy is daemonized (`-D`), so it is not serinus' child and `waitpid` cannot see it end; a
pidfd can (Linux 5.3+): it becomes readable when the process exits, whoever its parent is. The
event loop watches the pidfd and calls back on the loop, so a dead HAProxy is started again
within milliseconds instead of at the driver's next reconcile (which may be seconds away while
it backs off from a failing store). Where pidfds are not available the router still revives
HAProxy at its next port call; watching only makes it sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

log = logging.getLogger("serinus.haproxy")


class DeathWatch:
    """Calls `on_death` once, on the event loop, when the watched process has ended."""

    def __init__(self, on_death: Callable[[], None]) -> None:
        self._on_death = on_death
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self.pid: int | None = None

    def watch(self, pid: int) -> None:
        """Watch `pid` instead of what was watched before (the same pid: nothing changes)."""
        if pid == self.pid and self._fd is not None:
            return
        self.cancel()
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            loop.call_soon(self._on_death)  # already gone
            return
        except (OSError, AttributeError) as exc:  # no pidfds here: the next port call revives
            log.debug("cannot watch HAProxy pid %d: %s", pid, exc)
            return
        self._loop, self._fd, self.pid = loop, fd, pid
        loop.add_reader(fd, self._fired)

    def cancel(self) -> None:
        """Stop watching (before serinus stops HAProxy itself, and when the router closes)."""
        if self._fd is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._loop, self._fd, self.pid = None, None, None

    def _fired(self) -> None:
        self.cancel()
        self._on_death()
