"""A test feature extractor whose vectors fall in known groups: item at dataset position i lies
near corner ``i % 3`` (a one-hot vector, nudged by ``0.01 * i`` along a fourth axis). A real
registry entry and worker module, so the queue ranks real vectors a real inference wrote."""

from __future__ import annotations

import numpy as np

from backend.algorithms.registry import Algorithm, register

register(
    Algorithm(
        key="test-clusters",
        kind="feature_extractor",
        title="Clustered features (tests)",
        description="Vectors in three known groups.",
        schema={"type": "object", "additionalProperties": False, "properties": {}},
        entry_point="tests.guided.cluster_features",
    )
)


def cluster_vectors(count: int) -> np.ndarray:
    vectors = np.zeros((count, 4), np.float32)
    vectors[np.arange(count), np.arange(count) % 3] = 1.0
    vectors[:, 3] = 0.01 * np.arange(count)
    return vectors


def train(ctx) -> None:  # type: ignore[no-untyped-def]
    (ctx.artifact_dir / "model.txt").write_text("clusters")


def infer(ctx) -> None:  # type: ignore[no-untyped-def]
    ids = [ref.item_id for ref in ctx.items]
    ctx.write_vectors(ids, cluster_vectors(len(ids)))
