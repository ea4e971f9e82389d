"""Azimuthal-integration features: a feature extractor made for scattering patterns.

Each frame is regrouped around its beam centre into radius x azimuth cells and described by
what a scientist reads off it: isotropic rings, arcs of oriented samples, Bragg spots, streaks,
all in units of the counting noise (``workers/scattering.py`` says how). Nothing is learned but
the scale of each feature over the dataset, so its similarity pages are useful from the first
click, and it costs a few tens of milliseconds per frame on a CPU.
"""

from __future__ import annotations

from typing import Any

from backend.algorithms.base import Algorithm, Params
from backend.algorithms.intensity import INTENSITY_PROPERTIES, with_infer_intensity

# what a frame's descriptor depends on (the other parameters say which frames, or how to fit)
DESCRIPTOR_PARAMETERS = ("radial_bins", "angular_bins", "centre_row", "centre_column", "max_side")
AUTO_CENTRE = -1.0

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "radial_bins": {
            "type": "integer",
            "title": "Radial bins",
            "description": "Rings from the beam centre out to half the shorter side of the frame.",
            "default": 48,
            "minimum": 12,
            "maximum": 256,
        },
        "angular_bins": {
            "type": "integer",
            "title": "Azimuthal bins",
            "description": "Sectors around the beam centre (even: opposite sectors are compared).",
            "default": 64,
            "minimum": 34,
            "maximum": 720,
        },
        "centre_row": {
            "type": "number",
            "title": "Beam centre row",
            "description": "Row of the beam centre in pixels of the full frame; -1 finds it in each "
            "frame from the pattern's point symmetry.",
            "default": AUTO_CENTRE,
            "minimum": AUTO_CENTRE,
            "maximum": 100000,
        },
        "centre_column": {
            "type": "number",
            "title": "Beam centre column",
            "description": "Column of the beam centre in pixels of the full frame; -1 finds it.",
            "default": AUTO_CENTRE,
            "minimum": AUTO_CENTRE,
            "maximum": 100000,
        },
        "max_side": {
            "type": "integer",
            "title": "Largest side read",
            "description": "Bigger frames are read strided so that their shorter side is at most this.",
            "default": 512,
            "minimum": 64,
            "maximum": 4096,
        },
        "fit_items": {
            "type": "integer",
            "title": "Items fitted",
            "description": "How many items (a seeded sample) set the mean and scale of each feature.",
            "default": 5000,
            "minimum": 2,
            "maximum": 1000000,
        },
        "seed": {
            "type": "integer",
            "title": "Seed",
            "description": "Seed of the sample of fitted items.",
            "default": 0,
            "minimum": 0,
            "maximum": 2**31 - 1,
        },
    },
}
SCHEMA["properties"].update(INTENSITY_PROPERTIES)  # absolute intensity, as every extractor

INFER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "description": "Frames described between two progress reports.",
            "default": 64,
            "minimum": 1,
            "maximum": 8192,
        },
    },
}


def check(params: Params) -> list[str]:
    problems = []
    if params["angular_bins"] % 2:
        problems.append(
            f"azimuthal bins ({params['angular_bins']}) must be even: opposite sectors are compared"
        )
    row, column = params["centre_row"], params["centre_column"]
    if (row == AUTO_CENTRE) != (column == AUTO_CENTRE):
        problems.append("give both beam centre coordinates, or -1 for both to find the centre in each frame")
    elif row != AUTO_CENTRE and (row < 0 or column < 0):
        problems.append("beam centre coordinates are pixels of the frame: 0 or more, or -1 for both")
    return problems


def min_items(params: Params) -> int:
    """Two frames at least: a scale needs a spread."""
    return 2


AZIMUTHAL = Algorithm(
    key="azimuthal",
    kind="feature_extractor",
    title="Azimuthal-integration features",
    description=(
        "Rings, arcs, spots and streaks measured around each frame's beam centre, in units of "
        "the counting noise. Made for X-ray scattering patterns; nothing to train but the "
        "scale of each feature, a few tens of milliseconds per frame on a CPU."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.azimuthal",
    check=check,
    infer_schema=with_infer_intensity(INFER_SCHEMA),
    min_items=min_items,
    outputs=("vectors", "beam_centres"),
    suggestion_rank=1,  # scattering patterns; cheap, so the report can judge it anywhere
)
