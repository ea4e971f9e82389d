"""Reading the .npy and .npz files the jobs write (vectors, probabilities, ids), safely from threads.

np.load parses each array's header with ``ast.literal_eval``. On CPython 3.11 the AST constructor's
recursion counter is shared by all threads, so two threads parsing at once can fail with
"SystemError: AST constructor recursion depth mismatch" (python/cpython gh-106905): a job's image
threads failed so in CI, and web requests read these files in worker threads too. Every header is
parsed under one lock; a memory-mapped array's pixels are read after it, outside the lock.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

import numpy as np

from backend.errors import Unreadable

HEADER_LOCK = threading.Lock()

MmapMode = Literal["r", "r+", "c"] | None


def load(path: str | os.PathLike[str], *, mmap_mode: MmapMode = None) -> np.ndarray:
    """One .npy array (memory-mapped with ``mmap_mode``); never a pickle, never an archive."""
    with HEADER_LOCK:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    if not isinstance(array, np.ndarray):
        array.close()
        raise Unreadable(f"{Path(path).name} is a .npz archive, not a .npy array")
    return array


def load_archive(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of a .npz archive, read whole (each member's header is parsed when it is read)."""
    with HEADER_LOCK, np.load(path, allow_pickle=False) as data:
        return {name: np.asarray(data[name]) for name in data.files}
