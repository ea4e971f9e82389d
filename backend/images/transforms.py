"""Display and analysis transforms, shared by pages and workers (numpy only).

Order: masked pixels take the lowest unmasked value -> min-max scale to [0, 1] -> optional
log(r + 1e-12) or sqrt -> percentile normalisation to [0, 1], the percentiles taken over unmasked
pixels that count (positive), so module gaps and a beam stop's zeros do not set the dark end ->
a colour map where the image is grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.errors import Invalid

LOG_EPSILON = 1e-12
SCALES = ("linear", "log", "sqrt")
COLORMAPS = ("gray", "viridis", "magma", "inferno", "cividis")
# Below this share of unmasked pixels being positive, a frame is not a counting detector's
# (an image with negative values, a dark-subtracted frame): percentiles use every unmasked pixel.
POSITIVE_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class DisplayTransform:
    """How pixels become grey levels (or colours). ``log`` is kept for the callers that predate
    ``scale``: ``DisplayTransform(log=True)`` is ``scale="log"``."""

    log: bool = False
    p_low: float = 1.0
    p_high: float = 99.0
    scale: str = ""
    colormap: str = "gray"

    def __post_init__(self) -> None:
        if not (0.0 <= self.p_low < self.p_high <= 100.0):
            raise Invalid(
                f"percentile bounds must satisfy 0 <= low < high <= 100, got {self.p_low}, {self.p_high}"
            )
        scale = self.scale or ("log" if self.log else "linear")
        if scale not in SCALES:
            raise Invalid(f"scale must be one of {', '.join(SCALES)}, got '{self.scale}'")
        if self.colormap not in COLORMAPS:
            raise Invalid(f"colormap must be one of {', '.join(COLORMAPS)}, got '{self.colormap}'")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "log", scale == "log")

    @property
    def key(self) -> str:
        """A file-name-safe key for caches."""
        base = f"log{int(self.log)}_p{self.p_low:g}-{self.p_high:g}"
        if self.scale == "sqrt":
            base += "_sqrt"
        return base if self.colormap == "gray" else f"{base}_{self.colormap}"

    def apply(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return apply_transform(image, self, mask=mask)


# Percentiles of bigger images are taken from a sample of whole rows (chosen at random with a
# fixed seed, so a view renders the same each time): np.percentile copies what it is given, and a
# 64-megapixel RGB image is 192 million values. Smaller images get exact percentiles.
PERCENTILE_SAMPLE = 4_194_304


def min_max(image: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Scale to [0, 1] as float32 (into ``image`` itself where ``in_place`` and it is a writeable
    float32 array); a constant image becomes all zeros. Never float64: a 64-megapixel RGB image
    is 768 MB per float32 copy and twice that in float64.

    Non-finite values become the smallest finite one.
    """
    image = np.asarray(image, dtype=np.float32)
    own = in_place and image.flags.writeable
    low, high = (float(image.min()), float(image.max())) if image.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)):  # min/max are NaN or inf only if some value is
        finite = np.isfinite(image)
        fill = np.nanmin(image[finite]) if finite.any() else 0.0
        if own:
            np.copyto(image, fill, where=~finite)
        else:
            image, own = np.where(finite, image, fill).astype(np.float32, copy=False), True
        low, high = float(image.min()), float(image.max())
    out = image if own else np.empty_like(image, dtype=np.float32)
    if high <= low:
        out.fill(0.0)
        return out
    np.subtract(image, low, out=out)
    out /= high - low
    return out


def log_scale(image: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """log(r + 1e-12) of the min-max scaled image, the usual view of scattering patterns."""
    out = min_max(image, in_place=in_place)
    out += LOG_EPSILON
    return np.log(out, out=out)


def _percentiles(
    image: np.ndarray, low: float, high: float, counted: np.ndarray | None = None
) -> tuple[float, float]:
    """The percentiles of ``image``, or of its ``counted`` pixels where given."""
    rows = image.shape[0]
    values_per_row = image.size // max(rows, 1)
    if image.size > PERCENTILE_SAMPLE:  # whole rows: no aliasing with a pattern along a row
        keep = max(1, PERCENTILE_SAMPLE // max(values_per_row, 1))
        chosen = np.sort(np.random.default_rng(0).choice(rows, size=min(keep, rows), replace=False))
        image = image[chosen]
        counted = counted[chosen] if counted is not None else None
    values = image[counted] if counted is not None else image
    if values.size == 0:
        values = image
    lo, hi = np.percentile(values, [low, high])
    return float(lo), float(hi)  # Python floats keep the arithmetic below in float32


def _normalize_in_place(
    image: np.ndarray, low: float, high: float, counted: np.ndarray | None = None
) -> np.ndarray:
    lo, hi = _percentiles(image, low, high, counted)
    if hi <= lo:
        return min_max(image)
    image -= lo
    image /= hi - lo
    return np.clip(image, 0.0, 1.0, out=image)


def percentile_normalize(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Map the [low, high] percentiles to [0, 1], clipping outside."""
    return _normalize_in_place(np.array(image, dtype=np.float32), low, high)


def counted_pixels(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """Which pixels the display percentiles are taken over: unmasked and positive (where enough
    are positive); None for every pixel (no mask, and no zero or negative pixel to leave out).

    Colour images without a mask are photographs, not counts: every pixel counts (and no grey
    copy of a 64-megapixel RGB image is made to find out)."""
    if image.ndim == 3 and mask is None:
        return None
    plane = image if image.ndim == 2 else image.mean(axis=-1)
    unmasked = np.ones(plane.shape, bool) if mask is None else ~mask
    positive = unmasked & (plane > 0)
    if positive.sum() >= POSITIVE_SHARE * max(int(unmasked.sum()), 1):
        unmasked = positive
    if mask is None and unmasked.all():
        return None
    return unmasked if image.ndim == 2 else np.broadcast_to(unmasked[..., None], image.shape)


def fill_masked(image: np.ndarray, mask: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """``image`` with masked pixels set to the lowest unmasked finite value, so they neither set the
    min-max range nor stand out (a dead pixel at -1, a saturated one at 2**32 - 1)."""
    image = np.asarray(image, dtype=np.float32)
    if mask.shape != image.shape[:2]:
        raise Invalid(f"mask of shape {mask.shape} does not fit an image of shape {image.shape[:2]}")
    if not mask.any():
        return image
    if not (in_place and image.flags.writeable):
        image = image.copy()
    kept = image[~mask]
    kept = kept[np.isfinite(kept)]
    image[mask] = float(kept.min()) if kept.size else 0.0
    return image


def apply_transform(
    image: np.ndarray, transform: DisplayTransform, *, in_place: bool = False, mask: np.ndarray | None = None
) -> np.ndarray:
    """The transformed image as float32: a new array (one copy of the input, then worked in
    place), or ``image`` itself where ``in_place`` and it is a writeable float32 array.

    ``mask`` (True: masked, the image's height x width) keeps pixels out of the statistics."""
    counted = counted_pixels(image, mask)
    if mask is not None:
        image = fill_masked(image, mask, in_place=in_place)
        in_place = True
    if transform.scale == "log":
        scaled = log_scale(image, in_place=in_place)
    else:
        scaled = min_max(image, in_place=in_place)
        if transform.scale == "sqrt":
            np.sqrt(scaled, out=scaled)
    return _normalize_in_place(scaled, transform.p_low, transform.p_high, counted)


def prepare(
    image: np.ndarray, size: int, transform: DisplayTransform, mask: np.ndarray | None = None
) -> np.ndarray:
    """One image as a (size, size) float32 array in [0, 1], as models and heat maps see it: grey,
    block-averaged, transformed (``mask`` left out), resized."""
    if image.ndim == 3:
        image = image.mean(axis=-1, dtype=np.float32)
    factor = max(1, min(image.shape[:2]) // (size * 2))  # average noise away before resizing
    if mask is not None and factor > 1:
        image = fill_masked(image, mask)
        mask = block_reduce(mask.astype(np.float32), factor) > 0.5
    image = block_reduce(image, factor)
    return resize(apply_transform(image, transform, mask=mask), size, size)


def block_reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks: a cheap, noise-averaging downsample before resizing."""
    if factor <= 1:
        return image
    h = image.shape[0] // factor * factor
    w = image.shape[1] // factor * factor
    trimmed = image[:h, :w]
    shape = (h // factor, factor, w // factor, factor, *image.shape[2:])
    return trimmed.reshape(shape).mean(axis=(1, 3), dtype=np.float32)


def fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is ``size``, aspect kept."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a float image (any range) with bilinear filtering."""
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    if image.ndim == 2:
        pil = Image.fromarray(image.astype(np.float32), mode="F")
        return np.asarray(pil.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    channels = [resize(image[..., c], height, width) for c in range(image.shape[-1])]
    return np.stack(channels, axis=-1)


def to_uint8(image: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """[0, 1] floats to 8-bit pixels; ``in_place`` reuses ``image`` as the scratch space where it
    is a writeable float32 array (the caller's to lose)."""
    reuse = in_place and image.dtype == np.float32 and image.flags.writeable
    out = np.clip(image, 0.0, 1.0, out=image if reuse else None)
    out *= 255.0
    out += 0.5
    return out.astype(np.uint8)
