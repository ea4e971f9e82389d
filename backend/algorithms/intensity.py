"""The absolute-intensity option every feature extractor offers (``workers/intensity.py`` computes it).

Plain data for the parameter schemas: the same two fields, titles and defaults in every extractor.
Off by default: on the measured sets it helps where brightness is the class (cell-cycle phases,
precision@10 up by half) and costs a few points where it is not (digits); see
docs/decisions/0008-self-supervised-features.md and ``python -m bench features``.
"""

from __future__ import annotations

from typing import Any

INTENSITY_PROPERTIES: dict[str, dict[str, Any]] = {
    "intensity_features": {
        "type": "boolean",
        "title": "Append absolute intensity",
        "description": (
            "Append descriptors of the raw pixels that the display transform throws away: log total "
            "counts, percentiles of log intensity, shares of saturated and zero pixels, and the bright "
            "object above the border's background (its counts, size, edges, texture). Turn on where "
            "brightness carries the class (DNA content, dose, exposure)."
        ),
        "default": False,
    },
    "intensity_weight": {
        "type": "number",
        "title": "Intensity weight",
        "description": (
            "The appended descriptors' total variance as a share of the vector's own: 0.5 gives them "
            "a third of each distance, 1 a half."
        ),
        "default": 0.5,
        "minimum": 0.01,
        "maximum": 100,
    },
}


# An inference option: the feature report scores every extractor with and without the descriptors
# and says which inference makes the best model's vectors its better variant ("on" or "off").
INFER_INTENSITY_PROPERTIES: dict[str, dict[str, Any]] = {
    "intensity_descriptors": {
        "type": "string",
        "title": "Absolute intensity",
        "description": (
            "Append the absolute-intensity descriptors to this inference's vectors: as the model was "
            "trained (its 'Append absolute intensity'), on, or off. The feature report says which helps."
        ),
        "enum": ["model", "on", "off"],
        "default": "model",
    },
}


def with_infer_intensity(schema: dict[str, Any]) -> dict[str, Any]:
    """An extractor's inference schema with the intensity option added (a new dict)."""
    return {**schema, "properties": {**schema["properties"], **INFER_INTENSITY_PROPERTIES}}


def with_intensity(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the intensity fields added to its properties (a new dict; the input is kept)."""
    return {**schema, "properties": {**schema["properties"], **INTENSITY_PROPERTIES}}
