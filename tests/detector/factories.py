"""Detector test data written by the tests themselves: ring patterns, masks, PONI files (pyFAI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fabio.edfimage import EdfImage

from tests.html import by_id, one, parse, text_of

SHAPE = (128, 160)  # (height, width): not square, so swapped axes would show
PIXEL = 172e-6  # a Pilatus pixel, metres
DISTANCE = 0.12
WAVELENGTH = 1.0e-10  # 1 Å
RING_Q = 6.0  # nm^-1
CENTRE = (70.0, 75.0)  # (row, column) of the direct beam, pixels


def integrator(shape: tuple[int, int] = SHAPE):  # type: ignore[no-untyped-def]
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    detector = Detector(pixel1=PIXEL, pixel2=PIXEL, max_shape=shape)
    # the point of normal incidence at the centre of pixel (row, column)
    poni1, poni2 = (CENTRE[0] + 0.5) * PIXEL, (CENTRE[1] + 0.5) * PIXEL
    return AzimuthalIntegrator(
        dist=DISTANCE, poni1=poni1, poni2=poni2, detector=detector, wavelength=WAVELENGTH
    )


def write_poni(path: Path, shape: tuple[int, int] = SHAPE) -> Path:
    """A PONI file as pyFAI writes it (pyFAI-calib2 saves through the same call)."""
    integrator(shape).write(str(path))
    return path


def ring_pattern(shape: tuple[int, int] = SHAPE, q0: float = RING_Q, width: float = 0.08) -> np.ndarray:
    """Counts: a Gaussian ring at ``q0`` (nm^-1) over a flat background, as uint32."""
    q = integrator(shape).qArray(shape)
    counts = 20.0 + 2000.0 * np.exp(-((q - q0) ** 2) / (2 * width**2))
    return np.round(counts).astype(np.uint32)


def gap_mask(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A module gap (rows 60-63) and a dead corner: 1 where masked, as beamline masks are."""
    mask = np.zeros(shape, np.int8)
    mask[60:64, :] = 1
    mask[:10, :10] = 1
    return mask


def q_peak(html: str) -> float:
    """Where the item page's I(q) plot (``#plot-q``) says the intensity is highest, in nm⁻¹."""
    caption = text_of(one(by_id(parse(html), "plot-q"), ".//figcaption"))
    _, found, rest = caption.partition("highest at q = ")
    assert found, caption
    return float(rest.split()[0])


FRAME = (np.arange(48 * 64, dtype=np.int32).reshape(48, 64) * 7) % 1000


def write_edf(path: Path, frames: list[np.ndarray], headers: list[dict[str, str]]) -> None:
    image = EdfImage(data=frames[0], header=headers[0])
    for data, header in zip(frames[1:], headers[1:], strict=True):
        image.append_frame(data=data, header=header)
    image.write(str(path))


# two runs of two samples: exposures and times out of file order, to see the sorts work
RUNS = {
    "run1.edf": [
        ("1", "kapton", "0.5", "2024-01-01 10:00:03"),
        ("1", "kapton", "0.1", "2024-01-01 10:00:01"),
        ("1", "kapton", "2.0", "2024-01-01 10:00:02"),
        ("1", "kapton", "1.0", "2024-01-01 10:00:00"),
    ],
    "run2.edf": [
        ("2", "AgBh", "0.3", "2024-01-02 09:00:00"),
        ("2", "AgBh", "0.2", "2024-01-02 08:00:00"),
        ("2", "AgBh", "0.4", "2024-01-02 07:00:00"),
    ],
}


def write_runs(folder: Path) -> None:
    for name, frames in RUNS.items():
        headers = [{"scan_no": r, "SampleName": s, "ExposureTime": e, "Date": t} for r, s, e, t in frames]
        write_edf(folder / name, [FRAME + k for k in range(len(frames))], headers)
    np.save(folder / "plain.npy", np.zeros((16, 16)))  # an item without any metadata
