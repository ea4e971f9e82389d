"""Decoded frames kept in memory, the most recently used first, bounded by the bytes they hold.

A count alone does not bound memory: one 4k x 4k float32 frame is 64 MB, a 64 x 64 PNG 16 kB.
An entry larger than the whole bound is handed back and not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class FrameCache(Generic[Value]):
    """``get(key, load, size)``: the value kept under ``key``, else ``load()``'s (kept while the
    bytes ``size`` says all values hold stay within ``max_bytes``). Thread-safe; two threads that
    miss the same key at once may both load it (the second replaces the first)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, load: Callable[[], Value], size: Callable[[Value], int]) -> Value:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry[0]
        value = load()
        nbytes = size(value)
        if nbytes > self.max_bytes:
            return value
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
