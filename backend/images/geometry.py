"""Detector geometry from a PONI file (as pyFAI-calib2 writes it): I(q), I(chi) and polar cells in q.

``pyFAI`` is imported only here, and only when a source has a PONI file (it costs a second and a
half to import). Frames read strided (every s-th pixel) get an integrator of the same geometry
whose pixels are s times larger, with the point of normal incidence moved by the half pixel that
striding shifts, so q is right at any stride. Masked pixels are given a dummy value that pyFAI
leaves out, rather than a mask: a mask that changes from frame to frame (derived rules) would make
pyFAI rebuild its lookup table each time, a dummy value does not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import Invalid, Unreadable

UNIT = "q_nm^-1"
UNIT_LABEL = "q (nm⁻¹)"
DUMMY = -1.0e9
_CACHED = 16
_integrators: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Profiles:
    """I(q) (q in nm^-1) and I(chi) (chi in degrees) of one frame; empty bins are NaN. I(chi) is
    taken over ``chi_band`` (q from, to): the strongest peak of I(q) above its baseline, where
    arcs and spots of a ring show, rather than over all q (which mixes in how far the frame
    reaches in each direction)."""

    q: np.ndarray
    intensity_q: np.ndarray
    chi: np.ndarray
    intensity_chi: np.ndarray
    chi_band: tuple[float, float]


CHI_BAND = 0.03  # half-width of the q band of I(chi), as a share of the q range


def _remember(key: tuple[Any, ...], make: Any) -> Any:
    with _lock:
        if key in _integrators:
            _integrators.move_to_end(key)
            return _integrators[key]
    made = make()
    with _lock:
        _integrators[key] = made
        while len(_integrators) > _CACHED:
            _integrators.popitem(last=False)
    return made


def load_poni(path: Path) -> Any:
    """The integrator a PONI file describes (kept while the file is unchanged)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise Unreadable(f"PONI file '{path.name}' cannot be read ({exc.strerror or exc})") from exc

    def make() -> Any:
        import pyFAI

        try:
            integrator = pyFAI.load(str(path))
        except Exception as exc:  # pyFAI raises many kinds (KeyError, RuntimeError, ...) for bad files
            raise Unreadable(f"cannot read PONI file {path.name}: {exc}") from exc
        if not integrator.wavelength:
            raise Unreadable(f"PONI file {path.name} gives no wavelength: q cannot be computed")
        return integrator

    return _remember(("poni", str(path), stat.st_mtime_ns, stat.st_size), make)


def detector_shape(integrator: Any) -> tuple[int, int] | None:
    """(height, width) of the detector the PONI file names, None where it does not say."""
    shape = getattr(integrator.detector, "max_shape", None)
    return (int(shape[0]), int(shape[1])) if shape else None


def check_fits(integrator: Any, height: int | None, width: int | None, name: str) -> None:
    """Refuse a PONI file made for a detector of another size than the frames."""
    shape = detector_shape(integrator)
    if shape is not None and height and width and shape != (height, width):
        raise Invalid(
            f"PONI file {name} is for a {shape[1]}x{shape[0]} pixel detector; "
            f"the frames are {width}x{height} pixels"
        )


def strided(integrator: Any, stride: int, shape: tuple[int, int]) -> Any:
    """An integrator of the same geometry for a frame read every ``stride``-th pixel (``shape``)."""
    if stride <= 1 and detector_shape(integrator) in (None, shape):
        return integrator

    def make() -> Any:
        from pyFAI.detectors import Detector
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        det = integrator.detector
        p1, p2 = det.pixel1, det.pixel2
        detector = Detector(
            pixel1=p1 * stride,
            pixel2=p2 * stride,
            max_shape=shape,
            orientation=getattr(det, "orientation", 3) or 3,
        )
        shift = (stride - 1) / 2  # pixel i of the read frame is pixel s*i of the detector
        return AzimuthalIntegrator(
            dist=integrator.dist,
            poni1=integrator.poni1 + shift * p1,
            poni2=integrator.poni2 + shift * p2,
            rot1=integrator.rot1,
            rot2=integrator.rot2,
            rot3=integrator.rot3,
            detector=detector,
            wavelength=integrator.wavelength,
        )

    det = integrator.detector
    rotations = (integrator.rot1, integrator.rot2, integrator.rot3)
    pixels = (det.pixel1, det.pixel2)
    same = (integrator.dist, integrator.poni1, integrator.poni2, *rotations, integrator.wavelength, *pixels)
    return _remember(("strided", same, stride, shape), make)


def _with_dummies(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    plane = image.mean(axis=-1) if image.ndim == 3 else image
    data = np.array(plane, dtype=np.float32)
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= mask
    data[bad] = DUMMY
    return data


def profiles(image: np.ndarray, mask: np.ndarray | None, integrator: Any, points: int = 400) -> Profiles:
    """I(q) and I(chi) of a frame (its mask left out), for the item view's plots."""
    data = _with_dummies(image, mask)
    common = {"dummy": DUMMY, "delta_dummy": 0.5, "unit": UNIT, "method": ("bbox", "csr", "cython")}
    radial = integrator.integrate1d(data, points, **common)
    cake = integrator.integrate2d(data, 100, 360, **common)
    signal = np.asarray(cake.sum_signal, np.float64)
    norm = np.asarray(cake.sum_normalization, np.float64)
    if signal.ndim == 3:  # (azimuth, radius, 1) in some pyFAI versions
        signal, norm = signal[..., 0], norm[..., 0]
    q = np.asarray(radial.radial, np.float64)
    by_q = np.where(np.asarray(radial.count) > 0, radial.intensity, np.nan).astype(np.float64)
    band = _peak_band(q, by_q)
    inside = (np.asarray(cake.radial) >= band[0]) & (np.asarray(cake.radial) <= band[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        summed = norm[:, inside].sum(axis=1)
        by_chi = np.where(summed > 0, signal[:, inside].sum(axis=1) / summed, np.nan)
    return Profiles(
        q=q,
        intensity_q=by_q,
        chi=np.asarray(cake.azimuthal, np.float64),
        intensity_chi=by_chi,
        chi_band=band,
    )


def _peak_band(q: np.ndarray, intensity: np.ndarray) -> tuple[float, float]:
    """The q band around I(q)'s strongest excess over a running minimum (the diffuse background),
    so the direct beam's falling slope is not taken for a ring."""
    from scipy import ndimage

    finite = np.isfinite(intensity)
    if not finite.any():
        return float(q[0]), float(q[-1])
    filled = np.where(finite, intensity, np.nanmin(intensity))
    baseline = ndimage.minimum_filter1d(filled, size=max(3, len(q) // 8), mode="nearest")
    centre = float(q[int(np.argmax(filled - baseline))])
    half = CHI_BAND * float(q[-1] - q[0])
    return centre - half, centre + half


def beam_centre(integrator: Any) -> tuple[float, float]:
    """(row, column) in pixels of the frame where the direct beam meets the detector, counted from
    the centre of the first pixel (pyFAI's Fit2D centre counts from its corner)."""
    fit = integrator.getFit2D()
    return float(fit["centerY"]) - 0.5, float(fit["centerX"]) - 0.5


def polar_cells_q(
    image: np.ndarray, valid: np.ndarray, integrator: Any, radial_bins: int, angular_bins: int
) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
    """(mean counts, pixel counts) per (q, azimuth) cell, the outer radius in pixels and the beam
    centre: ``workers.scattering.polar_cells`` in q. The cells span q from 0 to the q of the largest
    circle about the beam that the frame holds whole (half its smaller side, as without geometry).
    """
    h, w = image.shape
    centre = beam_centre(integrator)
    r_max = 0.5 * min(h, w)
    q = integrator.array_from_unit(shape=(h, w), typ="center", unit=UNIT, scale=True)
    row, column = round(centre[0]), round(centre[1])
    reach = [(row + dr, column + dc) for dr, dc in ((r_max, 0), (-r_max, 0), (0, r_max), (0, -r_max))]
    inside = [q[int(r), int(c)] for r, c in reach if 0 <= r < h and 0 <= c < w]
    q_max = float(min(inside)) if inside else float(np.nanmax(q))
    data = np.where(valid, image, DUMMY).astype(np.float32)
    cake = integrator.integrate2d(
        data,
        radial_bins,
        angular_bins,
        unit=UNIT,
        radial_range=(0.0, q_max),
        dummy=DUMMY,
        delta_dummy=0.5,
        correctSolidAngle=False,
        method=("no", "csr", "cython"),
    )
    counts = np.asarray(cake.count, np.float64).T
    if counts.ndim == 3:
        counts = counts[..., 0]
    means = np.where(counts > 0, np.asarray(cake.intensity, np.float64).T, np.nan)
    return means, counts, r_max, centre
