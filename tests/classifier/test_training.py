"""Classifier jobs end to end through the in-process worker: training from labels, inference,
label snapshots, the Keras backend."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from backend.datasets.refs import item_refs
from backend.storage.types import utcnow
from tests.helpers.classifier import TINY, demo_dataset, label
from tests.helpers.jobs import wait_for, wait_until

pytestmark = pytest.mark.ml
CLASSES = ("empty", "rings", "peaks")
COUNT, LABELED = 240, 90  # 120 items of the three classes: 90 labeled, 30 not


async def submit(client, dataset_id: int, **params) -> dict:
    response = await client.post(
        "/api/v1/jobs",
        json={"kind": "train", "dataset_id": dataset_id, "algorithm": "classifier", "parameters": params},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def train(client, dataset_id: int, **params) -> dict:
    job = await wait_for(client, (await submit(client, dataset_id, **params))["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    return job


async def output(client, prefix: str, name: str) -> bytes:
    response = await client.get(f"{prefix}/{name}")
    assert response.status_code == 200, response.text
    return response.content


async def test_small_network_learns_the_demo_labels_and_infers_aligned_probabilities_and_features(
    jobs_client, session, job_settings, folder
):
    # Three of the demo classes: the other items stay unlabeled (and out of the accuracy figures).
    demo = await demo_dataset(session, job_settings, folder, count=COUNT, size=64, class_names=CLASSES)
    relevant = [i for i in sorted(demo.truth) if demo.truth[i] in CLASSES]
    labeled = relevant[:LABELED]
    await label(session, demo, labeled)
    job = await train(jobs_client, demo.id, **TINY)
    epochs = TINY["epochs"]

    metrics = (await jobs_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
    assert [m["epoch"] for m in metrics] == list(range(1, epochs + 1))
    for m in metrics:
        assert {"train_loss", "val_loss", "accuracy", "val_accuracy"} <= set(m["metrics"])
    assert {"model.keras", "model.json", "confusion_matrix.json"} <= set(job["outputs"])

    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "ready"
    summary = model["summary"]
    chance = 1 / 3
    assert summary["val_accuracy"] > 1.5 * chance, (summary, [m["metrics"] for m in metrics])
    per_class = {name: sum(demo.truth[i] == name for i in labeled) for name in demo.classes}
    held_out = sum(round(n / 4) for n in per_class.values())  # stratified: a quarter of each class
    assert summary["validation_items"] == held_out and summary["train_items"] == LABELED - held_out
    assert job["done"] == job["total"] == epochs * -(-summary["train_items"] // 16)  # batches of 16
    assert summary["keras_backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")

    prefix = f"/api/v1/models/{model['id']}/files"
    confusion = json.loads(await output(jobs_client, prefix, "confusion_matrix.json"))
    assert confusion["labels"] == list(CLASSES)
    matrix = np.asarray(confusion["matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == held_out
    assert matrix.sum(axis=1).tolist() == [round(per_class[name] / 4) for name in confusion["labels"]]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(summary["val_accuracy"], abs=1e-6)
    quality = summary["quality"]  # the held-out report every classifier writes (issue 19)
    assert quality["accuracy"] == pytest.approx(summary["val_accuracy"], abs=1e-6)
    assert quality["confusion"]["matrix"] == confusion["matrix"] and quality["items"] == held_out
    assert model["fitness"]["status"] == (
        "fit" if quality["accuracy"] > quality["baseline_accuracy"] else "unfit"
    )
    assert "validation.npz" in job["outputs"] and "label_issues.npz" in job["outputs"]

    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": model["id"]})
    assert response.status_code == 201, response.text
    infer = await wait_for(jobs_client, response.json()["id"], timeout=120)
    assert infer["state"] == "succeeded", infer["error"]
    prefix = f"/api/v1/jobs/{infer['id']}/outputs"
    probabilities = np.load(io.BytesIO(await output(jobs_client, prefix, "probabilities.npy")))
    vectors = np.load(io.BytesIO(await output(jobs_client, prefix, "vectors.npy")))
    item_ids = np.load(io.BytesIO(await output(jobs_client, prefix, "item_ids.npy")))
    columns = json.loads(await output(jobs_client, prefix, "classes.json"))
    refs = await item_refs(session, demo.id)
    assert item_ids.tolist() == [ref.item_id for ref in refs]  # labeled and unlabeled, dataset order
    assert probabilities.shape == (COUNT, 3) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [c["label_id"] for c in columns] == list(demo.classes.values())
    assert vectors.shape == (COUNT, 128) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert len(np.unique(vectors.round(5), axis=0)) == COUNT

    names = [c["name"] for c in columns]
    predicted = [names[i] for i in probabilities.argmax(axis=1)]
    unlabeled = [n for n, i in enumerate(item_ids.tolist()) if i in set(relevant) - set(labeled)]
    accuracy = np.mean([predicted[n] == demo.truth[int(item_ids[n])] for n in unlabeled])
    print(f"accuracy: validation {summary['val_accuracy']:.3f}, unlabeled {accuracy:.3f}")
    assert len(unlabeled) == 30 and accuracy > 1.5 * chance, accuracy  # items it never saw

    # The model says which items trained it: exactly the labeled ones.
    meta = json.loads(await output(jobs_client, f"/api/v1/models/{model['id']}/files", "model.json"))
    assert set(meta["train_item_ids"]) | set(meta["validation_item_ids"]) == set(labeled)


async def test_the_label_snapshot_recorded_with_the_model_matches_the_events(
    jobs_client, session, job_settings, folder
):
    demo = await demo_dataset(session, job_settings, folder, count=36, class_names=CLASSES)
    relevant = [i for i in sorted(demo.truth) if demo.truth[i] in CLASSES]
    first, second = relevant[:12], relevant[12:18]
    await label(session, demo, first, tagger="ana")
    cutoff = utcnow()
    await label(session, demo, second, tagger="ben")  # after the cutoff, by another tagger
    await label(session, demo, first[:2], tagger="ben", name="peaks")  # ben relabels two of ana's items
    quick = {**TINY, "epochs": 1, "validation_fraction": 0.0}

    async def trained_items(**snapshot) -> tuple[set[int], dict]:
        job = await train(jobs_client, demo.id, **quick, **snapshot)
        model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
        meta = json.loads(await output(jobs_client, f"/api/v1/models/{model['id']}/files", "model.json"))
        return set(meta["train_item_ids"]) | set(meta["validation_item_ids"]), {**model, "meta": meta}

    items, model = await trained_items(label_snapshot="as_of", labels_as_of=cutoff.isoformat())
    assert items == set(first)  # the later event is left out
    assert model["trained_on"]["label_snapshot"] == {"mode": "as_of", "as_of": cutoff.isoformat()}
    assert model["meta"]["label_snapshot"]["labels_as_of"] == cutoff.isoformat()
    expected = {name: sum(demo.truth[i] == name for i in first) for name in CLASSES}
    assert model["summary"]["label_counts"] == {k: v for k, v in expected.items() if v}

    items, model = await trained_items(label_snapshot="tagger", labels_tagger="ben")
    assert items == set(second) | set(first[:2])
    assert model["trained_on"]["labels_tagger"] == "ben"
    assert model["summary"]["label_counts"]["peaks"] == sum(demo.truth[i] == "peaks" for i in second) + 2

    items, model = await trained_items()
    assert items == set(first) | set(second)
    assert model["trained_on"]["label_snapshot"] == {"mode": "current"}
    assert (
        model["summary"]["label_counts"]["peaks"]
        == sum(demo.truth[i] == "peaks" for i in first[2:] + second) + 2
    )


async def test_training_starts_from_a_local_weights_file(jobs_client, session, job_settings, folder):
    import keras

    from workers.algorithms.classifier_net import small_cnn

    demo = await demo_dataset(session, job_settings, folder, count=24, class_names=CLASSES)
    await label(session, demo, [i for i in sorted(demo.truth) if demo.truth[i] in CLASSES])
    source = small_cnn(32)
    source.set_weights([np.full_like(w, 0.01) for w in source.get_weights()])
    path = folder / "start.weights.h5"
    source.save_weights(path)
    keras.backend.clear_session()
    job = await train(jobs_client, demo.id, **{**TINY, "epochs": 1}, weights="local", weights_path=str(path))
    assert job["state"] == "succeeded"

    # A file of another network does not fit: the job fails and says why.
    bad = await submit(
        jobs_client,
        demo.id,
        **{**TINY, "epochs": 1, "architecture": "VGG16"},
        weights="local",
        weights_path=str(path),
    )
    failed = await wait_for(jobs_client, bad["id"], timeout=120)
    assert failed["state"] == "failed" and failed["error"]


async def test_a_canceled_training_stops_between_batches_and_leaves_no_model(
    jobs_client, session, job_settings, folder
):
    demo = await demo_dataset(session, job_settings, folder, count=24, class_names=CLASSES)
    await label(session, demo, [i for i in sorted(demo.truth) if demo.truth[i] in CLASSES])
    job = await submit(jobs_client, demo.id, **{**TINY, "epochs": 500, "batch_size": 2})

    async def started() -> bool:
        current = (await jobs_client.get(f"/api/v1/jobs/{job['id']}")).json()
        return current["state"] == "running" and (current["epoch"] or 0) >= 1

    await wait_until(started, timeout=120, what="training to start")
    response = await jobs_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code in (200, 201), response.text
    done = await wait_for(jobs_client, job["id"], timeout=60)
    assert done["state"] == "canceled" and done["epoch"] < 500
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    assert model["state"] == "canceled" and not model["files"]
