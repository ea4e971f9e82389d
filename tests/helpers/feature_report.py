"""Feature extractors trained and run for a dataset, shared by the feature-report and guided tests."""

from __future__ import annotations

from typing import Any

from tests.helpers.azimuthal import run_job


async def features_of(client: Any, dataset_id: int, algorithm: str, parameters: dict | None = None) -> int:
    """Train a feature extractor and run its inference; its model id."""
    body = {"kind": "train", "dataset_id": dataset_id, "algorithm": algorithm, "parameters": parameters or {}}
    train = await run_job(client, body)
    await run_job(client, {"kind": "infer", "model_id": train["model_id"]})
    return int(train["model_id"])
