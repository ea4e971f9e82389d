"""A classifier on any feature model's vectors: a small dense head, trained in seconds.

The features do the hard work (an autoencoder, PCA, azimuthal descriptors, a self-supervised
network: whichever the feature report finds separates the labels best); the head only draws the
class boundaries, so it learns from tens of labels per class. ``feature_model`` 0 takes the best
model of the dataset's latest feature report (else the newest feature extractor with vectors).
Training writes ``oof.npz``: out-of-fold probabilities of every labeled item.
"""

from __future__ import annotations

from backend.algorithms import azimuthal_classifier
from backend.algorithms.base import Algorithm, Params
from backend.algorithms.classifier import SNAPSHOT_PROPERTIES, min_items, snapshot_problems

HEAD_PROPERTIES = {
    name: spec
    for name, spec in azimuthal_classifier.SCHEMA["properties"].items()
    if name not in SNAPSHOT_PROPERTIES and name not in azimuthal_classifier.azimuthal.DESCRIPTOR_PARAMETERS
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "feature_model": {
            "type": "integer",
            "title": "Feature model",
            "description": (
                "Id of a ready model whose vectors (its latest inference on this dataset) the head "
                "learns from; 0: the best model of the latest feature report, else the newest "
                "feature extractor with vectors."
            ),
            "default": 0,
            "minimum": 0,
            "x-feature-model": True,
        },
        **SNAPSHOT_PROPERTIES,
        **HEAD_PROPERTIES,
        "hidden_units": {
            **HEAD_PROPERTIES["hidden_units"],
            "description": "Width of the hidden layer (its activations are the model's features); "
            "0: no hidden layer (a calibrated logistic regression on the vectors).",
            "minimum": 0,
        },
        "class_weights": {
            **HEAD_PROPERTIES["class_weights"],
            "description": (
                "none: each labeled item weighs the same, so the head keeps the classes' shares and "
                "its batches stay right on the frequent classes; balanced: each class weighs the "
                "same, however many labels it has (a rare class is predicted more often, less "
                "precisely). Decision 0022."
            ),
            "default": "none",
        },
        "folds": {
            "type": "integer",
            "title": "Out-of-fold folds",
            "description": (
                "k of the stratified k-fold run that gives every labeled item a probability from a "
                "head that never saw it (oof.npz: what quality estimates use); 0 skips it."
            ),
            "default": 5,
            "minimum": 0,
            "maximum": 20,
        },
    },
}


def check(params: Params) -> list[str]:
    problems = snapshot_problems(params)
    if params["folds"] == 1:
        problems.append("out-of-fold folds must be 0 (off) or at least 2")
    return problems


VECTOR_CLASSIFIER = Algorithm(
    key="vector_classifier",
    kind="classifier",
    title="Classifier on feature vectors",
    description=(
        "A small dense network (Keras) on another model's feature vectors: learns the classes "
        "from few labels in seconds; calibrated class probabilities, out-of-fold probabilities "
        "of the labeled items, and hidden-layer features."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.vector_classifier",
    check=check,
    min_items=min_items,
    needs_labels=True,
    outputs=("probabilities", "vectors"),
)
