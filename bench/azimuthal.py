"""Azimuthal-integration features: how well they group the demo's classes, and what they cost.

On demo frames rendered in memory (``backend.demo``, ground truth known): precision@10 of cosine
neighbours over the standardised descriptors, against the same over the plain baseline of the
log-scaled pixels downsampled to 64x64 (what a generic image model starts from), both measured
in this run; the beam-centre error against the demo's true centre; milliseconds per frame of the
descriptor and of the baseline. ``python -m bench azimuthal --count 2000`` (default 1200).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from backend.demo import beam_centre, class_sequence, render_image
from workers.scattering import descriptor


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.azimuthal", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1200, help="demo frames")
    parser.add_argument("--size", type=int, default=256, help="pixels a side")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def pixels(frame: np.ndarray, side: int = 64) -> np.ndarray:
    """The baseline: log counts, block-averaged to ``side`` x ``side``, flattened."""
    factor = frame.shape[0] // side
    logs = np.log1p(frame.astype(np.float64))[: side * factor, : side * factor]
    return logs.reshape(side, factor, side, factor).mean(axis=(1, 3)).ravel()


def precision_at_10(vectors: np.ndarray, labels: np.ndarray) -> float:
    scaled = (vectors - vectors.mean(0)) / np.maximum(vectors.std(0), 1e-6)
    unit = scaled / np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :10]
    return float(np.mean(labels[nearest] == labels[:, None]))


def main(argv: list[str]) -> None:
    args = parse(argv)
    labels = np.asarray(class_sequence(args.count, args.seed))
    frames = [render_image(i, str(labels[i]), args.size, args.seed) for i in range(args.count)]
    start = time.perf_counter()
    described = [descriptor(frame) for frame in frames]
    per_frame = (time.perf_counter() - start) / args.count
    start = time.perf_counter()
    baseline = np.stack([pixels(frame) for frame in frames])
    baseline_per_frame = (time.perf_counter() - start) / args.count
    vectors = np.stack([v for v, _ in described])
    errors = np.asarray(
        [
            np.hypot(*np.subtract(c, beam_centre(i, args.size, args.seed)))
            for i, (_, c) in enumerate(described)
        ]
    )
    ours, plain = precision_at_10(vectors, labels), precision_at_10(baseline, labels)
    print(f"{args.count} demo frames of {args.size} px, {len(set(labels))} classes")
    print(f"precision@10  azimuthal {ours:.3f}  log pixels {plain:.3f}  ratio {ours / plain:.2f}x")
    print(
        f"beam centre error  median {np.median(errors):.2f} px  p90 {np.percentile(errors, 90):.2f} px  "
        f"max {errors.max():.1f} px"
    )
    print(
        f"per frame  azimuthal {per_frame * 1000:.1f} ms  log pixels {baseline_per_frame * 1000:.2f} ms  "
        f"(one core, in-memory frames)"
    )
