"""File modes for what holds secrets: the data dir (0700), the SQLite file and the key file (0600).

The database holds password hashes and encrypted Tiled keys, the key file what decrypts them; a
umask of 022 would leave both readable by every local user. Modes are set at creation (no moment
where the file is open to others) and tightened on files an older version made.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("labelwise.storage")
DIR_MODE, FILE_MODE = 0o700, 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(mode)
    except PermissionError:  # not ours (a mounted volume): say so, never fail the start
        log.warning("cannot restrict the permissions of %s; other users may read it", path)


def private_dir(path: Path) -> None:
    """Make the directory (0700) if missing, or take group and other rights away from it."""
    if not path.exists():
        path.mkdir(parents=True, mode=DIR_MODE)
        path.chmod(DIR_MODE)  # mkdir's mode is masked by the umask
        return
    _tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create the file empty with mode 0600 if missing, or tighten an existing one to 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
        return
    os.close(fd)
    path.chmod(FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write a new file that only its owner may read; fails if it exists (never overwrites a key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def private_sqlite_file(url: str) -> None:
    """Before SQLite opens it: the database file exists with mode 0600 (its -wal and -shm files
    get the database file's mode from SQLite itself)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.exists():
        private_file(path)
