"""Detector formats: thumbnails per second for the same frames stored as EDF, CBF, bitshuffle/LZ4
HDF5 and TIFF, at 1024 and 2048 pixels a side.

The frames are the demo's (``backend.demo``: rings and peaks with Poisson noise, uint16, stored
as int32 as Pilatus and Eiger detectors write them), written once per format into a temporary
folder: EDF and CBF one file per frame (CBF compressed with its byte-offset scheme), HDF5 one
stack with a chunk per frame, TIFF one uncompressed file per frame. Each thumbnail is rendered as
the pages do (``ThumbnailCache.render`` without the cache: strided read, log display, PNG), and
the scan (header probe) rate is measured too. ``python -m bench detector_formats --count 12``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.demo import class_sequence, render_image
from backend.images.thumbnails import render_png, view_stride
from backend.images.transforms import DisplayTransform
from backend.sources.folder import FolderSource

FORMATS = ("edf", "cbf", "hdf5-bitshuffle", "tiff")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.detector_formats", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--count", type=int, default=12, help="frames per format and size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048], help="pixels a side")
    parser.add_argument("--thumb", type=int, default=128, help="thumbnail size")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported (shared CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def write_frames(folder: Path, frames: list[np.ndarray]) -> dict[str, list[tuple[str, int]]]:
    """The frames in each format; returns (uri, frame) of every item per format."""
    import h5py
    import hdf5plugin
    import tifffile
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage

    items: dict[str, list[tuple[str, int]]] = {f: [] for f in FORMATS}
    for index, frame in enumerate(frames):
        EdfImage(data=frame, header={"ExposureTime": "0.1"}).write(str(folder / f"f{index:04d}.edf"))
        CbfImage(data=frame).write(str(folder / f"f{index:04d}.cbf"))
        tifffile.imwrite(folder / f"f{index:04d}.tif", frame, photometric="minisblack")
        items["edf"].append((f"f{index:04d}.edf", 0))
        items["cbf"].append((f"f{index:04d}.cbf", 0))
        items["tiff"].append((f"f{index:04d}.tif", 0))
    stack = np.stack(frames)
    with h5py.File(folder / "stack.h5", "w") as handle:
        handle.create_dataset(
            "entry/data/data", data=stack, chunks=(1, *stack.shape[1:]), **hdf5plugin.Bitshuffle(cname="lz4")
        )
    items["hdf5-bitshuffle"] = [("stack.h5", i) for i in range(len(frames))]
    return items


def thumbnails_per_second(
    source: FolderSource, items: list[tuple[str, int]], side: int, thumb: int, repeat: int
) -> float:
    transform = DisplayTransform(log=True)
    stride = max(view_stride(side, side, 25_000_000), side // (2 * thumb))  # as ThumbnailCache.render
    source.read(*items[0], stride=stride)  # warm: imports and the first open are not per frame
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for uri, frame in items:
            png = render_png(source.read(uri, frame, stride=stride), transform, thumb, owned=True)
            assert png.startswith(b"\x89PNG")
        best = max(best, len(items) / (time.perf_counter() - start))
    return best


def probes_per_second(source: FolderSource, items: list[tuple[str, int]], repeat: int) -> float:
    uris = sorted({uri for uri, _ in items})
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        found = sum(len(source.probe(uri)) for uri in uris)
        assert found == len(items)
        best = max(best, len(items) / (time.perf_counter() - start))
    return best


def main(argv: list[str]) -> None:
    args = parse(argv)
    labels = class_sequence(args.count, args.seed)
    print(
        f"{args.count} demo frames per format, log display, {args.thumb} px thumbnails; "
        f"per second, best of {args.repeat}"
    )
    print(f"{'side':>6} {'format':<16} {'thumbs/s':>9} {'probe/s':>9} {'MB on disk':>11}")
    for side in args.sizes:
        frames = [render_image(i, labels[i], side, args.seed).astype(np.int32) for i in range(args.count)]
        with tempfile.TemporaryDirectory(prefix="labelwise-bench-detector-") as tmp:
            folder = Path(tmp)
            items = write_frames(folder, frames)
            source = FolderSource(folder, [folder.resolve()], max_pixels=100_000_000)
            sizes = {
                "edf": sum(p.stat().st_size for p in folder.glob("*.edf")),
                "cbf": sum(p.stat().st_size for p in folder.glob("*.cbf")),
                "hdf5-bitshuffle": (folder / "stack.h5").stat().st_size,
                "tiff": sum(p.stat().st_size for p in folder.glob("*.tif")),
            }
            for name in FORMATS:
                thumbs = thumbnails_per_second(source, items[name], side, args.thumb, args.repeat)
                probes = probes_per_second(source, items[name], args.repeat)
                print(
                    f"{side:>6} {name:<16} {thumbs:>9.1f} {probes:>9.0f} {sizes[name] / 1e6:>11.1f}",
                    flush=True,
                )
