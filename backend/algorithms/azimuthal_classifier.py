"""A classifier over azimuthal-integration descriptors: learns scattering classes from few labels.

The descriptor (``backend/algorithms/azimuthal.py``) already measures rings, arcs, spots and
streaks in noise units, so a small dense network on it learns the classes from tens of labels
per class, in seconds on a CPU, where a convolutional network needs hundreds. Inference gives
class probabilities for probability labeling and its hidden layer as features for similarity.
"""

from __future__ import annotations

from typing import Any

from backend.algorithms import azimuthal
from backend.algorithms.base import Algorithm, Params
from backend.algorithms.classifier import SNAPSHOT_PROPERTIES, min_items, snapshot_problems

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{name: azimuthal.SCHEMA["properties"][name] for name in azimuthal.DESCRIPTOR_PARAMETERS},
        **SNAPSHOT_PROPERTIES,
        "hidden_units": {
            "type": "integer",
            "title": "Hidden units",
            "description": "Width of the hidden layer (its activations are the model's features).",
            "default": 64,
            "minimum": 4,
            "maximum": 1024,
        },
        "epochs": {"type": "integer", "title": "Epochs", "default": 150, "minimum": 1, "maximum": 5000},
        "learning_rate": {
            "type": "number",
            "title": "Learning rate",
            "description": "Adam's step size.",
            "default": 0.003,
            "minimum": 0.00001,
            "maximum": 1,
        },
        "l2": {
            "type": "number",
            "title": "Weight decay (L2)",
            "description": "L2 penalty on the weights: keeps the network smooth when labels are few.",
            "default": 0.001,
            "minimum": 0,
            "maximum": 1,
        },
        "dropout": {
            "type": "number",
            "title": "Dropout",
            "description": "Share of hidden units dropped at each training step.",
            "default": 0.2,
            "minimum": 0,
            "maximum": 0.9,
        },
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "default": 64,
            "minimum": 2,
            "maximum": 4096,
        },
        "validation_fraction": {
            "type": "number",
            "title": "Validation fraction",
            "description": "Share of each class held out (stratified) for validation.",
            "default": 0.2,
            "minimum": 0,
            "maximum": 0.5,
        },
        "calibrate": {
            "type": "boolean",
            "title": "Calibrate",
            "description": "Fit a temperature on the validation items so that the probabilities mean "
            "what they say (a network trained on few labels is over-confident).",
            "default": True,
        },
        "class_weights": {
            "type": "string",
            "title": "Class weights",
            "description": "balanced: each class weighs the same in the loss, however many labels it has.",
            "enum": ["balanced", "none"],
            "default": "balanced",
        },
        "seed": {
            "type": "integer",
            "title": "Seed",
            "description": "Seed of the split, the initial weights and the batch order.",
            "default": 0,
            "minimum": 0,
            "maximum": 2**31 - 1,
        },
    },
}


def check(params: Params) -> list[str]:
    return azimuthal.check(params) + snapshot_problems(params)


AZIMUTHAL_CLASSIFIER = Algorithm(
    key="azimuthal_classifier",
    kind="classifier",
    title="Scattering classifier (azimuthal features)",
    description=(
        "A small dense network (Keras) on each frame's azimuthal-integration descriptor: rings, "
        "arcs, spots and streaks in noise units. Learns scattering classes from few labels, in "
        "seconds on a CPU; gives class probabilities and hidden-layer features."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.azimuthal_classifier",
    check=check,
    infer_schema=azimuthal.INFER_SCHEMA,
    min_items=min_items,
    needs_labels=True,
    outputs=("probabilities", "vectors"),
)
