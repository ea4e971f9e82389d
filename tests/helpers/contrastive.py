"""Contrastive jobs submitted, trained and inferred through REST, shared by the contrastive tests."""

from __future__ import annotations

import io

import numpy as np

from tests.helpers.jobs import wait_for


async def submit(client, dataset_id: int, **params) -> dict:
    response = await client.post(
        "/api/v1/jobs",
        json={"kind": "train", "dataset_id": dataset_id, "algorithm": "contrastive", "parameters": params},
    )
    assert response.status_code == 201, response.text
    return await wait_for(client, response.json()["id"], timeout=120)


async def train(client, dataset_id: int, **params) -> dict:
    job = await submit(client, dataset_id, **params)
    assert job["state"] == "succeeded", job["error"]
    return job


async def infer(client, model_id: int) -> tuple[np.ndarray, np.ndarray, dict]:
    response = await client.post("/api/v1/jobs", json={"kind": "infer", "model_id": model_id})
    job = await wait_for(client, response.json()["id"], timeout=60)
    assert job["state"] == "succeeded", job["error"]
    outputs = f"/api/v1/jobs/{job['id']}/outputs"
    vectors = np.load(io.BytesIO((await client.get(f"{outputs}/vectors.npy")).content))
    item_ids = np.load(io.BytesIO((await client.get(f"{outputs}/item_ids.npy")).content))
    return vectors, item_ids, job
