"""Scattering classifier: a small Keras dense network on azimuthal-integration descriptors.

Training describes the labeled items (``workers/algorithms/azimuthal.describe``) and fits the
shared dense head (``workers/algorithms/dense_head.py``: stratified split, standardisation inside
the model, temperature scaling on the validation split) in memory: the descriptors of 100,000
frames take 37 MB. Outputs match the image classifier's: ``model.keras``, ``model.json``,
``confusion_matrix.json``; inference writes ``probabilities.npy`` (columns in ``ctx.classes``
order) and ``vectors.npy`` (the hidden layer), with ``item_ids.npy``.
"""

from __future__ import annotations

import json

from workers.algorithms.azimuthal import check_version, describe_all
from workers.algorithms.classifier_data import labels_by_item, training_classes
from workers.algorithms.dense_head import (  # noqa: F401  (fit_temperature: imported by tests)
    MODEL_JSON,
    build,
    fit_temperature,
    labeled_rows,
    predict_all,
    train_head,
    with_temperature,
)
from workers.context import JobContext
from workers.scattering import DESCRIPTOR_VERSION


def train(ctx: JobContext) -> None:
    wanted = labels_by_item(ctx, [c["id"] for c in training_classes(ctx)])
    labeled = [ref for ref in ctx.items if wanted.get(ref.item_id)]
    ctx.log(f"describing {len(labeled)} labeled items")
    descriptors, item_ids, _ = describe_all(ctx, labeled, ctx.params)
    data = labeled_rows(ctx, descriptors, item_ids)
    train_head(ctx, data, "azimuthal_classifier", {"descriptor_version": DESCRIPTOR_VERSION})
    ctx.summary.update(unreadable=len(labeled) - len(item_ids))


def infer(ctx: JobContext) -> None:
    assert ctx.model_dir is not None
    check_version(json.loads((ctx.model_dir / MODEL_JSON).read_text()))
    refs = list(ctx.items)
    descriptors, item_ids, _ = describe_all(ctx, refs, ctx.params, step=ctx.options.get("batch_size", 64))
    predict_all(ctx, descriptors, item_ids, ctx.model_dir)
    ctx.summary.update(items=len(item_ids), unreadable=len(refs) - len(item_ids))
    ctx.log(f"classified {len(item_ids)} of {len(refs)} items from their azimuthal descriptors")
