"""The feature report decides where absolute intensity helps (issue 17, items 2 and 4): it scores
each feature model without and with the intensity descriptors appended and keeps the better
variant. On generated 16-bit images whose two classes differ only by brightness, it chooses the
descriptors and says so in its one line; its button runs the best model's inference with them, so
the pages' default model uses them. Where the classes differ by shape only, it leaves them off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from backend.datasets.service import create_dataset
from tests.helpers.azimuthal import run_job
from tests.helpers.feature_report import features_of
from tests.helpers.jobs import wait_for
from tests.helpers.pages import csrf_headers
from tests.html import by_id, parse, selected

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


async def _labeled(client: Any, session: Any, settings: Any, folder: Path, by: str) -> int:
    truth = _folder(folder / "images", by=by)
    dataset, _ = await create_dataset(session, settings, f"{by}-only", [str(folder / "images")])
    items = (await client.get(f"{API}/datasets/{dataset.id}/items", params={"limit": 100})).json()["items"]
    classes: dict[str, int] = {}
    for name in sorted(set(truth.values())):
        made = await client.post(f"{API}/datasets/{dataset.id}/classes", json={"name": name})
        classes[name] = made.json()["id"]
    for item in items:
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
    assert entry["dimensions"] == 4 + 7
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
