"""A seeded synthetic X-ray scattering data set for trying Labelwise without data of one's own.

Each image is a 16-bit TIFF of a small-angle scattering detector: a power-law diffuse background
around a jittered beam centre, Poisson counting noise, a beam stop with its arm, fixed detector
module gaps and, on some frames, a few hot pixels. On top sits the class's motif:

- ``empty``: background only;
- ``rings``: isotropic Debye-Scherrer rings (powder);
- ``arcs``: rings concentrated in two opposite arcs (textured / oriented samples);
- ``peaks``: Bragg spots (single crystal);
- ``streaks``: diffuse rods through the beam centre;
- ``mixed``: two or three of the four motifs at once.

Labels are single-label: every image holds exactly one class, and a combination of motifs is the
``mixed`` class rather than several labels, so the classifier, the accuracy figures and the
import of the ground truth all work on a plain single-label dataset. Motif strength, width,
count and exposure vary per image, so some patterns sit close to the noise: learnable, not trivial.

The ground truth (``path,label``) is written beside the image folder, never inside it: the app
does not see it unless a user imports it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from backend.settings import Settings
    from backend.storage.tables import Dataset

Progress = Callable[[int, int], None]

DEMO_NAME = "xray-demo"
# (name, color, hotkey). Digits: the label page keeps a, n, p, z, ? for itself.
DEMO_CLASSES: list[tuple[str, str, str]] = [
    ("empty", "#7f7f7f", "1"),
    ("rings", "#1f77b4", "2"),
    ("arcs", "#ff7f0e", "3"),
    ("peaks", "#2ca02c", "4"),
    ("streaks", "#d62728", "5"),
    ("mixed", "#9467bd", "6"),
]
MOTIFS = ("rings", "arcs", "peaks", "streaks")
GENERATOR_VERSION = 1
PARALLEL_THRESHOLD = 200  # below this a process pool costs more than it saves
CHUNK = 100


def image_name(index: int) -> str:
    """File names say nothing about the class."""
    return f"scan_{index:05d}.tif"


def class_sequence(count: int, seed: int) -> list[str]:
    """Balanced classes in a seeded random order."""
    names = [name for name, _, _ in DEMO_CLASSES]
    order = np.random.default_rng([seed, 0xC1A55]).permutation(count)
    return [names[int(i) % len(names)] for i in order]


# --- rendering ------------------------------------------------------------------------------------


def _detector_mask(size: int) -> np.ndarray:
    """True on the module gaps of a tiled pixel detector (they do not move between frames)."""
    gap = max(1, round(size * 0.027))
    mask = np.zeros((size, size), dtype=bool)
    for row in (round(size * 0.32), round(size * 0.65)):
        mask[row : row + gap, :] = True
    col = round(size * 0.49)
    mask[:, col : col + gap] = True
    return mask


def _ring(r: np.ndarray, radius: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((r - radius) / width) ** 2)


def _draw_rings(rng: np.random.Generator, r: np.ndarray, size: int, scale: float) -> np.ndarray:
    out = np.zeros_like(r)
    for _ in range(int(rng.integers(1, 4))):
        radius = size * rng.uniform(0.12, 0.45)
        out += rng.uniform(3.0, 30.0) * scale * _ring(r, radius, size * rng.uniform(0.004, 0.012))
    return out


def _draw_arcs(
    rng: np.random.Generator, r: np.ndarray, dy: np.ndarray, dx: np.ndarray, size: int, scale: float
) -> np.ndarray:
    out = np.zeros_like(r)
    phi = np.arctan2(dy, dx)
    orientation = rng.uniform(0, np.pi)  # arcs of one sample share its orientation
    for _ in range(int(rng.integers(1, 3))):
        radius = size * rng.uniform(0.12, 0.45)
        kappa = rng.uniform(2.0, 8.0)
        azimuthal = np.exp(kappa * (np.cos(2 * (phi - orientation)) - 1.0))
        width = size * rng.uniform(0.005, 0.014)
        out += rng.uniform(8.0, 50.0) * scale * _ring(r, radius, width) * azimuthal
    return out


def _draw_peaks(rng: np.random.Generator, cy: float, cx: float, size: int, scale: float) -> np.ndarray:
    out = np.zeros((size, size), dtype=np.float64)
    for _ in range(int(rng.integers(4, 16))):
        radius = size * rng.uniform(0.1, 0.47)
        angle = rng.uniform(0, 2 * np.pi)
        py, px = cy + radius * np.sin(angle), cx + radius * np.cos(angle)
        sigma = rng.uniform(0.6, 1.6)
        half = int(np.ceil(4 * sigma))
        y0, y1 = max(0, int(py) - half), min(size, int(py) + half + 2)
        x0, x1 = max(0, int(px) - half), min(size, int(px) + half + 2)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        spot = np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * sigma**2))
        out[y0:y1, x0:x1] += rng.uniform(25.0, 300.0) * scale * spot
    return out


def _draw_streaks(
    rng: np.random.Generator, dy: np.ndarray, dx: np.ndarray, size: int, scale: float
) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(dy.shape, dx.shape), dtype=np.float64)
    for _ in range(int(rng.integers(1, 3))):
        theta = rng.uniform(0, np.pi)
        across = np.abs(dx * np.sin(theta) - dy * np.cos(theta))
        along = np.abs(dx * np.cos(theta) + dy * np.sin(theta))
        width = rng.uniform(0.8, 2.2) * size / 256
        length = size * rng.uniform(0.1, 0.3)
        out += rng.uniform(10.0, 60.0) * scale * np.exp(-0.5 * (across / width) ** 2 - along / length)
    return out


def _beam_centre(rng: np.random.Generator, size: int) -> tuple[float, float]:
    return size * (0.5 + rng.uniform(-0.06, 0.06)), size * (0.5 + rng.uniform(-0.06, 0.06))


def beam_centre(index: int, size: int = 256, seed: int = 0) -> tuple[float, float]:
    """(row, column) of the beam on frame ``index``: the answer that centre finding should give."""
    return _beam_centre(np.random.default_rng([seed, index]), size)


def render_image(index: int, label: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """One detector frame (uint16) of class ``label``; the same (seed, index) always gives it."""
    rng = np.random.default_rng([seed, index])
    cy, cx = _beam_centre(rng, size)
    y, x = np.ogrid[:size, :size]
    dy, dx = y - cy, x - cx
    r = np.hypot(dy, dx)

    core = size * rng.uniform(0.03, 0.08)
    background = rng.uniform(30, 120) / (1 + (r / core) ** 2) ** rng.uniform(0.8, 1.4) + rng.uniform(1, 4)
    if label == "mixed":
        motifs = list(rng.choice(MOTIFS, size=int(rng.integers(2, 4)), replace=False))
    elif label == "empty":
        motifs = []
    else:
        motifs = [label]
    signal = np.zeros((size, size), dtype=np.float64)
    for motif in motifs:
        scale = rng.uniform(0.6, 1.0) if label == "mixed" else 1.0
        if motif == "rings":
            signal += _draw_rings(rng, r, size, scale)
        elif motif == "arcs":
            signal += _draw_arcs(rng, r, dy, dx, size, scale)
        elif motif == "peaks":
            signal += _draw_peaks(rng, cy, cx, size, scale)
        else:
            signal += _draw_streaks(rng, dy, dx, size, scale)

    expected = (background + signal) * 10 ** rng.uniform(-0.2, 0.4)  # exposure time
    # Beam stop: a round shadow on the beam and the arm that holds it, down to the edge.
    stop = (r < size * rng.uniform(0.03, 0.05)) | ((np.abs(dx) < size * 0.012) & (dy > 0))
    expected = np.where(stop, expected * 0.02, expected)
    counts = rng.poisson(expected)
    if rng.random() < 0.3:  # hot pixels: a few, anywhere, on any class
        hot = rng.integers(0, size, (int(rng.integers(1, 4)), 2))
        counts[hot[:, 0], hot[:, 1]] = rng.integers(1000, 4000, len(hot))
    counts[_detector_mask(size)] = 0
    return np.clip(counts, 0, 65535).astype(np.uint16)


def _write_chunk(args: tuple[str, Sequence[tuple[int, str]], int, int]) -> int:
    import tifffile

    folder, jobs, size, seed = args
    for index, label in jobs:
        tifffile.imwrite(Path(folder) / image_name(index), render_image(index, label, size, seed))
    return len(jobs)


def generate_demo(
    folder: Path,
    count: int,
    size: int = 256,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    ground_truth: Path | None = None,
) -> Path:
    """Write ``count`` images into ``folder`` and the ground truth beside it; return the CSV path.

    The CSV (``path,label``, paths relative to ``folder``) goes to ``ground_truth`` or, by default,
    ``folder.parent / "ground_truth.csv"``, outside the folder so that a scan never sees it.
    Big runs use every core (at most 8); the output depends on ``seed`` alone.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if size < 32:
        raise ValueError("size must be at least 32 pixels")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth = Path(ground_truth) if ground_truth else folder.parent / "ground_truth.csv"
    if truth.resolve().is_relative_to(folder.resolve()):
        raise ValueError("the ground truth must lie outside the image folder")
    labels = class_sequence(count, seed)
    jobs = list(enumerate(labels))
    chunks = [(str(folder), jobs[start : start + CHUNK], size, seed) for start in range(0, count, CHUNK)]
    done = 0
    if progress:
        progress(0, count)
    if count < PARALLEL_THRESHOLD:
        for chunk in chunks:
            done += _write_chunk(chunk)
            if progress:
                progress(done, count)
    else:
        workers = max(1, min(os.cpu_count() or 1, 8))
        # spawn: callers may hold threads (an event loop, a progress bar) that fork would copy badly
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for written in pool.map(_write_chunk, chunks):
                done += written
                if progress:
                    progress(done, count)
    truth.parent.mkdir(parents=True, exist_ok=True)
    tmp = truth.with_name(truth.name + ".part")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows((image_name(i), label) for i, label in jobs)
    tmp.replace(truth)
    return truth


def read_ground_truth(csv_path: Path) -> dict[str, str]:
    """``{relative path: label}`` from a ground-truth CSV."""
    with Path(csv_path).open(newline="") as handle:
        return {row["path"]: row["label"] for row in csv.DictReader(handle)}


# --- installing -----------------------------------------------------------------------------------


def _stamp(count: int, size: int, seed: int) -> dict[str, Any]:
    return {"count": count, "size": size, "seed": seed, "version": GENERATOR_VERSION}


def demo_paths(settings: Settings) -> tuple[Path, Path, Path]:
    """(image folder, ground-truth CSV, stamp file) under the settings' demo directory."""
    root = settings.demo_dir
    return root / "images", root / "ground_truth.csv", root / "demo.json"


def ensure_demo_files(
    settings: Settings, count: int, *, size: int = 256, seed: int = 0, progress: Progress | None = None
) -> Path:
    """Generate the demo images unless a finished run with the same parameters is on disk."""
    images, truth, stamp = demo_paths(settings)
    wanted = _stamp(count, size, seed)
    if stamp.exists() and truth.exists():
        try:
            if json.loads(stamp.read_text()) == wanted:
                return truth
        except ValueError:
            pass  # a damaged stamp: make the files again
    stamp.unlink(missing_ok=True)
    if images.exists():
        for old in images.glob("scan_*.tif"):
            old.unlink()
    generate_demo(images, count, size, seed, progress, ground_truth=truth)
    stamp.write_text(json.dumps(wanted))  # written last: a run cut short is never reused
    return truth


async def install_demo(
    session: AsyncSession,
    settings: Settings,
    count: int = 2000,
    progress: Progress | None = None,
    *,
    size: int = 256,
    seed: int = 0,
) -> Dataset:
    """The demo dataset with its classes; made once, returned as it is on later runs."""
    import asyncio

    from backend.datasets import service
    from backend.errors import NotFound
    from backend.labels.classes import create_class, list_classes

    try:
        return await service.get_dataset_by_name(session, DEMO_NAME)
    except NotFound:
        pass
    settings.demo_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(ensure_demo_files, settings, count, size=size, seed=seed, progress=progress)
    images, _, _ = demo_paths(settings)
    dataset, _ = await service.create_dataset(session, settings, DEMO_NAME, [str(images)], progress=progress)
    assert dataset.id is not None
    existing = {c.name for c in await list_classes(session, dataset.id)}
    for name, color, hotkey in DEMO_CLASSES:
        if name not in existing:
            await create_class(session, dataset.id, name, color, hotkey)
    return dataset
