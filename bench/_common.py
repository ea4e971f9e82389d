"""Helpers shared by the benchmarks: a throwaway data dir, a migrated SQLite database, timing."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from backend.settings import Settings
from backend.storage import migrate


@contextmanager
def scratch_settings(data_roots: list[Path] | None = None, database_url: str | None = None):
    """Settings on a fresh temporary data dir with a migrated database."""
    with tempfile.TemporaryDirectory(prefix="labelwise-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data",
            data_roots=":".join(str(p) for p in (data_roots or [root / "roots"])),
            database_url=database_url or "",
        )
        settings.ensure_dirs()
        migrate.upgrade(settings.database)
        yield settings, root


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name: str, seconds: float, target: float | None = None, baseline: float | None = None) -> None:
    line = f"{name:<48} {seconds * 1000:>10.1f} ms"
    if baseline:
        line += f"   baseline {baseline * 1000:>9.1f} ms  ratio {seconds / baseline:>5.2f}x"
    if target is not None:
        line += f"   target < {target * 1000:.0f} ms  {'OK' if seconds < target else 'MISSED'}"
    print(line, flush=True)
