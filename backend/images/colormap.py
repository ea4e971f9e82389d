"""Colour maps: the display's lookup tables (``colormap_tables``), and heat maps of statistics.

The heat maps use anchor colours sampled along the usual "viridis" ramp, interpolated between.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from backend.images.colormap_tables import TABLES

_LOOKUP: dict[str, np.ndarray] = {
    name: np.frombuffer(bytes.fromhex("".join(hexed)), np.uint8).reshape(256, 3)
    for name, hexed in TABLES.items()
}


def apply_colormap(gray: np.ndarray, name: str) -> np.ndarray:
    """8-bit grey levels (H x W) as H x W x 3 colours of the named map; "gray" (or a colour image)
    is returned as it is."""
    if name == "gray" or gray.ndim != 2:
        return gray
    return _LOOKUP[name][gray]


_ANCHORS = np.array(
    [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ],
    dtype=np.float32,
)


def colorize(values: np.ndarray) -> np.ndarray:
    """H x W values -> H x W x 3 uint8, scaled from their own min to max (flat maps are dark)."""
    values = np.asarray(values, dtype=np.float32)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    position = np.nan_to_num(scaled) * (len(_ANCHORS) - 1)
    lower = np.clip(np.floor(position).astype(int), 0, len(_ANCHORS) - 2)
    fraction = (position - lower)[..., None]
    rgb = _ANCHORS[lower] * (1 - fraction) + _ANCHORS[lower + 1] * fraction
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def heatmap_png(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(colorize(values), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()
