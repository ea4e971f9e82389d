"""Run benchmarks: `python -m bench` (all) or `python -m bench foundation pages ...`.

Each module under bench/ has `main(argv) -> None` that prints its figures. Options after the
names go to each named benchmark: `python -m bench explorer --points 20000`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def run(names: list[str], options: list[str] | None = None) -> None:
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name} {' '.join(options or [])}".rstrip(), flush=True)
        start = time.perf_counter()
        module.main(list(options or []))
        print(f"--- bench.{name} took {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    split = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    wanted, options = args[:split] or available(), args[split:]
    unknown = sorted(set(wanted) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
    run(wanted, options)
