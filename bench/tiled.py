"""Thumbnails from a real Tiled server: strided slices vs full-array reads vs local files, 1024x1024.

Starts ``tiled serve directory`` on 127.0.0.1 over N float32 frames (synthetic scattering patterns,
one ``.npy`` each), then renders every frame's thumbnail three ways through ``ThumbnailCache`` (a
fresh cache each time, so every thumbnail is really read and rendered):

- Tiled, strided: what the gallery does (``remote`` sources read every stride-th pixel);
- Tiled, full read: the whole frame crosses the network, then is reduced here (the baseline);
- local files: the same ``.npy`` files through the folder source.

Prints thumbnails per second and bytes received per thumbnail; target: strided moves at least 8x
fewer bytes per thumbnail than a full read.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from backend.images.thumbnails import ThumbnailCache
from backend.images.transforms import DisplayTransform
from backend.sources.folder import FolderSource
from backend.sources.tiled import TiledSource

KEY = "benchkey0123456789"
SIDE = 1024


def _pattern(seed: int) -> np.ndarray:
    """A ring pattern with Poisson noise, like a small-angle scattering frame."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIDE, :SIDE].astype(np.float32)
    r = np.hypot(x - SIDE / 2 + rng.normal(0, 20), y - SIDE / 2 + rng.normal(0, 20))
    rings = 1000.0 * np.exp(-r / 150.0) * (1.0 + np.cos(r / rng.uniform(8, 20)) ** 2)
    return rng.poisson(rings + 5.0).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(directory: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [sys.executable, "-m", "tiled", "serve", "directory", str(directory), "--host", "127.0.0.1",
               "--port", str(port), "--api-key", KEY]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        if "Indexing complete" in log.read_text():
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/", timeout=2).status_code == 200:
                    return process, port
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("tiled serve did not come up")


class _FullRead:
    """The Tiled source read without striding: what a client that fetches whole arrays would do."""

    def __init__(self, source: TiledSource) -> None:
        self.source = source

    def read(self, uri: str, frame: int = 0, *, stride: int = 1) -> np.ndarray:
        return self.source.read(uri, frame, stride=1)


def _thumbnails(source, names: list[str], size: int, cache_dir: Path, threads: int = 1) -> float:
    """Seconds to render every thumbnail; ``threads`` > 1 as a browser loading a gallery page does."""
    cache = ThumbnailCache(cache_dir)
    transform = DisplayTransform(log=True)

    def one(i: int) -> bytes:
        return cache.render(source, i, names[i], 0, transform, size, (SIDE, SIDE))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(len(names))))
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench tiled")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256, help="thumbnail size (longer side)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelwise-bench-tiled-") as tmp:
        root = Path(tmp)
        data = root / "frames"
        data.mkdir()
        # Not ending in a number: Tiled would group numbered files into one stack.
        names = [f"frame_{i:03d}_r" for i in range(args.frames)]
        for i, name in enumerate(names):
            np.save(data / f"{name}.npy", _pattern(i))
        process, port = _serve(data, root / "tiled.log")
        try:
            uri = f"tiled+http://127.0.0.1:{port}"
            strided = TiledSource(uri, KEY, 10**8)
            full = TiledSource(uri, KEY, 10**8)
            for source in (strided, full):  # structures fetched once, as a long-lived app does
                source.read(names[0], stride=SIDE)
            strided_start, full_start = strided.bytes_received, full.bytes_received
            t_strided = _thumbnails(strided, names, args.size, root / "c1")
            b_strided = (strided.bytes_received - strided_start) / args.frames
            t_full = _thumbnails(_FullRead(full), names, args.size, root / "c2")
            t_parallel = _thumbnails(strided, names, args.size, root / "c4", threads=4)
            local = FolderSource(data, [data], 10**8)
            t_local = _thumbnails(local, [f"{n}.npy" for n in names], args.size, root / "c3")
            b_full = (full.bytes_received - full_start) / args.frames
        finally:
            process.terminate()
            process.wait(15)
    n = args.frames
    raw = SIDE * SIDE * 4
    rows = [
        ("tiled, strided slice (gallery)", n / t_strided, f"{b_strided / 1e3:.1f}"),
        ("tiled, full-array read (baseline)", n / t_full, f"{b_full / 1e3:.1f}"),
        ("tiled, strided, 4 requests at once", n / t_parallel, "same"),
        ("local .npy files", n / t_local, "0 (disk)"),
    ]
    print(f"{n} frames of {SIDE}x{SIDE} float32 ({raw / 1e6:.1f} MB each), thumbnails of {args.size} px")
    for name, rate, kilobytes in rows:
        print(f"{name:<36} {rate:>8.1f} thumbs/s {kilobytes:>10} kB/thumb received")
    ratio = b_full / max(b_strided, 1)
    verdict = "OK" if ratio >= 8 else "MISSED"
    print(f"bytes per thumbnail, full / strided: {ratio:.1f}x   target >= 8x  {verdict}")
    print(f"speed: strided / full read {t_full / t_strided:.1f}x; strided / local {t_local / t_strided:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
