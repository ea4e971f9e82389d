"""q-space with pyFAI: azimuthal descriptors per second with and without a PONI geometry, and the
item view's I(q) + I(chi).

On demo frames rendered in memory (``backend.demo``): the descriptor as the feature extractor runs
it without geometry (beam centre found in each frame from the pattern's symmetry, then polar cells
in pixels) and with a PONI file written by pyFAI (cells in q from ``pyFAI`` integrate2d, the
calibration's centre), both on one core, after one warm-up frame each (pyFAI builds its lookup
table once per geometry and frame shape). ``python -m bench qspace --count 200 --size 512``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from backend.demo import class_sequence, render_image
from backend.images import geometry
from workers.scattering import Geometry, descriptor


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.qspace", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=120, help="demo frames")
    parser.add_argument("--size", type=int, default=512, help="pixels a side (the extractor reads 512)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def write_poni(folder: Path, size: int) -> Path:
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    pixel = 172e-6
    centre = (size - 1) / 2 + 0.5
    integrator = AzimuthalIntegrator(
        dist=1.5,
        poni1=centre * pixel,
        poni2=centre * pixel,
        detector=Detector(pixel1=pixel, pixel2=pixel, max_shape=(size, size)),
        wavelength=1.0e-10,
    )
    path = folder / "bench.poni"
    integrator.write(str(path))
    return path


def per_second(frames: list[np.ndarray], work) -> float:  # type: ignore[no-untyped-def]
    work(frames[0])  # warm-up: imports, pyFAI's lookup table
    start = time.perf_counter()
    for frame in frames:
        work(frame)
    return len(frames) / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    args = parse(argv)
    labels = class_sequence(args.count, args.seed)
    frames = [render_image(i, labels[i], args.size, args.seed).astype(np.float32) for i in range(args.count)]
    shape = Geometry()
    with tempfile.TemporaryDirectory() as folder:
        integrator = geometry.load_poni(write_poni(Path(folder), args.size))

        def polar(image, valid, g):  # type: ignore[no-untyped-def]
            return geometry.polar_cells_q(image, valid, integrator, g.radial_bins, g.angular_bins)

        own = per_second(frames, partial(descriptor, geometry=shape))
        with_pyfai = per_second(frames, partial(descriptor, geometry=shape, polar=polar))
        profiles = per_second(frames, lambda frame: geometry.profiles(frame, None, integrator))
    print(f"{args.count} demo frames of {args.size} px, one core, in memory")
    print(
        f"azimuthal descriptors  own centre finding {own:.1f}/s ({1000 / own:.1f} ms)  "
        f"pyFAI in q with a PONI {with_pyfai:.1f}/s ({1000 / with_pyfai:.1f} ms)  "
        f"ratio {with_pyfai / own:.2f}x"
    )
    print(f"item view I(q) + I(chi) (pyFAI)  {profiles:.1f}/s ({1000 / profiles:.1f} ms a frame)")
