"""Files only their owner may read: the local mode's state folder (0700) and what it holds (0600).

Specs, statuses, logs and HAProxy's configuration can hold credentials. Folders and files are
created with their final mode (the umask can only narrow it) and then set to it exactly, so a
file is never readable by others, not even for a moment, and a folder or file left by an older
version with wider modes is narrowed when it is next used. Shared by the local adapters (the
SQLite store, the process platform, the HAProxy router).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) if needed; `path` itself ends up 0700.

    A shared folder (sticky, like /tmp) or one owned by someone else is left as it is: it is
    not a state folder, whatever a test or a user pointed at."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
        path.chmod(FOLDER_MODE)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """A descriptor on `path`, created 0600 if missing and narrowed to 0600 if it exists."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path) -> None:
    """Make sure `path` exists with mode 0600 (before another program opens it)."""
    os.close(open_private(path, os.O_RDONLY))


def narrow_private(path: Path) -> None:
    """Set an existing file to 0600 without opening it (an open/close would drop locks)."""
    path.chmod(FILE_MODE)


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text` (temporary file + rename), mode 0600."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
    temporary.replace(path)
