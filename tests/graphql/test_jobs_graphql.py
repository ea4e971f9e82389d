"""Algorithms, jobs and models through GraphQL, with jobs running in this process (embedded broker)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

import tests.jobs.sleeper  # noqa: F401  (registers the 'test-sleeper' algorithm)
from backend.settings import Settings
from backend.storage.database import Database
from tests.helpers.graphql import create_dataset, gql, gql_error, snapshot

PCA_PARAMS = {"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}
FINISHED = ("succeeded", "failed", "canceled")
SUBMIT = """
mutation($input: SubmitJobInput!) {
  submitJob(input: $input) { id kind state algorithm datasetId modelId parameters attempt submittedBy }
}
"""
JOB = """
query($id: Int!) {
  job(id: $id) {
    id state kind done total epoch epochs progress error outputs attempt cancelRequested durationSeconds
    metrics { epoch metrics }
    log { id message }
  }
}
"""


@pytest.fixture
async def jobs_client(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    """The app with its in-process job runtime, on its own engine (asyncpg connections cannot cross
    to the test client's loop); ``database`` keeps the tables cleaned. Frequent heartbeats (a cancel
    is seen at the next one) but the default timeout: a loaded CI machine must not make a live
    worker look dead."""
    from backend.app import create_app

    job_settings = settings.model_copy(update={"heartbeat_seconds": 0.2})
    async with AsyncTestClient(app=create_app(job_settings)) as client:
        yield client


async def wait_for(
    client: AsyncTestClient, job_id: int, states: tuple[str, ...] = FINISHED
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = (await gql(client, JOB, {"id": job_id}))["job"]
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        await asyncio.sleep(0.05)


async def test_algorithms_are_listed_with_their_parameter_schemas(client):
    listed = (await gql(client, "{ algorithms { key kind parametersSchema defaults needsLabels } }"))[
        "algorithms"
    ]
    pca = next(a for a in listed if a["key"] == "pca")
    assert pca["kind"] == "feature_extractor" and pca["needsLabels"] is False
    assert pca["parametersSchema"]["type"] == "object"
    assert "n_components" in pca["parametersSchema"]["properties"]
    assert pca["defaults"]["n_components"] == pca["parametersSchema"]["properties"]["n_components"]["default"]
    only = (await gql(client, '{ algorithms(kind: "classifier") { kind } }'))["algorithms"]
    assert all(a["kind"] == "classifier" for a in only)
    assert (await gql(client, '{ algorithm(key: "pca") { title } }'))["algorithm"]["title"]
    await gql_error(client, '{ algorithm(key: "nope") { key } }', code="NOT_FOUND", fragments=("nope",))


async def test_pca_trains_and_infers_with_progress_metrics_log_and_model(jobs_client, folder: Path):
    dataset = (await create_dataset(jobs_client, folder, count=20))["dataset"]
    submitted = (
        await gql(
            jobs_client,
            SUBMIT,
            {
                "input": {
                    "datasetId": dataset["id"],
                    "algorithm": "pca",
                    "parameters": PCA_PARAMS,
                    "name": "p",
                }
            },
            tagger="alice",
        )
    )["submitJob"]
    assert (submitted["kind"], submitted["state"], submitted["submittedBy"]) == ("train", "queued", "alice")
    assert submitted["parameters"]["log_transform"] is True  # defaults filled in

    job = await wait_for(jobs_client, submitted["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["done"] == job["total"] == 16 and job["progress"] == 1.0  # 20 items, 4 held out
    assert job["epoch"] == job["epochs"] == 2 and job["durationSeconds"] >= 0
    assert [m["epoch"] for m in job["metrics"]] == [1, 2]
    assert all({"train_loss", "val_loss"} <= set(m["metrics"]) for m in job["metrics"])
    assert job["log"][0]["message"] == "queued by alice" and job["log"][-1]["message"] == "succeeded"
    tail = await gql(
        jobs_client,
        "query($id: Int!, $after: Int!) { job(id: $id) { log(afterId: $after) { id } } }",
        {"id": job["id"], "after": job["log"][-2]["id"]},
    )
    assert [line["id"] for line in tail["job"]["log"]] == [job["log"][-1]["id"]]

    models = (
        await gql(
            jobs_client,
            "query($d: Int!) { models(datasetId: $d) { id name state files trainedOn } }",
            {"d": dataset["id"]},
        )
    )["models"]
    assert len(models) == 1 and models[0]["id"] == submitted["modelId"]
    assert (models[0]["name"], models[0]["state"]) == ("p", "ready")
    assert models[0]["files"] == ["model.json", "pca.npz"] and models[0]["trainedOn"]["item_count"] == 20
    model = await gql(
        jobs_client, "query($id: Int!) { model(id: $id) { algorithm kind } }", {"id": models[0]["id"]}
    )
    assert model["model"] == {"algorithm": "pca", "kind": "feature_extractor"}

    infer = (await gql(jobs_client, SUBMIT, {"input": {"kind": "infer", "modelId": models[0]["id"]}}))[
        "submitJob"
    ]
    assert infer["datasetId"] == dataset["id"]
    finished = await wait_for(jobs_client, infer["id"])
    assert finished["state"] == "succeeded", finished["error"]
    assert "vectors.npy" in finished["outputs"]
    jobs = await gql(
        jobs_client,
        "query($d: Int!) { jobs(datasetId: $d) { total jobs { id kind } } }",
        {"d": dataset["id"]},
    )
    assert jobs["jobs"]["total"] == 2 and [j["kind"] for j in jobs["jobs"]["jobs"]] == ["infer", "train"]
    filtered = await gql(jobs_client, '{ jobs(kind: "infer", state: "succeeded") { total } }')
    assert filtered["jobs"]["total"] == 1


async def test_bad_submissions_are_refused_and_create_nothing(jobs_client, folder: Path):
    dataset = (await create_dataset(jobs_client, folder, count=4))["dataset"]
    before = await snapshot(jobs_client)
    d = dataset["id"]
    error = await gql_error(
        jobs_client,
        SUBMIT,
        {"input": {"datasetId": d, "algorithm": "pca", "parameters": {"n_components": 0, "bogus": 1}}},
        code="INVALID",
    )
    assert len(error["extensions"]["errors"]) >= 2  # every problem listed
    await gql_error(jobs_client, SUBMIT, {"input": {"datasetId": d, "algorithm": "nope"}}, code="NOT_FOUND")
    await gql_error(
        jobs_client, SUBMIT, {"input": {"datasetId": 999999, "algorithm": "pca"}}, code="NOT_FOUND"
    )
    await gql_error(jobs_client, SUBMIT, {"input": {"kind": "infer"}}, code="INVALID", fragments=("model",))
    await gql_error(jobs_client, SUBMIT, {"input": {"kind": "infer", "modelId": 999999}}, code="NOT_FOUND")
    await gql_error(jobs_client, SUBMIT, {"input": {"kind": "dance", "datasetId": d}}, code="INVALID")
    await gql_error(
        jobs_client,
        SUBMIT,
        {"input": {"datasetId": d, "algorithm": "pca", "parameters": "x"}},
        code="INVALID",
    )
    await gql_error(jobs_client, '{ jobs(state: "sleeping") { total } }', code="INVALID")
    assert (await gql(jobs_client, "{ jobs { total } models { id } }")) == {
        "jobs": {"total": 0},
        "models": [],
    }
    assert await snapshot(jobs_client) == before


async def test_cancel_and_retry_a_job(jobs_client, folder: Path):
    dataset = (await create_dataset(jobs_client, folder, count=2))["dataset"]
    params = {"steps": 30, "step_seconds": 0.05}
    job = (
        await gql(
            jobs_client,
            SUBMIT,
            {"input": {"datasetId": dataset["id"], "algorithm": "test-sleeper", "parameters": params}},
        )
    )["submitJob"]
    cancel = "mutation($id: Int!) { cancelJob(id: $id) { state cancelRequested } }"
    retry = "mutation($id: Int!) { retryJob(id: $id) { state attempt } }"
    asked = (await gql(jobs_client, cancel, {"id": job["id"]}, tagger="carol"))["cancelJob"]
    assert asked["cancelRequested"] is True
    canceled = await wait_for(jobs_client, job["id"])
    assert canceled["state"] == "canceled"
    assert any("carol" in line["message"] for line in canceled["log"])
    await gql_error(jobs_client, cancel, {"id": job["id"]}, code="CONFLICT", fragments=("canceled",))

    again = (await gql(jobs_client, retry, {"id": job["id"]}))["retryJob"]
    assert again == {"state": "queued", "attempt": 2}
    done = await wait_for(jobs_client, job["id"])
    assert done["state"] == "succeeded" and done["attempt"] == 2
    await gql_error(jobs_client, retry, {"id": job["id"]}, code="CONFLICT", fragments=("succeeded",))
    for query in (JOB, cancel, retry):
        await gql_error(jobs_client, query, {"id": 999999}, code="NOT_FOUND")
    await gql_error(jobs_client, "{ model(id: 999999) { id } }", code="NOT_FOUND")
