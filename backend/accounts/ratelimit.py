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
    """5 failures a minute per (account, address): a lock for that account from that address only.

    Not per address alone: behind a proxy (or a lab's NAT) every user shares one address, and one
    person's typos or one attacker would lock everyone out. Not per account alone: then anyone
    could lock any account. The address is the proxy's forwarded one when the proxy is trusted
    (``backend.accounts.addresses``). Guessing stays slow: 5 tries a minute per account and
    address, each an scrypt hash (docs/decisions/0006-tiled-hosts-and-secrets.md).
    """

    def __init__(self, per_user: int = 5, window: float = 60.0) -> None:
        self.by_user = FailureLimiter(per_user, window)

    def retry_after(self, name: str, address: str) -> int | None:
        return self.by_user.retry_after(f"{name.lower()}|{address}")

    def failed(self, name: str, address: str) -> None:
        self.by_user.failed(f"{name.lower()}|{address}")

    def succeeded(self, name: str, address: str) -> None:
        self.by_user.succeeded(f"{name.lower()}|{address}")
