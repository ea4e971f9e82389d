"""Jobs through the REST API with the embedded broker: Dramatiq worker threads in this process."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy import func, select

from backend.datasets.refs import item_refs
from backend.storage.job_tables import Job, Model
from tests.helpers.jobs import serve, wait_for

PCA_PARAMS = {"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}


async def test_pca_trains_and_infers_through_the_in_process_worker(
    jobs_client, image_dataset, session, job_settings
):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={"kind": "train", "dataset_id": image_dataset.id, "algorithm": "pca", "parameters": PCA_PARAMS},
        headers={"X-Labelwise-Tagger": "alice"},
    )
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert submitted["state"] == "queued"
    assert submitted["parameters"]["log_transform"] is True  # defaults filled in

    job = await wait_for(jobs_client, submitted["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["submitted_by"] == "alice"
    assert job["done"] == job["total"] == 32  # 40 items, 8 held out
    assert job["epoch"] == job["epochs"] == 4
    assert sorted(job["outputs"]) == ["model.json", "pca.npz"]

    metrics = (await jobs_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert all({"train_loss", "val_loss", "explained_variance"} <= set(m["metrics"]) for m in metrics)
    log = [line["message"] for line in (await jobs_client.get(f"/api/v1/jobs/{job['id']}/log")).json()]
    assert log[0] == "queued by alice" and log[-1] == "succeeded"

    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "ready"
    assert model["trained_on"]["item_count"] == 40
    assert model["files"] == ["model.json", "pca.npz"]
    assert 0 < model["summary"]["explained_variance"] <= 1
    download = await jobs_client.get(f"/api/v1/models/{model['id']}/files/pca.npz")
    assert download.status_code == 200
    with np.load(io.BytesIO(download.content)) as saved:
        assert saved["components"].shape == (4, 16 * 16)

    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": model["id"]})
    assert response.status_code == 201, response.text
    infer = await wait_for(jobs_client, response.json()["id"])
    assert infer["state"] == "succeeded", infer["error"]
    assert infer["dataset_id"] == image_dataset.id

    vectors = np.load(
        io.BytesIO((await jobs_client.get(f"/api/v1/models/{model['id']}/vectors?format=npy")).content)
    )
    item_ids = np.load(io.BytesIO((await jobs_client.get(f"/api/v1/models/{model['id']}/item-ids")).content))
    expected = [ref.item_id for ref in await item_refs(session, image_dataset.id)]
    assert vectors.dtype == np.float32 and vectors.shape == (40, 4)
    assert item_ids.tolist() == expected
    assert np.isfinite(vectors).all() and vectors.std() > 0

    table = pq.read_table(
        io.BytesIO((await jobs_client.get(f"/api/v1/models/{model['id']}/vectors?format=parquet")).content)
    )
    assert table.column("item_id").to_pylist() == expected
    assert np.allclose(np.stack(table.column("vector").to_numpy(zero_copy_only=False)), vectors)

    same = await jobs_client.get(f"/api/v1/jobs/{infer['id']}/outputs/vectors.npy")
    assert np.array_equal(np.load(io.BytesIO(same.content)), vectors)
    assert (await jobs_client.get(f"/api/v1/jobs/{infer['id']}/outputs/..%2Fmodel")).status_code == 404
    # nothing temporary is left beside the results
    model_dir = job_settings.artifact_dir / "models" / str(model["id"])
    assert not [p for p in model_dir.rglob("*") if p.name.startswith(".")]


async def test_invalid_parameters_are_refused_before_anything_is_queued(jobs_client, image_dataset, session):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "kind": "train",
            "dataset_id": image_dataset.id,
            "algorithm": "pca",
            "parameters": {"n_components": 0, "image_size": "big", "colour": "red"},
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID"
    fields = {e["field"] for e in error["details"]["errors"]}
    assert fields == {"n_components", "image_size", None}
    assert "Components must be at least 1" in error["message"]
    assert "unknown parameter(s): colour" in error["message"]

    cross = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "pca",
            "parameters": {"n_components": 20, "batch_size": 10},
        },
    )
    assert cross.status_code == 400
    assert "cannot exceed the batch size" in cross.json()["error"]["message"]

    too_few = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "pca",
            "parameters": {"n_components": 64, "batch_size": 64},
        },
    )
    assert too_few.status_code == 400
    assert "needs at least" in too_few.json()["error"]["message"]

    unknown = await jobs_client.post(
        "/api/v1/jobs", json={"dataset_id": image_dataset.id, "algorithm": "nope"}
    )
    assert unknown.status_code == 404
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert await session.scalar(select(func.count()).select_from(Model)) == 0


async def test_algorithms_are_listed_with_their_schemas(jobs_client):
    listed = (await jobs_client.get("/api/v1/algorithms")).json()
    pca = next(a for a in listed if a["key"] == "pca")
    assert pca["kind"] == "feature_extractor"
    props = pca["parameters_schema"]["properties"]
    assert props["n_components"]["default"] == 16 and props["n_components"]["maximum"] == 512
    assert props["n_components"]["description"]
    assert (await jobs_client.get("/api/v1/algorithms/pca")).json()["infer_schema"]["properties"][
        "batch_size"
    ]
    assert (await jobs_client.get("/api/v1/algorithms/missing")).status_code == 404


async def test_canceling_a_running_job_stops_it_at_the_next_step(jobs_client, image_dataset, job_settings):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 500, "step_seconds": 0.02},
        },
    )
    job = await wait_for(jobs_client, response.json()["id"], ("running",))
    while job["done"] < 2:
        job = await wait_for(jobs_client, job["id"], ("running",))
    canceled = await jobs_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["cancel_requested"] is True
    job = await wait_for(jobs_client, job["id"], timeout=10)
    assert job["state"] == "canceled"
    assert job["done"] < 500
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "canceled" and model["files"] == []
    model_dir = job_settings.artifact_dir / "models" / str(job["model_id"])
    assert list(model_dir.iterdir()) == []  # neither a final nor a temporary directory
    again = await jobs_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409


async def test_canceling_a_queued_job_means_it_never_runs(jobs_client, image_dataset, session):
    from backend.jobs import submission

    # Queued without a message (as the CLI does): nothing runs it until the runtime's next tick.
    job = await submission.submit_job(
        session,
        None,
        None,
        kind="train",
        dataset_id=image_dataset.id,
        algorithm="test-sleeper",  # type: ignore[arg-type]
    )
    canceled = (await jobs_client.post(f"/api/v1/jobs/{job.id}/cancel")).json()
    assert canceled["state"] == "canceled"
    assert canceled["finished_at"] is not None and canceled["started_at"] is None


async def test_a_failed_job_keeps_its_traceback_and_can_be_retried(
    jobs_client, image_dataset, job_settings, folder
):
    images = sorted((folder / "images").rglob("*.png"))
    hidden = [p.rename(p.with_suffix(".hidden")) for p in images]  # every item unreadable now
    response = await jobs_client.post(
        "/api/v1/jobs", json={"dataset_id": image_dataset.id, "algorithm": "pca", "parameters": PCA_PARAMS}
    )
    failed = await wait_for(jobs_client, response.json()["id"])
    assert failed["state"] == "failed"
    assert "fewer than 4 readable training images" in failed["error"]
    assert "Traceback" in failed["traceback"] and "pca.py" in failed["traceback"]
    model = (await jobs_client.get(f"/api/v1/models/{failed['model_id']}")).json()
    assert model["state"] == "failed"
    assert not (job_settings.artifact_dir / "models" / str(model["id"]) / "model").exists()
    assert (await jobs_client.get(f"/api/v1/models/{model['id']}/files/pca.npz")).status_code == 409

    for path in hidden:
        path.rename(path.with_suffix(".png"))
    retried = await jobs_client.post(f"/api/v1/jobs/{failed['id']}/retry")
    assert retried.status_code == 200
    assert retried.json()["state"] == "queued" and retried.json()["attempt"] == 2
    assert retried.json()["error"] is None
    job = await wait_for(jobs_client, failed["id"])
    assert job["state"] == "succeeded", job["error"]
    assert (await jobs_client.get(f"/api/v1/models/{model['id']}")).json()["state"] == "ready"
    log = [line["message"] for line in (await jobs_client.get(f"/api/v1/jobs/{job['id']}/log")).json()]
    assert any(m.startswith("failed: ValueError") for m in log)
    assert "retry by tester: attempt 2 queued" in log
    assert (await jobs_client.post(f"/api/v1/jobs/{job['id']}/retry")).status_code == 409


async def test_an_unreachable_broker_refuses_the_submit_and_creates_nothing(
    job_settings, database, image_dataset, session
):
    settings = job_settings.model_copy(update={"broker_url": "redis://:secret@127.0.0.1:9/0"})
    async with serve(settings) as client:
        response = await client.post(
            "/api/v1/jobs", json={"dataset_id": image_dataset.id, "algorithm": "pca"}
        )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "BROKER_UNAVAILABLE"
    assert "redis://127.0.0.1:9" in error["message"] and "nothing was submitted" in error["message"]
    assert "secret" not in response.text
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert await session.scalar(select(func.count()).select_from(Model)) == 0


async def test_infer_needs_a_ready_model(jobs_client, image_dataset):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={"dataset_id": image_dataset.id, "algorithm": "test-sleeper", "parameters": {"fail_at_step": 1}},
    )
    failed = await wait_for(jobs_client, response.json()["id"])
    refused = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": failed["model_id"]})
    assert refused.status_code == 409
    assert "only a ready model" in refused.json()["error"]["message"]
    missing = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": 999999})
    assert missing.status_code == 404


async def test_outputs_are_written_under_a_temporary_name_and_renamed_when_whole(
    jobs_client, image_dataset, job_settings
):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": image_dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 30, "step_seconds": 0.05},
        },
    )
    job = await wait_for(jobs_client, response.json()["id"], ("running",))
    while job["done"] < 2:
        job = await wait_for(jobs_client, job["id"], ("running",))
    model_dir = job_settings.artifact_dir / "models" / str(job["model_id"])
    [temp] = list(model_dir.iterdir())
    assert temp.name.startswith(f".tmp-job{job['id']}-a1-")
    assert (temp / "step-1.txt").exists()  # being written, under the temporary name only
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "training" and model["files"] == []
    assert (await jobs_client.get(f"/api/v1/models/{job['model_id']}/files/step-1.txt")).status_code == 409

    job = await wait_for(jobs_client, job["id"])
    assert job["state"] == "succeeded"
    assert [p.name for p in model_dir.iterdir()] == ["model"]  # renamed into place, nothing else left
    assert (model_dir / "model" / "model.txt").read_text() == "slept well"
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "ready" and "model.txt" in model["files"]
