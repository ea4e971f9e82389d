"""Display and analysis transforms, shared by pages and workers (numpy only).

Order: min-max scale to [0, 1] -> optional log(r + 1e-12) -> percentile normalisation to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.errors import Invalid

LOG_EPSILON = 1e-12


@dataclass(frozen=True, slots=True)
class DisplayTransform:
    log: bool = False
    p_low: float = 1.0
    p_high: float = 99.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.p_low < self.p_high <= 100.0):
            raise Invalid(
                f"percentile bounds must satisfy 0 <= low < high <= 100, got {self.p_low}, {self.p_high}"
            )

    @property
    def key(self) -> str:
        """A file-name-safe key for caches."""
        return f"log{int(self.log)}_p{self.p_low:g}-{self.p_high:g}"

    def apply(self, image: np.ndarray) -> np.ndarray:
        return apply_transform(image, self)


def min_max(image: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant image becomes all zeros."""
    image = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(image)
    if not finite.all():
        image = np.where(finite, image, np.nanmin(image[finite]) if finite.any() else 0.0)
    low, high = float(image.min()), float(image.max())
    if high <= low:
        return np.zeros_like(image, dtype=np.float32)
    return ((image - low) / (high - low)).astype(np.float32, copy=False)


def log_scale(image: np.ndarray) -> np.ndarray:
    """log(r + 1e-12) of the min-max scaled image, the usual view of scattering patterns."""
    return np.log(min_max(image) + LOG_EPSILON).astype(np.float32, copy=False)


def percentile_normalize(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Map the [low, high] percentiles to [0, 1], clipping outside."""
    lo, hi = np.percentile(image, [low, high])
    if hi <= lo:
        return min_max(image)
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0).astype(np.float32, copy=False)


def apply_transform(image: np.ndarray, transform: DisplayTransform) -> np.ndarray:
    scaled = log_scale(image) if transform.log else min_max(image)
    return percentile_normalize(scaled, transform.p_low, transform.p_high)


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


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 8-bit pixels."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
