"""Classifier on feature vectors: the shared dense head on another model's latest vectors.

``ctx.input_dir`` is the feature model's inference output on the job's dataset (resolved when the
job was submitted for training, and on the dataset at hand for inference); the head trains on the
labeled rows and, with ``folds``, writes ``oof.npz`` (``workers/algorithms/dense_head.py``).
Training also writes every item's probabilities (``probabilities.npy``, columns in
``ctx.classes`` order), since every item's vectors are already at hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backend.storage import npy
from workers.algorithms.dense_head import MODEL_JSON, labeled_rows, predict_all, train_head
from workers.context import JobContext


def load_vectors(ctx: JobContext) -> tuple[np.ndarray, np.ndarray]:
    """The feature model's vectors and item ids; a clear error when there are none."""
    source = ctx.spec.trained_on.get("features", {})
    directory: Path | None = ctx.input_dir
    if directory is None or not (directory / "vectors.npy").exists():
        raise RuntimeError(
            f"feature model {source.get('model_id', '?')} has no vectors for dataset {ctx.dataset_id}: "
            "run its inference on this dataset first"
        )
    vectors = npy.load(directory / "vectors.npy")
    item_ids = npy.load(directory / "item_ids.npy")
    if len(vectors) and not np.isfinite(vectors).all():
        raise RuntimeError(f"the vectors of feature model {source.get('model_id', '?')} hold NaN or inf")
    return vectors, item_ids


def train(ctx: JobContext) -> None:
    vectors, item_ids = load_vectors(ctx)
    source = ctx.spec.trained_on.get("features", {})
    ctx.log(
        f"learning from the vectors of {source.get('name', 'the feature model')} ({vectors.shape[1]} long)"
    )
    data = labeled_rows(ctx, vectors, item_ids)
    train_head(ctx, data, "vector_classifier", {"features": source, "input_length": int(vectors.shape[1])})
    predict_all(ctx, vectors, item_ids, ctx.artifact_dir)
    ctx.summary.update(feature_model=source.get("model_id"), feature_algorithm=source.get("algorithm"))


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    meta = json.loads((ctx.model_dir / MODEL_JSON).read_text())
    vectors, item_ids = load_vectors(ctx)
    if vectors.shape[1] != meta["input_length"]:
        raise RuntimeError(
            f"the feature model's vectors are {vectors.shape[1]} long; this head learned from "
            f"{meta['input_length']}: retrain it"
        )
    predict_all(ctx, vectors, item_ids, ctx.model_dir)
    ctx.summary.update(items=len(item_ids))
    ctx.log(f"classified {len(item_ids)} items from their feature vectors")
