"""Three test classifiers that report held-out figures through the real shared function
(``workers.algorithms.quality.report_held_out``), so the quality gate, the estimates and the
label review run on a real model's real files. Registered algorithms, real jobs; only the
"network" is a rule decided in advance (a fake for what would need a GPU and minutes).

- ``test-one-class``: answers the first trained class for everything (the 13% Keras model of
  issue 19): held-out accuracy equals that class's share, never above the majority baseline.
- ``test-oracle``: item at dataset position i gets class ``i % k`` (k: the dataset's classes) with
  probability ``0.55 + 0.4 * i / (n - 1)``; every labeled item is "held out". Its vectors put
  items of one class together, except the last item, far from everything.
- ``test-split``: a model with a validation split: every second labeled item (by id) is held out
  and scored as the oracle scores it; the others it trains on, and fits them: its inference gives
  each of them the label it trained on with probability 0.95 (in-sample scores), the rest as the
  oracle.

Both write vectors (``[one-hot of the class, 0.01 * i]``) so guardrails and neighbours work.
"""

from __future__ import annotations

import json

import numpy as np

from backend.algorithms.registry import Algorithm, register
from workers.algorithms.classifier_data import target_matrix, training_classes
from workers.algorithms.quality import report_held_out

TITLES = (
    ("test-one-class", "One-class classifier (tests)"),
    ("test-oracle", "Oracle (tests)"),
    ("test-split", "Oracle with a validation split (tests)"),
)
FITTED = "fitted.json"  # test-split: the items it trained on and the label each had

for key, title in TITLES:
    register(
        Algorithm(
            key=key,
            kind="classifier",
            title=title,
            description="Probabilities decided by a rule.",
            schema={"type": "object", "additionalProperties": False, "properties": {}},
            entry_point="tests.guided.trust_classifiers",
            needs_labels=True,
            outputs=("vectors", "probabilities"),
        )
    )


def oracle_probabilities(count: int, classes: int) -> np.ndarray:
    top = 0.55 + 0.4 * np.arange(count) / max(1, count - 1)
    probs = np.repeat(((1 - top) / max(1, classes - 1))[:, None], classes, axis=1)
    probs[np.arange(count), np.arange(count) % classes] = top
    return probs.astype(np.float32)


def one_class_probabilities(count: int, classes: int, column: int) -> np.ndarray:
    probs = np.full((count, classes), 0.1 / max(1, classes - 1), np.float32)
    probs[:, column] = 0.9
    return probs


def item_vectors(count: int, classes: int) -> np.ndarray:
    vectors = np.zeros((count, classes + 1), np.float32)
    vectors[np.arange(count), np.arange(count) % classes] = 1.0
    vectors[:, -1] = 0.01 * np.arange(count)
    vectors[-1] = 0.0
    vectors[-1, -1] = 1.0  # the last item: far from every other
    return vectors


def _all_probabilities(ctx) -> np.ndarray:  # type: ignore[no-untyped-def]
    n, k = len(ctx.items), len(ctx.classes)
    if ctx.algorithm in ("test-oracle", "test-split"):
        return oracle_probabilities(n, k)
    trained = training_classes(ctx)
    first = [c["id"] for c in ctx.classes].index(trained[0]["id"]) if trained else 0
    return one_class_probabilities(n, k, first)


def train(ctx) -> None:  # type: ignore[no-untyped-def]
    classes = training_classes(ctx)
    columns = [[c["id"] for c in ctx.classes].index(c["id"]) for c in classes]
    position = {ref.item_id: i for i, ref in enumerate(ctx.items)}
    ids = np.asarray(sorted(i for i in ctx.labels if ctx.labels[i]), np.int64)
    if ctx.algorithm == "test-split":  # the even rows it fits, the odd ones it holds out
        fitted = {int(i): sorted(ctx.labels[int(i)])[0] for i in ids[0::2]}
        (ctx.artifact_dir / FITTED).write_text(json.dumps(fitted))
        ids = ids[1::2]
    probs = _all_probabilities(ctx)[[position[int(i)] for i in ids]][:, columns]
    probs = probs / probs.sum(axis=1, keepdims=True)
    targets = target_matrix([ctx.labels[int(i)] for i in ids], [c["id"] for c in classes], False)
    report_held_out(ctx, classes, ids, targets, probs, targets, "validation")
    (ctx.artifact_dir / "model.txt").write_text(ctx.algorithm)


def infer(ctx) -> None:  # type: ignore[no-untyped-def]
    ids = [ref.item_id for ref in ctx.items]
    probs = _all_probabilities(ctx)
    fitted = ctx.model_dir / FITTED if ctx.model_dir is not None else None
    if fitted is not None and fitted.is_file():  # test-split: the items it trained on, as it fits them
        column = {int(c["id"]): n for n, c in enumerate(ctx.classes)}
        rest = 0.05 / max(1, len(ctx.classes) - 1)
        for item, label in json.loads(fitted.read_text()).items():
            row = ids.index(int(item))
            probs[row] = rest
            probs[row, column[int(label)]] = 0.95
    ctx.write_probabilities(ids, probs)
    ctx.write_vectors(ids, item_vectors(len(ids), len(ctx.classes)))
