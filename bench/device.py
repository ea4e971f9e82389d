"""The PyTorch extractors' own jobs on an accelerator against the CPU: train and infer, same data.

Runs ``workers.algorithms.contrastive`` and ``workers.algorithms.autoencoder`` (their ``train``
and ``infer``, mixed precision and pinned loaders on CUDA) on generated 16-bit frames held in
memory, through a small stand-in for the job context (parameters, device, a reader, the files
they write), so it needs no database or server: what a machine with a GPU but without the
project's services can run. Prints seconds per train and infer on each device, the ratio to the
CPU measured in the same run, and that the vectors are finite and of the same shape::

    python -m bench device --count 3000 --epochs 5            # cuda (when present) and cpu
    python -m bench device --devices cpu --count 200          # the CPU alone

Measured on an NVIDIA H200 with 16 CPU cores beside it (stop 31, ``--count 3000 --epochs 5``,
PyTorch 2.11 with CUDA 13): contrastive train 5.0 s on CUDA against 11.7 s on those cores (2.0x
with inference), autoencoder 6.9 s against 6.6 s (0.99x: its small network waits on the loader).
Both wrote finite vectors of the same shape on either device.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np


def frames(count: int, size: int, seed: int) -> dict[int, np.ndarray]:
    """Rings, vertical streaks and spots over Poisson background, uint16, by item id."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    out = {}
    for i in range(count):
        if i % 3 == 0:
            motif = np.exp(-((radius - rng.uniform(size / 8, size * 3 / 8)) ** 2) / 4)
        elif i % 3 == 1:
            motif = np.exp(-((xx - rng.uniform(10, size - 10)) ** 2) / 6)
        else:
            cy, cx = rng.uniform(10, size - 10, 2)
            motif = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8)
        out[i + 1] = (1000 * motif + rng.poisson(20, (size, size))).astype(np.uint16)
    return out


class _Reader:
    def __init__(self, images: dict[int, np.ndarray]) -> None:
        self.images = images

    def read_masked(self, ref: Any, stride: int = 1) -> tuple[np.ndarray, None]:
        return self.images[ref.item_id][::stride, ::stride], None

    def read(self, ref: Any, stride: int = 1) -> np.ndarray:
        return self.images[ref.item_id][::stride, ::stride]


class _Context:
    """What the two jobs use of ``workers.context.JobContext``, and nothing more."""

    def __init__(
        self, refs: list, images: dict, params: dict, device: str, out: Path, model: Path | None
    ) -> None:
        self.params, self.device, self.artifact_dir, self.model_dir = params, device, out, model
        self.items, self.reader = refs, _Reader(images)
        self.options: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.settings = SimpleNamespace(cache_dir=out / "cache", artifact_dir=out)
        self.spec = SimpleNamespace(trained_on={})
        self.job_id = 0

    def log(self, message: str, level: str = "info") -> None:
        pass

    def metrics(self, epoch: int, values: dict) -> None:
        pass

    def progress(self, *args: Any, **kwargs: Any) -> None:
        pass

    def check_canceled(self) -> None:
        pass

    def write_vectors(self, ids: Any, vectors: Any) -> None:
        np.save(self.artifact_dir / "vectors.npy", np.asarray(vectors, np.float32))
        np.save(self.artifact_dir / "item_ids.npy", np.asarray(ids, np.int64))


def run_job(
    algorithm: str, params: dict, device: str, refs: list, images: dict
) -> tuple[float, float, np.ndarray]:
    """(train seconds, infer seconds, vectors) of one extractor on one device."""
    import importlib

    from backend.algorithms import validate_parameters

    module = importlib.import_module(f"workers.algorithms.{algorithm}")
    p = validate_parameters(algorithm, params)
    with tempfile.TemporaryDirectory(prefix="labelwise-bench-device-") as tmp:
        model, out = Path(tmp) / "model", Path(tmp) / "infer"
        model.mkdir()
        out.mkdir()
        start = time.perf_counter()
        module.train(_Context(refs, images, p, device, model, None))
        trained = time.perf_counter() - start
        start = time.perf_counter()
        module.infer(_Context(refs, images, p, device, out, model))
        return trained, time.perf_counter() - start, np.load(out / "vectors.npy")


def main(argv: list[str]) -> None:
    import torch

    from backend.datasets.refs import ItemRef, SourceRef

    parser = argparse.ArgumentParser(prog="python -m bench device", description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="", help="comma-separated (default: cuda if present, then cpu)")
    parser.add_argument("--count", type=int, default=600, help="generated frames")
    parser.add_argument("--size", type=int, default=64, help="pixels a side of the frames")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    devices = [d for d in args.devices.split(",") if d] or (
        ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    )
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch {torch.__version__}, CUDA {torch.cuda.is_available()} ({name}); {args.count} frames")
    images = frames(args.count, args.size, 0)
    source = SourceRef(1, "folder", "generated")
    refs = [ItemRef(i, source, f"{i}.tif", 0, args.size, args.size, "uint16") for i in images]
    runs = {
        "contrastive": {"epochs": args.epochs, "image_size": 32},
        "autoencoder": {"epochs": args.epochs, "image_height": 32, "image_width": 32},
    }
    for algorithm, params in runs.items():
        cpu: float | None = None
        for device in sorted(devices, key=lambda d: d != "cpu"):  # the CPU first: the baseline
            trained, inferred, vectors = run_job(algorithm, params, device, refs, images)
            cpu = trained + inferred if device == "cpu" else cpu
            ratio = f"  {cpu / (trained + inferred):5.2f}x the CPU" if cpu and device != "cpu" else ""
            print(
                f"  {algorithm:<12} {device:<5} train {trained:7.1f} s  infer {inferred:6.2f} s  "
                f"vectors {vectors.shape}, finite {bool(np.isfinite(vectors).all())}{ratio}",
                flush=True,
            )
