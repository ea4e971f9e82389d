"""Azimuthal-integration descriptors of scattering patterns: what a beamline scientist looks at.

A 2-D scattering pattern is read around its beam centre: intensity against the radius (rings are
peaks of the radial profile), and against the azimuth at each radius (oriented samples give arcs,
crystals give spots, rods give narrow streaks). ``descriptor`` turns one detector frame into a fixed
vector of such quantities, all in units of the Poisson noise and independent of where a ring lies,
how the pattern is rotated and how long the frame was exposed. A generic image network must learn
all this from labels; this needs none, so similar patterns are neighbours from the first click.

Steps (numpy and scipy only; with a PONI geometry, step 3 is pyFAI's integration in q and step 2
is the calibration's beam centre):

1. Valid pixels: counts > 0 (module gaps and masked pixels read 0), hot pixels (far above their 3x3
   median) left out.
2. Beam centre: the point of symmetry of the pattern (Friedel symmetry: I(q) = I(-q)), found as the
   peak of the self-convolution of the log image, normalised by the overlap of the valid masks, then
   refined by a few Gauss-Newton steps that make the diffuse scattering round; or given by the user.
3. Polar cells: the valid pixels are summed into ``radial_bins x angular_bins`` cells around the
   centre; cells much darker than their radius (beam stop and its arm) are dropped.
4. Background: a running median of the radial profile over radius (wide against ring widths).
5. Features in noise units (z): the isotropic excess per radius (rings), the azimuthal harmonics of
   the anisotropic excess (m = 2 for arcs and rods, odd m for spots), counts of strong cells and of
   compact pixel spots, the azimuthal profile near the beam (streaks), pooled over three radial bands.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DESCRIPTOR_VERSION = 2
HARMONICS = 16  # azimuthal harmonics kept per radial band (m = 1..16)
CELL_THRESHOLDS = (3.0, 6.0, 12.0, 24.0)  # z of the anisotropic cells counted per band
CENTRE_WINDOW = 0.2  # an automatic centre lies within this fraction of the size from the middle
HOT_FACTOR, HOT_FLOOR = 8.0, 50.0  # hot pixel: above 8x its 3x3 median plus 50 counts
DARK_CELL = 0.3  # a cell below this fraction of its radius' median is shadowed: dropped
BACKGROUND_WINDOW = 7  # radial bins in the running median that models the diffuse background
MIN_SIDE = 16
REFINE_STEPS = 6  # at most this many Gauss-Newton steps after the self-convolution's estimate
MAX_REFINE_STEP = 0.012  # the most one step may move the centre, as a fraction of the frame's side
CONVERGED = 0.05  # pixels: a step this small ends the refinement
REFINE_INNER = 0.025  # radii below this fraction of the side (the stop's shadow) are left out


@dataclass(frozen=True)
class Geometry:
    """How finely the pattern is regrouped around the centre."""

    radial_bins: int = 48
    angular_bins: int = 64

    def __post_init__(self) -> None:
        if self.radial_bins < 12:
            raise ValueError("radial_bins must be at least 12")
        if self.angular_bins < 2 * HARMONICS + 2 or self.angular_bins % 2:
            raise ValueError(f"angular_bins must be even and at least {2 * HARMONICS + 2}")

    @property
    def length(self) -> int:
        """Length of the descriptor."""
        per_band = HARMONICS + len(CELL_THRESHOLDS) + 1
        return 4 + 4 * 4 + 4 + 3 + 2 + 3 * per_band


def grayscale(image: np.ndarray) -> np.ndarray:
    """Counts as float64; colour images are averaged over their channels."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image.mean(axis=-1)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D detector frame, got an array of shape {image.shape}")
    if min(image.shape) < MIN_SIDE:
        raise ValueError(
            f"image {image.shape[1]}x{image.shape[0]} is too small (at least {MIN_SIDE} px a side)"
        )
    return np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def valid_pixels(image: np.ndarray) -> np.ndarray:
    """Counting pixels: positive, and not a hot pixel far above its 3x3 neighbourhood."""
    from scipy import ndimage

    median = ndimage.median_filter(image, size=3, mode="nearest")
    return (image > 0) & ~(image > HOT_FACTOR * median + HOT_FLOOR)


def beam_centre(image: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float]:
    """(row, column) of the pattern's point of symmetry, to about a pixel.

    A pattern symmetric about c satisfies a(c + d) = a(c - d), so its self-convolution peaks at 2c.
    The log image (bright spots clipped) weighs the diffuse background, which every frame has,
    above the motifs; dividing by the overlap of the valid masks keeps gaps and edges from pulling
    the peak. The search is limited to ``CENTRE_WINDOW`` around the middle of the frame.
    """
    image = grayscale(image)
    if valid is None:
        valid = valid_pixels(image)
    if not valid.any():
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    h, w = image.shape
    clipped = np.minimum(image, np.percentile(image[valid], 99.5))
    logs = np.log1p(clipped)
    a = np.where(valid, logs - logs[valid].mean(), 0.0)
    shape = (2 * h, 2 * w)
    spectrum = np.fft.rfft2(a, s=shape)
    conv = np.fft.irfft2(spectrum * spectrum, s=shape)
    mask = np.fft.rfft2(valid.astype(np.float64), s=shape)
    overlap = np.fft.irfft2(mask * mask, s=shape)
    conv /= np.maximum(overlap, 1.0)
    y0, y1 = int(h * (1 - 2 * CENTRE_WINDOW)), int(np.ceil(h * (1 + 2 * CENTRE_WINDOW)))
    x0, x1 = int(w * (1 - 2 * CENTRE_WINDOW)), int(np.ceil(w * (1 + 2 * CENTRE_WINDOW)))
    window = conv[y0:y1, x0:x1]
    iy, ix = np.unravel_index(int(np.argmax(window)), window.shape)
    iy, ix = iy + y0, ix + x0
    dy = _parabola(conv[iy - 1, ix], conv[iy, ix], conv[(iy + 1) % shape[0], ix])
    dx = _parabola(conv[iy, ix - 1], conv[iy, ix], conv[iy, (ix + 1) % shape[1]])
    return _refine_centre(image, valid, ((iy + dy) / 2, (ix + dx) / 2))


def _refine_centre(
    image: np.ndarray, valid: np.ndarray, centre: tuple[float, float], steps: int = REFINE_STEPS
) -> tuple[float, float]:
    """Gauss-Newton steps that make the diffuse scattering round about the centre.

    Seen from a centre off by ``e``, a pixel at radius ``r`` and direction ``u`` lies at radius
    ``r + e.u`` from the true one, so its log counts exceed the radial profile by about
    ``g(r) e.u`` (``g``: the profile's slope): a weighted linear fit of the residuals on
    ``g u`` gives ``e``. Pixels far off the profile (motifs, spots, the stop's shadow and arm) are
    left out, so the steep, bright diffuse core that every frame has sets the centre. The
    self-convolution's peak, broad over that core, is typically 1-4 px off; this brings it to a
    fraction of a pixel.
    """
    from scipy import ndimage

    rows, columns = np.nonzero(valid & (image > 0))
    if len(rows) < 16:
        return centre
    counts = image[rows, columns]
    logs = np.log(counts)
    sigma = 1.0 / np.sqrt(np.maximum(counts, 1.0))  # Poisson noise of a log count
    side = min(image.shape)
    r_max, r_min, max_step = 0.5 * side, REFINE_INNER * side, MAX_REFINE_STEP * side
    start = centre
    for _ in range(steps):
        dy, dx = rows - centre[0], columns - centre[1]
        radius = np.hypot(dy, dx)
        ring = radius.astype(np.int64)
        pixels = np.bincount(ring)
        sums = np.bincount(ring, logs, len(pixels))
        index = np.arange(len(pixels))
        filled = pixels > 0
        mean = np.interp(index, index[filled], sums[filled] / pixels[filled])
        profile = ndimage.gaussian_filter1d(mean, 1.5, mode="nearest")
        slope = np.interp(radius, index, np.gradient(profile))
        residual = logs - np.interp(radius, index, profile)
        fit = (np.abs(residual) < 3 * sigma + 0.3) & (radius > r_min) & (radius < r_max)
        if fit.sum() < 16:
            break
        unit = np.maximum(radius, 1e-9)
        design = np.stack([slope * dy / unit, slope * dx / unit], axis=1)[fit]
        weights = 1.0 / sigma[fit] ** 2
        normal = design.T @ (design * weights[:, None]) + 1e-9 * np.eye(2)
        error = np.linalg.solve(normal, design.T @ (residual[fit] * weights))
        step = np.clip(error, -max_step, max_step)
        centre = (centre[0] - float(step[0]), centre[1] - float(step[1]))
        if np.abs(step).max() < CONVERGED:
            break
    if not _in_window(centre, image.shape):
        return start  # walked off where a beam can be: the first estimate stands
    return centre


def _in_window(centre: tuple[float, float], shape: tuple[int, ...]) -> bool:
    return all(abs(c - (n - 1) / 2) <= CENTRE_WINDOW * n for c, n in zip(centre, shape[:2], strict=True))


def _parabola(left: float, middle: float, right: float) -> float:
    """Sub-pixel offset of a peak from three samples around it."""
    curvature = left - 2 * middle + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def polar_cells(
    image: np.ndarray, valid: np.ndarray, centre: tuple[float, float], geometry: Geometry
) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean counts, pixel counts) per (radius, azimuth) cell, and the outer radius in pixels.

    The outer radius is half the smaller side: the largest circle a centred frame holds whole.
    """
    h, w = image.shape
    r_max = 0.5 * min(h, w)
    yy, xx = np.nonzero(valid)
    dy, dx = yy - centre[0], xx - centre[1]
    radial = (np.hypot(dy, dx) / r_max * geometry.radial_bins).astype(np.int64)
    azimuth = np.mod(np.arctan2(dy, dx), 2 * np.pi) / (2 * np.pi) * geometry.angular_bins
    angular = azimuth.astype(np.int64) % geometry.angular_bins
    inside = radial < geometry.radial_bins
    cells = geometry.radial_bins * geometry.angular_bins
    index = radial[inside] * geometry.angular_bins + angular[inside]
    shape = (geometry.radial_bins, geometry.angular_bins)
    sums = np.bincount(index, image[yy[inside], xx[inside]], cells).reshape(shape)
    counts = np.bincount(index, None, cells).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts, r_max


def _row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row over its finite entries; NaN for a row with none (without the warning
    ``np.nanmedian`` gives, which would leak from the worker's threads)."""
    out = np.full(len(values), np.nan)
    rows = np.isfinite(values).any(axis=1)
    if rows.any():
        out[rows] = np.nanmedian(values[rows], axis=1)
    return out


def _top(values: np.ndarray, k: int) -> list[float]:
    """The k largest values, padded with zeros (a short band)."""
    ordered = np.sort(values)[::-1][:k]
    return [*ordered.tolist(), *([0.0] * (k - len(ordered)))]


def _squash(values: np.ndarray | list[float] | float) -> np.ndarray:
    """Signed log1p: z-scores from 3 to 3000 on one scale."""
    values = np.asarray(values, np.float64)
    return np.sign(values) * np.log1p(np.abs(values))


# (image, valid pixels, geometry) -> (mean counts, pixel counts, outer radius, beam centre): cells in
# q from a calibrated geometry (``backend.images.geometry.polar_cells_q`` with pyFAI).
PolarCells = Callable[
    [np.ndarray, np.ndarray, Geometry], tuple[np.ndarray, np.ndarray, float, tuple[float, float]]
]


def descriptor(
    image: np.ndarray,
    geometry: Geometry | None = None,
    centre: tuple[float, float] | None = None,
    *,
    mask: np.ndarray | None = None,
    polar: PolarCells | None = None,
) -> tuple[np.ndarray, tuple[float, float]]:
    """(descriptor float32 of ``geometry.length``, the beam centre used) of one detector frame.

    ``mask`` (True: masked) keeps pixels out, as gaps are. ``polar``: the frame's cells come from a
    calibrated geometry (rings at their q, the beam centre the calibration's), not from the centre
    found in the pattern."""
    from scipy import ndimage

    geometry = geometry or Geometry()
    image = grayscale(image)
    valid = valid_pixels(image)
    if mask is not None:
        valid &= ~mask
    if polar is not None:
        if not valid.any():
            return np.zeros(geometry.length, np.float32), centre or (0.0, 0.0)
        cells, counts, r_max, centre = polar(image, valid, geometry)
    else:
        if centre is None:
            centre = beam_centre(image, valid)
        if not valid.any():
            return np.zeros(geometry.length, np.float32), centre
        cells, counts, r_max = polar_cells(image, valid, centre, geometry)
    profile = _row_median(cells)
    with np.errstate(invalid="ignore"):
        cells = np.where(cells < DARK_CELL * profile[:, None], np.nan, cells)
    profile = _row_median(cells)
    filled = np.isfinite(profile)
    if not filled.any():
        return np.zeros(geometry.length, np.float32), centre
    profile = np.where(filled, profile, np.nanmax(profile))
    first = _first_clear_radius(cells, profile, geometry)
    # The running median sees only the radii past the beam stop: the shadow's edge would drag it
    # down where the diffuse scattering is steepest, and the core would pass for a ring.
    background = profile.copy()
    background[first:] = np.exp(
        ndimage.median_filter(
            np.log(np.maximum(profile[first:], 1e-3)), size=BACKGROUND_WINDOW, mode="nearest"
        )
    )
    noise_floor = np.maximum(background, 0.5)  # Poisson variance, floored for near-empty radii
    pixels = counts.sum(axis=1)
    z = (cells - background[:, None]) / np.sqrt(noise_floor[:, None] / np.maximum(counts, 1))
    z_iso = np.where(
        filled & (pixels > 0), (profile - background) / np.sqrt(noise_floor / np.maximum(pixels, 1)), 0.0
    )
    anisotropic = np.nan_to_num(z - np.nan_to_num(_row_median(z))[:, None], nan=0.0)
    spectrum = np.abs(np.fft.rfft(anisotropic, axis=1)) / np.sqrt(geometry.angular_bins)

    inner = slice(first, geometry.radial_bins)
    parts: list[np.ndarray] = []
    iso = z_iso[inner]
    parts.append(_squash(_top(iso, 3)))  # rings: the strongest isotropic excesses
    parts.append(_squash([float(np.sum(iso > 5))]))
    odd = spectrum[inner, 3:12:2].mean(axis=1)  # m = 3..11: spots break the two-fold symmetry
    even = spectrum[inner, 4:13:2].mean(axis=1)  # m = 4..12: narrow two-fold features (rods)
    for harmonic in (spectrum[inner, 1], spectrum[inner, 2], odd, even):
        parts.append(_squash([*_top(harmonic, 3), float(np.median(harmonic))]))
    peak_cells = anisotropic[inner].max(axis=1).clip(0)
    parts.append(_squash([*_top(peak_cells, 3), float(np.sum(anisotropic[inner] > 6))]))
    # streaks: narrow rods through the beam, seen in the azimuthal profile of the inner radii
    near = anisotropic[first : max(first + 1, int(geometry.radial_bins * 0.6))]
    rod = near.sum(axis=0) / np.sqrt(len(near))
    paired = np.minimum(rod, np.roll(rod, geometry.angular_bins // 2))
    sharp = rod - ndimage.uniform_filter1d(rod, 7, mode="wrap")
    parts.append(_squash([max(rod.max(), 0.0), max(paired.max(), 0.0), max(sharp.max(), 0.0)]))
    parts.append(_squash(_pixel_spots(image, valid, centre, background, r_max, geometry, first)))
    bands = np.linspace(first, geometry.radial_bins, 4).astype(int)
    for lo, hi in itertools.pairwise(bands):
        band_spectrum = spectrum[lo:hi, 1 : HARMONICS + 1].mean(axis=0)
        counts_above = [np.sum(anisotropic[lo:hi] > t) for t in CELL_THRESHOLDS]
        parts.append(_squash([*band_spectrum, *counts_above, max(float(z_iso[lo:hi].max()), 0.0)]))
    out = np.concatenate(parts).astype(np.float32)
    assert len(out) == geometry.length
    return out, centre


def _first_clear_radius(cells: np.ndarray, profile: np.ndarray, geometry: Geometry) -> int:
    """The first radial bin past the beam stop, whose background the running median can follow:
    beyond the last inner radius that is mostly shadowed (or empty), and beyond the rise just
    outside it (diffuse scattering falls with the radius; there it climbs out of the stop's
    half-shadowed edge)."""
    reach = geometry.radial_bins // 3
    shadowed = np.mean(~np.isfinite(cells), axis=1) > 0.5
    inner = np.nonzero(shadowed[:reach])[0]
    edge = int(inner[-1]) + 1 if len(inner) else 0
    dark = DARK_CELL * float(np.median(profile[edge:reach])) if edge < reach else 0.0
    top = edge
    while top + 1 < reach and profile[top] < dark:  # the stop's shadow, dark all round
        top += 1
    while top + 1 < reach and profile[top + 1] > profile[top]:  # climbing out of its edge
        top += 1
    return max(edge + 2, top + 2, 2, geometry.radial_bins // 24)


def _pixel_spots(
    image: np.ndarray,
    valid: np.ndarray,
    centre: tuple[float, float],
    background: np.ndarray,
    r_max: float,
    geometry: Geometry,
    first: int,
) -> list[float]:
    """How many compact spots (Bragg peaks) stand out: local maxima far above the background
    whose neighbours are raised too (a hot pixel alone is not a spot)."""
    from scipy import ndimage

    h, w = image.shape
    yy, xx = np.ogrid[:h, :w]
    radius = np.hypot(yy - centre[0], xx - centre[1]) / r_max * geometry.radial_bins
    expected = np.interp(radius, np.arange(geometry.radial_bins) + 0.5, background)
    z = (image - expected) / np.sqrt(np.maximum(expected, 0.5))
    z = np.where(valid & (radius > first), z, 0.0)
    local_max = z == ndimage.maximum_filter(z, size=5)
    around = ndimage.uniform_filter(z, size=3)
    return [
        float(np.sum(local_max & (z > 8) & (around > 2.5))),
        float(np.sum(local_max & (z > 15) & (around > 4))),
    ]
