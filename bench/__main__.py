"""Run benchmarks: `python -m bench` (all) or `python -m bench foundation pages ...`.

Each module under bench/ has `main(argv) -> None` that prints its figures.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def run(names: list[str]) -> None:
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name}", flush=True)
        start = time.perf_counter()
        module.main([])
        print(f"--- bench.{name} took {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    wanted = sys.argv[1:] or available()
    unknown = sorted(set(wanted) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
    run(wanted)
