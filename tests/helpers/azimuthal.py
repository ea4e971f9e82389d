"""Helpers of the feature jobs (azimuthal and others): run a job through REST, read an output."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from tests.helpers.jobs import wait_for


async def run_job(client: Any, body: dict) -> dict:
    """Submit a job through REST and wait for it; it must succeed."""
    response = await client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    return job


async def job_output(client: Any, job_id: int, name: str) -> np.ndarray:
    """One .npy output of a finished job."""
    response = await client.get(f"/api/v1/jobs/{job_id}/outputs/{name}")
    assert response.status_code == 200, response.text
    return np.load(io.BytesIO(response.content))
