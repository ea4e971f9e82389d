"""The scattering classifier (azimuthal descriptors, Keras) end to end through the job pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.azimuthal import job_output, run_job
from tests.helpers.classifier import demo_dataset, label

pytestmark = pytest.mark.ml

CLASSES = ("empty", "rings", "peaks")
QUICK = {"epochs": 60, "hidden_units": 32, "batch_size": 16, "validation_fraction": 0.2}


async def job_output_npz(client, model_id: int, name: str) -> dict[str, np.ndarray]:
    """A model file that is an ``.npz`` archive, read through REST."""
    import io

    response = await client.get(f"/api/v1/models/{model_id}/files/{name}")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
async def scattering(session, job_settings, folder):
    """180 demo frames of 128 px (30 a class); three classes made, half of each labeled."""
    demo = await demo_dataset(session, job_settings, folder, count=180, size=128, class_names=CLASSES)
    labeled = [i for name in CLASSES for i in demo.items_of(name)[::2]]
    await label(session, demo, labeled)
    return demo, labeled


async def test_it_learns_the_classes_from_few_labels_and_labels_by_probability(jobs_client, scattering):
    demo, labeled = scattering
    body = {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal_classifier", "parameters": QUICK}
    train = await run_job(jobs_client, body)
    model = (await jobs_client.get(f"/api/v1/models/{train['model_id']}")).json()
    assert model["summary"]["label_counts"] == {name: 15 for name in CLASSES}
    assert model["summary"]["epochs_run"] == 60
    assert model["summary"]["temperature"] != 1.0  # fitted on the validation items (1: not calibrated)
    metrics = (await jobs_client.get(f"/api/v1/jobs/{train['id']}/metrics")).json()
    assert len(metrics) == 60 and metrics[-1]["metrics"]["train_loss"] < metrics[0]["metrics"]["train_loss"]
    confusion = json.loads(
        (await jobs_client.get(f"/api/v1/jobs/{train['id']}/outputs/confusion_matrix.json")).text
    )
    assert confusion["labels"] == sorted(CLASSES, key=[c for c in demo.classes].index)
    assert sum(map(sum, confusion["matrix"])) == 9  # a fifth of each class held out
    quality, fitness = model["summary"]["quality"], model["fitness"]
    assert quality["items"] == 9 and quality["confusion"]["matrix"] == confusion["matrix"]
    assert quality["baseline_accuracy"] == pytest.approx(3 / 9) and set(quality["per_class_recall"]) == set(
        CLASSES
    )
    assert fitness["status"] == "fit" and fitness["accuracy"] > fitness["baseline_accuracy"]
    held_out = await job_output_npz(jobs_client, train["model_id"], "validation.npz")
    assert held_out["probabilities"].shape == (9, 3) and len(held_out["item_ids"]) == 9

    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    probabilities = await job_output(jobs_client, infer["id"], "probabilities.npy")
    vectors = await job_output(jobs_client, infer["id"], "vectors.npy")
    item_ids = await job_output(jobs_client, infer["id"], "item_ids.npy")
    assert probabilities.shape == (180, 3) and vectors.shape == (180, 32)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    classes = json.loads((await jobs_client.get(f"/api/v1/jobs/{infer['id']}/outputs/classes.json")).text)
    names = [c["name"] for c in classes]
    unlabeled = [
        row
        for row, item in enumerate(item_ids)
        if int(item) not in set(labeled) and demo.truth[int(item)] in CLASSES
    ]
    assert len(unlabeled) == 45
    predicted = [names[k] for k in probabilities[unlabeled].argmax(axis=1)]
    truth = [demo.truth[int(item_ids[row])] for row in unlabeled]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert accuracy >= 0.8, accuracy  # chance is 1/3; 15 labels per class

    gallery = await jobs_client.get(
        f"/api/v1/datasets/{demo.id}/probability",
        params={"model_id": train["model_id"], "threshold": 0.5, "limit": 100},
    )
    assert gallery.status_code == 200, gallery.text
    assert gallery.json()["count"] > 0
    assert {row["item_id"] for row in gallery.json()["items"]}.isdisjoint(labeled)


async def test_bad_parameters_are_refused_before_any_work(jobs_client, scattering):
    demo, _ = scattering
    for params, words in (
        ({"centre_column": 40.0}, "give both beam centre coordinates"),
        ({"label_snapshot": "as_of", "labels_as_of": "yesterday"}, "ISO 8601"),
        ({"hidden_units": 2}, "hidden_units"),
    ):
        response = await jobs_client.post(
            "/api/v1/jobs",
            json={
                "kind": "train",
                "dataset_id": demo.id,
                "algorithm": "azimuthal_classifier",
                "parameters": params,
            },
        )
        assert response.status_code == 400, response.text
        assert words in response.text
