"""The data directory: created 0700, every file netgauge makes in it 0600.

It holds the inventory (users' password hashes, the change log), every sample, the token
signing key and SSH host keys: nobody but the account netgauge runs as has business
reading it. SQLite gives a database's ``-wal`` and ``-shm`` files the mode of the database
file itself, so creating each database file 0600 before SQLite opens it is enough.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (made, or tightened: an existing
    directory left open to others is closed, and the log says so)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode != DIR_MODE:
        os.chmod(path, DIR_MODE)
        log.warning("data_dir.tightened", path=str(path), was=oct(mode), now=oct(DIR_MODE))
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty with mode 0600 when it does not exist yet (so that SQLite,
    which opens it next, keeps that mode for it and its journals)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path
