"""Two test classifiers that report held-out figures through the real shared function
(``workers.algorithms.quality.report_held_out``), so the quality gate, the estimates and the
label review run on a real model's real files. Registered algorithms, real jobs; only the
"network" is a rule decided in advance (a fake for what would need a GPU and minutes).

- ``test-one-class``: answers the first trained class for everything (the 13% Keras model of
  issue 19): held-out accuracy equals that class's share, never above the majority baseline.
- ``test-oracle``: item at dataset position i gets class ``i % k`` (k: the dataset's classes) with
  probability ``0.55 + 0.4 * i / (n - 1)``; every labeled item is "held out". Its vectors put
  items of one class together, except the last item, far from everything.

Both write vectors (``[one-hot of the class, 0.01 * i]``) so guardrails and neighbours work.
"""

from __future__ import annotations

import numpy as np

from backend.algorithms.registry import Algorithm, register
from workers.algorithms.classifier_data import target_matrix, training_classes
from workers.algorithms.quality import report_held_out

for key, title in (("test-one-class", "One-class classifier (tests)"), ("test-oracle", "Oracle (tests)")):
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
    if ctx.algorithm == "test-oracle":
        return oracle_probabilities(n, k)
    trained = training_classes(ctx)
    first = [c["id"] for c in ctx.classes].index(trained[0]["id"]) if trained else 0
    return one_class_probabilities(n, k, first)


def train(ctx) -> None:  # type: ignore[no-untyped-def]
    classes = training_classes(ctx)
    columns = [[c["id"] for c in ctx.classes].index(c["id"]) for c in classes]
    position = {ref.item_id: i for i, ref in enumerate(ctx.items)}
    ids = np.asarray(sorted(i for i in ctx.labels if ctx.labels[i]), np.int64)
    probs = _all_probabilities(ctx)[[position[int(i)] for i in ids]][:, columns]
    probs = probs / probs.sum(axis=1, keepdims=True)
    targets = target_matrix([ctx.labels[int(i)] for i in ids], [c["id"] for c in classes], False)
    report_held_out(ctx, classes, ids, targets, probs, targets, "validation")
    (ctx.artifact_dir / "model.txt").write_text(ctx.algorithm)


def infer(ctx) -> None:  # type: ignore[no-untyped-def]
    ids = [ref.item_id for ref in ctx.items]
    ctx.write_probabilities(ids, _all_probabilities(ctx))
    ctx.write_vectors(ids, item_vectors(len(ids), len(ctx.classes)))
