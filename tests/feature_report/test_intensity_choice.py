"""The feature report decides where absolute intensity helps (issue 17, items 2 and 4): it scores
each feature model without and with the intensity descriptors appended and keeps the better
variant. On generated 16-bit images whose two classes differ only by brightness, it chooses the
descriptors and says so in its one line; its button runs the best model's inference with them, so
the pages' default model uses them. Where the classes differ by shape only, it leaves them off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from backend.datasets.service import create_dataset
from backend.storage.job_tables import Model
from tests.helpers.azimuthal import job_output, run_job
from tests.helpers.feature_report import features_of
from tests.helpers.guided import accept, kinds, of_kind, queue
from tests.helpers.jobs import follow_up, switch, wait_for
from tests.helpers.pages import csrf_headers
from tests.html import by_id, parse, selected
from workers.intensity import NAMES, SIGNAL_NAMES

pytestmark = pytest.mark.ml

API = "/api/v1"
SIZE = 24
PER_CLASS = 20
PCA = {"n_components": 4, "image_size": 16, "batch_size": 8, "validation_fraction": 0.0}


def _blob(rng: np.random.Generator, upright: bool) -> np.ndarray:
    """A bar, lying or upright, of random length and place, with noise proportional to the signal
    (so a dim and a bright copy look alike once the display transform has scaled them)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    cy, cx = rng.uniform(10, 14, 2)
    half_long, half_short = rng.uniform(6, 9), rng.uniform(1.5, 2.5)
    dy, dx = abs(yy - cy), abs(xx - cx)
    inside = (dy <= half_long) & (dx <= half_short) if upright else (dx <= half_long) & (dy <= half_short)
    return inside + 0.1 + 0.05 * rng.random((SIZE, SIZE))


def _folder(root: Path, *, by: str) -> dict[str, str]:
    """Two classes of 16-bit TIFFs: ``by="brightness"`` (same shapes, 10x apart in counts) or
    ``by="shape"`` (lying and upright bars, the same spread of brightness). File name -> class."""
    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for k in range(2 * PER_CLASS):
        cls = k % 2
        if by == "brightness":
            image = _blob(rng, upright=bool(rng.integers(2))) * (2000 if cls == 0 else 20000)
        else:
            image = _blob(rng, upright=bool(cls)) * rng.uniform(2000, 20000)
        name = f"cell_{k:03d}.tif"
        tifffile.imwrite(root / name, image.astype(np.uint16))
        truth[name] = ("dim", "bright")[cls] if by == "brightness" else ("lying", "upright")[cls]
    return truth


async def _labeled(
    client: Any, session: Any, settings: Any, folder: Path, by: str, unlabeled: int = 0
) -> int:
    """The generated dataset, every item labeled with its class but the last ``unlabeled``."""
    truth = _folder(folder / "images", by=by)
    dataset, _ = await create_dataset(session, settings, f"{by}-only", [str(folder / "images")])
    items = (await client.get(f"{API}/datasets/{dataset.id}/items", params={"limit": 100})).json()["items"]
    classes: dict[str, int] = {}
    for name in sorted(set(truth.values())):
        made = await client.post(f"{API}/datasets/{dataset.id}/classes", json={"name": name})
        classes[name] = made.json()["id"]
    for item in items[: len(items) - unlabeled]:
        label = classes[truth[Path(item["uri"]).name]]
        tagged = await client.post(
            f"{API}/datasets/{dataset.id}/tags", json={"item_ids": [item["id"]], "label_id": label}
        )
        assert tagged.status_code == 201, tagged.text
    return dataset.id


async def _report(client: Any, dataset_id: int) -> dict:
    response = await client.post(f"{API}/datasets/{dataset_id}/feature-report", json={})
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    return (await client.get(f"{API}/datasets/{dataset_id}/feature-report")).json()


async def test_brightness_only_classes_get_the_intensity_variant_and_the_pages_use_it(
    jobs_client, session, job_settings, folder
):
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness")
    pca = await features_of(jobs_client, dataset_id, "pca", PCA)

    report = await _report(jobs_client, dataset_id)
    (entry,) = report["models"]
    assert entry["with_intensity"] is True and entry["intensity_in_vectors"] is False
    assert entry["score_with_intensity"] >= entry["score_without_intensity"] + 0.2, entry
    assert entry["score"] == entry["score_with_intensity"] and entry["knn_balanced"] > 0.9
    assert entry["dimensions"] == 4 + len(NAMES)
    assert report["infer_intensity"] == "on"
    assert "with absolute intensity appended" in report["explanation"]
    assert "Run its inference with intensity on" in report["explanation"]
    query = "query($d: Int!) { featureReport(datasetId: $d) { inferIntensity models { withIntensity } } }"
    graph = (await jobs_client.post("/graphql", json={"query": query, "variables": {"d": dataset_id}})).json()
    assert graph["data"]["featureReport"] == {"inferIntensity": "on", "models": [{"withIntensity": True}]}

    # the report's button runs the best model's inference with the descriptors appended
    assert (
        "Run its inference with intensity on" in (await jobs_client.get(f"/datasets/{dataset_id}/label")).text
    )
    page = await jobs_client.get("/models", params={"dataset_id": dataset_id})
    assert by_id(parse(page.text), "intensity-inference") is not None and "with intensity on" in page.text
    headers = await csrf_headers(jobs_client, f"/datasets/{dataset_id}/label")
    headers.pop("hx-request")
    ran = await jobs_client.post(
        f"/datasets/{dataset_id}/feature-report/intensity-inference", headers=headers, follow_redirects=False
    )
    assert ran.status_code == 303, ran.text
    job_id = int(ran.headers["location"].rsplit("/", 1)[-1])
    job = await wait_for(jobs_client, job_id, timeout=180)
    assert job["state"] == "succeeded" and job["kind"] == "infer" and job["model_id"] == pca, job
    assert job["parameters"]["intensity_descriptors"] == "on" and "intensity.json" in job["outputs"]

    again = await _report(jobs_client, dataset_id)
    (entry,) = again["models"]
    assert entry["with_intensity"] is True and entry["intensity_in_vectors"] is True
    assert again["infer_intensity"] is None and "Run its inference" not in again["explanation"]
    page = await jobs_client.get("/models", params={"dataset_id": dataset_id})
    assert 'id="intensity-inference"' not in page.text and "with" in page.text
    explorer = await jobs_client.get(f"/datasets/{dataset_id}/explorer")
    assert selected(parse(explorer.text), pca)

    refused = await jobs_client.post(
        f"/datasets/{dataset_id}/feature-report/intensity-inference", headers=headers, follow_redirects=False
    )
    assert refused.status_code == 400


async def test_keeping_models_fresh_computes_the_variant_the_report_chose(
    jobs_client, session, job_settings, folder
):
    """With the switch on, a report that chose the intensity descriptors is followed by the best
    model's inference with them (the queue's "compute the features ... with intensity
    descriptors", one click less), and that by its index; the queue then offers it no more."""
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness")
    pca = await features_of(jobs_client, dataset_id, "pca", PCA)
    await switch(jobs_client, dataset_id, True)
    report = await _report(jobs_client, dataset_id)
    assert report["infer_intensity"] == "on"
    infer = await follow_up(jobs_client, report["job_id"], dataset_id)
    assert (infer["kind"], infer["model_id"], infer["submitted_by"]) == ("infer", pca, "keep-models-fresh")
    done = await wait_for(jobs_client, infer["id"], timeout=180)
    assert done["state"] == "succeeded" and done["parameters"]["intensity_descriptors"] == "on", done
    index = await follow_up(jobs_client, infer["id"], dataset_id)
    assert index["kind"] == "build-index"
    await wait_for(jobs_client, index["id"])
    found = await queue(jobs_client, dataset_id)
    assert not [s for s in of_kind(found, "run_inference") if "intensity" in s["title"]], found
    assert not any("computes them by itself" in need for need in found["needs"]), found["needs"]


async def test_shape_only_classes_keep_the_vectors_plain(jobs_client, session, job_settings, folder):
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "shape")
    await features_of(jobs_client, dataset_id, "pca", PCA)
    report = await _report(jobs_client, dataset_id)
    (entry,) = report["models"]
    assert entry["score_without_intensity"] > 0.9, entry
    assert entry["with_intensity"] is False and entry["score"] == entry["score_without_intensity"]
    assert report["infer_intensity"] is None and entry["dimensions"] == 4
    assert "without intensity descriptors" in report["explanation"]


async def test_an_inference_option_turns_the_descriptors_on_or_off_whatever_the_model_says(
    jobs_client, image_dataset
):
    plain = await features_of(jobs_client, image_dataset.id, "pca", PCA)
    on = await run_job(
        jobs_client, {"kind": "infer", "model_id": plain, "parameters": {"intensity_descriptors": "on"}}
    )
    assert "intensity.json" in on["outputs"]
    with_block = await features_of(jobs_client, image_dataset.id, "pca", {**PCA, "intensity_features": True})
    off = await run_job(
        jobs_client, {"kind": "infer", "model_id": with_block, "parameters": {"intensity_descriptors": "off"}}
    )
    assert "intensity.json" not in off["outputs"]
    bad = await jobs_client.post(
        f"{API}/jobs",
        json={"kind": "infer", "model_id": plain, "parameters": {"intensity_descriptors": "maybe"}},
    )
    assert bad.status_code == 400


async def test_the_queue_computes_the_chosen_variant_before_a_classifier_learns_and_retrains_after(
    jobs_client, session, job_settings, folder
):
    """A vector classifier learns from the stored vectors, so one trained before the report's
    intensity variant is computed learns from vectors the report found wanting (a cell-cycle study
    session did, and its first page of several classes held a third of what it promised). The
    queue offers the inference first, carrying what the classifier would unlock, and says the
    classifier waits; a classifier trained on the plain vectors all the same is due for retraining
    once they change, labels grown or not, and only once."""
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness", unlabeled=8)
    await features_of(jobs_client, dataset_id, "pca", PCA)
    assert "retrain" in kinds(await queue(jobs_client, dataset_id))  # no report yet: a classifier
    assert (await _report(jobs_client, dataset_id))["infer_intensity"] == "on"

    found = await queue(jobs_client, dataset_id)
    (inference,) = [s for s in of_kind(found, "run_inference") if "intensity" in s["title"]]
    assert "retrain" not in kinds(found)
    assert "the classifier waits for them" in inference["reason"]
    assert any("the classifier waits for the features of" in need for need in found["needs"]), found["needs"]

    # a classifier on the plain vectors all the same (the train page's choice, the report's model)
    plain = await run_job(
        jobs_client,
        {
            "kind": "train",
            "dataset_id": dataset_id,
            "algorithm": "vector_classifier",
            "parameters": {"epochs": 20},
        },
    )
    await run_job(jobs_client, {"kind": "infer", "model_id": plain["model_id"]})
    assert "retrain" not in kinds(await queue(jobs_client, dataset_id))  # still waiting for the vectors

    ran = await accept(jobs_client, dataset_id, {"key": inference["key"]})
    assert ran.status_code == 201, ran.text
    (infer_id,) = ran.json()["job_ids"]
    assert (await wait_for(jobs_client, infer_id, timeout=180))["state"] == "succeeded"

    found = await queue(jobs_client, dataset_id)
    (retrain,) = of_kind(found, "retrain")
    assert retrain["title"] == f"Retrain the classifier: its features changed since model {plain['model_id']}"
    assert f"inference {infer_id}" in retrain["reason"]
    assert not any("waits" in need for need in found["needs"])
    trained = await accept(jobs_client, dataset_id, {"key": retrain["key"]})
    assert trained.status_code == 201, trained.text
    job = await wait_for(jobs_client, trained.json()["job_ids"][0], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    model = (await jobs_client.get(f"{API}/models/{job['model_id']}")).json()
    assert model["trained_on"]["features"]["inference_job"] == infer_id
    assert "retrain" not in kinds(await queue(jobs_client, dataset_id))  # once, not again and again


async def _vectors(client: Any, infer_id: int) -> tuple[np.ndarray, np.ndarray]:
    return await job_output(client, infer_id, "item_ids.npy"), await job_output(
        client, infer_id, "vectors.npy"
    )


async def test_the_intensity_extractor_alone_tells_bright_from_dim_and_is_scored_as_itself(
    jobs_client, session, job_settings, folder
):
    """The descriptors as a feature model of their own: standardised numbers per item, the
    bright class apart from the dim one (every nearest neighbour of its own class), and the report
    scores it once, without a variant that would append the same descriptors again."""
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness")
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "intensity"})
    summary = (await jobs_client.get(f"{API}/models/{train['model_id']}")).json()["summary"]
    assert summary["items_fitted"] == 2 * PER_CLASS
    assert summary["constant"] == ["saturated", "zero"]  # none at 65535 or 0: left at 0, not noise
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    ids, vectors = await _vectors(jobs_client, infer["id"])
    assert vectors.shape == (2 * PER_CLASS, len(NAMES)) and np.isfinite(vectors).all()
    assert np.allclose(vectors[:, 0].mean(), 0, atol=1e-5) and np.allclose(vectors[:, 0].std(), 1, atol=1e-3)
    assert not vectors[:, [NAMES.index("saturated"), NAMES.index("zero")]].any()  # constant: left at 0
    signal = [NAMES.index(name) for name in SIGNAL_NAMES]
    assert np.allclose(vectors[:, signal].std(axis=0), 1, atol=1e-3)  # the bright object: each varies
    items = (await jobs_client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()[
        "items"
    ]
    bright = {item["id"] for item in items if int(Path(item["uri"]).stem.rsplit("_", 1)[1]) % 2 == 1}
    is_bright = np.asarray([int(i) in bright for i in ids])
    assert vectors[is_bright, 0].min() > vectors[~is_bright, 0].max()  # log total counts
    above = NAMES.index("log_signal")  # and the counts above the border's background
    assert vectors[is_bright, above].min() > vectors[~is_bright, above].max()
    distance = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    assert (is_bright[distance.argmin(axis=1)] == is_bright).all()

    report = await _report(jobs_client, dataset_id)
    (entry,) = report["models"]
    assert entry["algorithm"] == "intensity" and entry["dimensions"] == len(NAMES)
    assert entry["score_with_intensity"] is None and entry["with_intensity"] is False
    assert entry["score"] == entry["score_without_intensity"]
    assert report["infer_intensity"] is None and entry["knn_balanced"] > 0.9
    # a quick extractor (no epochs): the queue trains it beside PCA and azimuthal descriptors
    listed = {a["key"]: a for a in (await jobs_client.get(f"{API}/algorithms")).json()}
    assert listed["intensity"]["kind"] == "feature_extractor"
    assert "epochs" not in listed["intensity"]["parameters_schema"]["properties"]
    form = await jobs_client.get(f"/datasets/{dataset_id}/train", params={"algorithm": "intensity"})
    assert form.status_code == 200
    assert parse(form.text).xpath("//input[@name='params.fit_items']")


async def test_an_intensity_model_fitted_on_fewer_descriptors_infers_the_vectors_it_always_did(
    jobs_client, session, job_settings, folder
):
    """A model fitted before the signal descriptors were added stored seven names: its inference
    keeps to them (the classifiers trained on its vectors still fit), in the stored order."""
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness")
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "intensity"})
    _, now = await _vectors(jobs_client, (await run_job(jobs_client, _infer(train)))["id"])
    model = await session.get(Model, train["model_id"])
    scale_file = job_settings.artifact_dir / model.artifact_path / "intensity_scale.json"
    fitted = json.loads(scale_file.read_text())
    old = list(range(7))[::-1]  # the seven of before, stored in another order
    scale_file.write_text(
        json.dumps({key: [fitted[key][i] for i in old] for key in ("names", "mean", "scale")})
    )
    infer = await run_job(jobs_client, _infer(train))
    _, before = await _vectors(jobs_client, infer["id"])
    assert before.shape == (2 * PER_CLASS, len(old))
    np.testing.assert_allclose(before, now[:, old], rtol=1e-5, atol=1e-5)
    scale_file.write_text(json.dumps({**fitted, "names": [*fitted["names"][:-1], "from_a_newer_worker"]}))
    submitted = await jobs_client.post(f"{API}/jobs", json=_infer(train))
    failed = await wait_for(jobs_client, submitted.json()["id"], timeout=180)
    assert failed["state"] == "failed" and "train a new intensity model" in failed["error"]


def _infer(train: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "infer", "model_id": train["model_id"]}


async def test_the_intensity_extractor_skips_what_it_cannot_read_and_needs_two_items(
    jobs_client, session, job_settings, folder
):
    """An unreadable file is logged and left out (the rest stay aligned); a sample with fewer
    than two readable items cannot set a scale: a clear error, not a crash."""
    dataset_id = await _labeled(jobs_client, session, job_settings, folder, "brightness")
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "intensity"})
    broken = folder / "images" / "cell_007.tif"
    broken.write_bytes(b"II*\x00 this is not a TIFF any more")
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    ids, vectors = await _vectors(jobs_client, infer["id"])
    assert len(ids) == len(vectors) == 2 * PER_CLASS - 1
    log = [line["message"] for line in (await jobs_client.get(f"{API}/jobs/{infer['id']}/log")).json()]
    assert any("skipped" in line for line in log)
    assert any(f"described {2 * PER_CLASS - 1} of {2 * PER_CLASS} items" in line for line in log)

    for path in (folder / "images").glob("cell_*.tif"):  # one readable item left
        if path.name != "cell_000.tif":
            path.write_bytes(b"not an image")
    response = await jobs_client.post(
        f"{API}/jobs", json={"kind": "train", "dataset_id": dataset_id, "algorithm": "intensity"}
    )
    assert response.status_code == 201, response.text
    failed = await wait_for(jobs_client, response.json()["id"], timeout=180)
    assert failed["state"] == "failed"
    assert "1 readable item(s) in the sample: at least two set a scale" in failed["error"]
