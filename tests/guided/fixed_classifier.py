"""A test classifier whose probabilities are known in advance: a real registry entry and worker
module, so probability labeling runs on a real model's real inference output.

Item at position i (dataset order) gets class ``i % classes`` with probability
``0.5 + 0.45 * i / (n - 1)``; the other classes share the rest. It writes no feature vectors (a
model that cannot rank by similarity).
"""

from __future__ import annotations

import numpy as np

from backend.algorithms.registry import Algorithm, register

FIXED = register(
    Algorithm(
        key="test-fixed-classifier",
        kind="classifier",
        title="Fixed classifier (tests)",
        description="Probabilities decided by item order.",
        schema={"type": "object", "additionalProperties": False, "properties": {}},
        entry_point="tests.guided.fixed_classifier",
        needs_labels=True,
        outputs=("vectors", "probabilities"),
    )
)


def expected_probabilities(count: int, classes: int) -> np.ndarray:
    top = 0.5 + 0.45 * np.arange(count) / max(1, count - 1)
    probs = np.repeat(((1 - top) / max(1, classes - 1))[:, None], classes, axis=1)
    probs[np.arange(count), np.arange(count) % classes] = top
    return probs.astype(np.float32)


def train(ctx) -> None:  # type: ignore[no-untyped-def]
    (ctx.artifact_dir / "model.txt").write_text(f"{len(ctx.classes)} classes")


def infer(ctx) -> None:  # type: ignore[no-untyped-def]
    ids = [ref.item_id for ref in ctx.items]
    probs = expected_probabilities(len(ids), len(ctx.classes))
    ctx.write_probabilities(ids, probs)
