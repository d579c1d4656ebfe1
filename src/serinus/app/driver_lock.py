"""The driver lock of a local rollout: one `serinus run` drives a rollout at a time.

The lock is an flock on `driver.lock` in the rollout's state folder: the kernel drops it when the
process dies (even on kill -9), so a new `serinus run` can take over at once, and two drivers
never act on the same rollout together. The file holds the driver's pid, for messages.

Standard library only (no asyncio): the CLI's fast path for operations asks `holder` whether a
driver will act on what it recorded, and importing the driving loop would cost more than the
whole command.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from serinus.core.errors import Conflict


class DriverLock:
    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "driver.lock"
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> DriverLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Conflict(
                f"rollout {self.name} is already driven by pid {holder}; "
                "operate on it with promote/abort/judge from here instead"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(folder: Path) -> int | None:
        """The pid driving the rollout in `folder`, or None when nobody does."""
        path = folder / "driver.lock"
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None
