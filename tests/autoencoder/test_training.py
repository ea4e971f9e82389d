"""Autoencoder jobs end to end through the in-process worker: training, inference, reproducibility,
fine-tuning."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from backend.datasets.refs import item_refs
from tests.helpers.autoencoder import TINY, demo_dataset
from tests.helpers.jobs import wait_for

pytestmark = pytest.mark.ml


async def train(client, dataset_id: int, **params) -> dict:
    response = await client.post(
        "/api/v1/jobs",
        json={"kind": "train", "dataset_id": dataset_id, "algorithm": "autoencoder", "parameters": params},
    )
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]
    return job


async def curve(client, job_id: int) -> list[tuple[float, float]]:
    metrics = (await client.get(f"/api/v1/jobs/{job_id}/metrics")).json()
    return [(m["metrics"]["train_loss"], m["metrics"]["val_loss"]) for m in metrics]


async def test_training_lowers_the_validation_loss_and_inference_writes_aligned_vectors(
    jobs_client, demo, session
):
    job = await train(jobs_client, demo.id, **{**TINY, "epochs": 6})
    metrics = (await jobs_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    val = [m["metrics"]["val_loss"] for m in metrics]
    assert min(val[1:]) < 0.8 * val[0], val
    assert all(m["metrics"]["train_loss"] > 0 and m["metrics"]["epoch_seconds"] > 0 for m in metrics)
    assert job["done"] == job["total"] == 6 * 5  # 36 training items in batches of 8, six epochs
    assert sorted(job["outputs"]) == ["best.pt", "last.pt", "latent_mean.npy", "model.json"]

    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "ready"
    assert model["summary"]["best_val_loss"] == pytest.approx(min(val))
    assert model["summary"]["epochs_run"] == 6 and not model["summary"]["stopped_early"]

    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": model["id"]})
    infer = await wait_for(jobs_client, response.json()["id"], timeout=60)
    assert infer["state"] == "succeeded", infer["error"]
    outputs = f"/api/v1/jobs/{infer['id']}/outputs"
    vectors = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/vectors.npy")).content))
    item_ids = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/item_ids.npy")).content))
    refs = await item_refs(session, demo.id)
    assert vectors.dtype == np.float32 and vectors.shape == (48, TINY["latent_size"])
    assert item_ids.tolist() == [ref.item_id for ref in refs]
    assert np.isfinite(vectors).all() and vectors.std() > 0
    assert len(np.unique(vectors.round(5), axis=0)) == 48  # every image its own vector
    # centred on the training items' mean code, so cosine similarity sees differences, not the offset
    assert np.linalg.norm(vectors.mean(axis=0)) < 0.3 * np.linalg.norm(vectors, axis=1).mean()

    recon = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/reconstructions.npy")).content))
    recon_ids = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/reconstruction_item_ids.npy")).content))
    assert recon.shape == (16, 32, 32) and recon.dtype == np.float32
    assert set(recon_ids.tolist()) <= set(item_ids.tolist()) and len(set(recon_ids.tolist())) == 16
    assert recon_ids[0] == refs[0].item_id and recon_ids[-1] == refs[-1].item_id  # spread over the set


async def test_the_same_seed_repeats_the_loss_curve_with_or_without_loader_workers(
    jobs_client, demo, monkeypatch
):
    import workers.algorithms.autoencoder as autoencoder

    params = {
        **TINY,
        "augment_hflip": True,
        "augment_vflip": True,
        "augment_brightness": 0.1,
        "augment_contrast": 0.2,
        "seed": 7,
    }
    first = await curve(jobs_client, (await train(jobs_client, demo.id, **params))["id"])
    again = await curve(jobs_client, (await train(jobs_client, demo.id, **params))["id"])
    assert first == again  # exactly: same weights, split, batch order and augmentations
    monkeypatch.setattr(autoencoder, "LOADER_WORKERS_FROM", 1)  # two worker processes prepare batches

    def no_fork() -> int:
        raise AssertionError("a loader worker forked from the process whose threads run the jobs")

    monkeypatch.setattr(os, "fork", no_fork)  # they start from a clean server process instead
    with_workers = await train(jobs_client, demo.id, **params)
    assert await curve(jobs_client, with_workers["id"]) == first
    log = [
        line["message"] for line in (await jobs_client.get(f"/api/v1/jobs/{with_workers['id']}/log")).json()
    ]
    assert any("2 loader workers" in line for line in log)
    other = await curve(jobs_client, (await train(jobs_client, demo.id, **{**params, "seed": 8}))["id"])
    assert other != first


async def test_early_stopping_ends_the_run_and_keeps_the_best_checkpoint(jobs_client, demo):
    job = await train(
        jobs_client, demo.id, **{**TINY, "epochs": 40, "learning_rate": 1.0, "early_stopping_patience": 2}
    )
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    summary = model["summary"]
    assert summary["stopped_early"] and summary["epochs_run"] < 40
    assert summary["epochs_run"] == summary["best_epoch"] + 2, summary
    assert job["done"] == job["total"]


@pytest.mark.parametrize(
    "variant",
    [
        {"optimizer": "sgd", "momentum": 0.9, "criterion": "l1", "learning_rate": 0.05},
        {"optimizer": "rmsprop", "criterion": "smooth_l1", "augment_target": "input_and_target",
         "augment_hflip": True, "lr_step_size": 1, "lr_factor": 0.5},
        {"optimizer": "adamw", "weight_decay": 0.01, "image_width": 48, "validation_fraction": 0},
    ],
)  # fmt: skip
async def test_other_optimizers_losses_and_shapes_train(jobs_client, demo, variant):
    job = await train(jobs_client, demo.id, **{**TINY, "epochs": 2, **variant})
    metrics = (await jobs_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
    assert len(metrics) == 2 and all(np.isfinite(m["metrics"]["train_loss"]) for m in metrics)
    if variant.get("lr_step_size") == 1:
        assert metrics[1]["metrics"]["learning_rate"] == pytest.approx(
            metrics[0]["metrics"]["learning_rate"] / 2
        )


async def test_fine_tuning_starts_from_the_source_models_weights(jobs_client, session, job_settings, folder):
    source_data, _ = await demo_dataset(session, job_settings, folder, count=40, seed=1, name="beamline-a")
    target_data, _ = await demo_dataset(session, job_settings, folder, count=24, seed=2, name="beamline-b")
    source = await train(jobs_client, source_data.id, **{**TINY, "epochs": 4})
    source_model = (await jobs_client.get(f"/api/v1/models/{source['model_id']}")).json()

    # On the source's own data and split, the fine-tuned run starts where the source's best epoch ended.
    same = await train(
        jobs_client, source_data.id, **{**TINY, "epochs": 1, "fine_tune_from": source_model["id"]}
    )
    same_model = (await jobs_client.get(f"/api/v1/models/{same['model_id']}")).json()
    assert same_model["trained_on"]["fine_tune_from"]["model_id"] == source_model["id"]
    assert same_model["summary"]["fine_tuned_from"] == source_model["id"]
    assert same_model["summary"]["initial_val_loss"] == pytest.approx(
        source_model["summary"]["best_val_loss"], rel=1e-5
    )

    # On another dataset it starts far better than random weights do.
    tuned = await train(
        jobs_client, target_data.id, **{**TINY, "epochs": 1, "fine_tune_from": source_model["id"]}
    )
    scratch = await train(jobs_client, target_data.id, **{**TINY, "epochs": 1})
    tuned_loss = (await curve(jobs_client, tuned["id"]))[0][1]
    scratch_loss = (await curve(jobs_client, scratch["id"]))[0][1]
    assert tuned_loss < 0.75 * scratch_loss, (tuned_loss, scratch_loss)

    other_shape = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": target_data.id,
            "algorithm": "autoencoder",
            "parameters": {**TINY, "latent_size": 32, "fine_tune_from": source_model["id"]},
        },
    )
    assert other_shape.status_code == 400
    message = other_shape.json()["error"]["message"]
    assert "its network has another shape" in message and "Latent size (L) 32" in message


async def test_an_unreadable_item_is_left_out_of_the_vectors_and_the_rest_stay_aligned(
    jobs_client, demo, session, folder
):
    job = await train(jobs_client, demo.id, **{**TINY, "epochs": 1})
    refs = await item_refs(session, demo.id)
    gone = refs[5]
    path = next((folder / "demo" / "images").glob(Path(gone.uri).name))
    path.rename(path.with_suffix(".hidden"))
    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": job["model_id"]})
    infer = await wait_for(jobs_client, response.json()["id"], timeout=60)
    assert infer["state"] == "succeeded", infer["error"]
    outputs = f"/api/v1/jobs/{infer['id']}/outputs"
    vectors = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/vectors.npy")).content))
    item_ids = np.load(io.BytesIO((await jobs_client.get(f"{outputs}/item_ids.npy")).content))
    assert item_ids.tolist() == [ref.item_id for ref in refs if ref.item_id != gone.item_id]
    assert vectors.shape == (47, TINY["latent_size"])
    log = [line["message"] for line in (await jobs_client.get(f"/api/v1/jobs/{infer['id']}/log")).json()]
    assert any(f"item {gone.item_id} skipped" in line for line in log)
    assert any("encoded 47 of 48 items" in line for line in log)
