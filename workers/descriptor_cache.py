"""Descriptors computed once per frame, shared by every job that needs them.

Describing a frame (``workers.scattering.descriptor``) costs tens of milliseconds; the feature
extractor's inference and every classifier round on azimuthal descriptors describe the same
frames again. On 100,000 frames that is most of an hour of CPU per round. The cache keeps each
frame's descriptor and beam centre in one SQLite file under ``settings.cache_dir``, keyed by what
they depend on: the descriptor version and parameters, the source and item, the frame, and the
source's version of the item (a file's size and modification time), so an edited file is
described again. Several worker processes may share the file (SQLite locks; WAL lets readers
through). A cache that cannot be opened or written is skipped with a warning: it saves time,
never loses work.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FILE_NAME = "descriptors.sqlite"
BUSY_TIMEOUT_S = 30.0
BATCH = 500  # keys per SELECT: under SQLite's limit on bound parameters


def cache_key(parts: Iterable[object]) -> str:
    """A stable digest of what a descriptor depends on."""
    return hashlib.sha256(json.dumps(list(parts), separators=(",", ":")).encode()).hexdigest()


class DescriptorCache:
    """(descriptor, beam centre) by key, in one SQLite file."""

    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / FILE_NAME
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS descriptors (key TEXT PRIMARY KEY, vector BLOB NOT NULL,"
            " centre_row REAL NOT NULL, centre_column REAL NOT NULL)"
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def get_many(self, keys: list[str]) -> dict[str, tuple[np.ndarray, tuple[float, float]]]:
        found: dict[str, tuple[np.ndarray, tuple[float, float]]] = {}
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, vector, centre_row, centre_column FROM descriptors WHERE key IN ({marks})",
                chunk,
            )
            for key, blob, row, column in rows:
                found[key] = (np.frombuffer(blob, dtype=np.float32).copy(), (row, column))
        return found

    def put_many(self, rows: list[tuple[str, np.ndarray, tuple[float, float]]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO descriptors VALUES (?, ?, ?, ?)",
                [
                    (key, np.asarray(vector, np.float32).tobytes(), float(c[0]), float(c[1]))
                    for key, vector, c in rows
                ],
            )
