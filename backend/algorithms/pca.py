"""PCA: a small, real feature extractor (principal components of downsampled images).

It trains in seconds on a CPU, so the whole job pipeline is exercised end to end with a real
model; its feature vectors feed similarity search like any other extractor's.
"""

from __future__ import annotations

import math
from typing import Any

from backend.algorithms.base import Algorithm, Params
from backend.algorithms.fragments import percentile_properties
from backend.algorithms.intensity import INTENSITY_PROPERTIES, with_infer_intensity

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "n_components": {
            "type": "integer",
            "title": "Components",
            "description": "Length of each feature vector: how many principal components to keep.",
            "default": 16,
            "minimum": 1,
            "maximum": 512,
        },
        "image_size": {
            "type": "integer",
            "title": "Image size",
            "description": "Images are made grayscale and resized to this many pixels a side before fitting.",
            "default": 32,
            "minimum": 8,
            "maximum": 256,
        },
        "log_transform": {
            "type": "boolean",
            "title": "Log scale",
            "description": "Take log(r + 1e-12) of the min-max scaled image first (scattering patterns).",
            "default": True,
        },
        **percentile_properties(),
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "description": "Images per incremental fit; each batch is one point of the loss curve.",
            "default": 64,
            "minimum": 2,
            "maximum": 4096,
        },
        "validation_fraction": {
            "type": "number",
            "title": "Validation fraction",
            "description": "Share of the items held out to measure the validation loss.",
            "default": 0.1,
            "minimum": 0,
            "maximum": 0.5,
        },
        "whiten": {
            "type": "boolean",
            "title": "Whiten",
            "description": "Scale each component to unit variance.",
            "default": False,
        },
        "seed": {
            "type": "integer",
            "title": "Seed",
            "description": "Seed of the shuffle that splits training and validation items.",
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
            "description": "Images encoded at a time.",
            "default": 256,
            "minimum": 1,
            "maximum": 8192,
        },
    },
}


def check(params: Params) -> list[str]:
    problems = []
    if params["percentile_low"] >= params["percentile_high"]:
        problems.append(
            f"the low percentile ({params['percentile_low']}) must be below the high percentile "
            f"({params['percentile_high']})"
        )
    if params["n_components"] > params["batch_size"]:
        problems.append(
            f"components ({params['n_components']}) cannot exceed the batch size ({params['batch_size']}): "
            "each incremental fit needs at least as many images as components"
        )
    if params["n_components"] > params["image_size"] ** 2:
        problems.append(
            f"components ({params['n_components']}) cannot exceed the pixels of an image "
            f"({params['image_size']}x{params['image_size']})"
        )
    return problems


def min_items(params: Params) -> int:
    """Enough training items for one full batch of components after the validation split."""
    return math.ceil(params["n_components"] / (1.0 - params["validation_fraction"])) + (
        1 if params["validation_fraction"] > 0 else 0
    )


PCA = Algorithm(
    key="pca",
    kind="feature_extractor",
    title="PCA features",
    description=(
        "Principal component analysis of the downsampled images, fitted incrementally. "
        "Fast on a CPU; a baseline for similarity search and a check of the job pipeline."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.pca",
    check=check,
    infer_schema=with_infer_intensity(INFER_SCHEMA),
    min_items=min_items,
    outputs=("vectors", "reconstructions"),
    suggestion_rank=2,
)
