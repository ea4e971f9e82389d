"""Sign-in rate limits, in memory (per process): enough to make password guessing slow."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class FailureLimiter:
    """At most ``max_failures`` failed attempts per key in any ``window`` seconds."""

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, key: str) -> int | None:
        """Seconds until the next attempt may be made, or None when one may be made now."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                if not times:
                    self._failures.pop(key, None)
                return None
            return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key, self.clock()).append(self.clock())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SignInLimiter:
    """5 failures a minute per (user, address); 30 a minute per address, across user names."""

    def __init__(self, per_user: int = 5, per_address: int = 30, window: float = 60.0) -> None:
        self.by_user = FailureLimiter(per_user, window)
        self.by_address = FailureLimiter(per_address, window)

    def retry_after(self, name: str, address: str) -> int | None:
        waits = [self.by_user.retry_after(f"{name.lower()}|{address}"), self.by_address.retry_after(address)]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, name: str, address: str) -> None:
        self.by_user.failed(f"{name.lower()}|{address}")
        self.by_address.failed(address)

    def succeeded(self, name: str, address: str) -> None:
        self.by_user.succeeded(f"{name.lower()}|{address}")
