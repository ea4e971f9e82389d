"""The explorer page: served, and in Chromium a box selection labels the points it holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from tests.factories import image_folder
from tests.live import live_app

CHROMIUM = Path("/usr/bin/chromium")
PCA_PARAMS = {"n_components": 6, "batch_size": 16, "image_size": 16, "validation_fraction": 0.0}


def _finished(client: httpx.Client, job_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            assert job["state"] == "succeeded", job["error"]
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _run(client: httpx.Client, **body) -> dict:
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return _finished(client, response.json()["id"])


@pytest.fixture
def live_server(settings: Settings, database) -> Iterator[str]:
    """The real app under uvicorn on a free port, jobs running in process."""
    with live_app(settings) as url:
        yield url


@pytest.fixture
def projected(live_server: str, folder: Path) -> dict:
    """A dataset with a PCA model, its vectors, a 2-D projection and a clustering."""
    image_folder(folder, count=30)
    with httpx.Client(base_url=live_server, timeout=60) as client:
        created = client.post("/api/v1/datasets", json={"name": "explore-me", "sources": [str(folder)]})
        dataset = created.json()["dataset"]
        cls = client.post(
            f"/api/v1/datasets/{dataset['id']}/classes",
            json={"name": "rings", "color": "#d62728", "hotkey": "r"},
        ).json()
        train = _run(client, kind="train", dataset_id=dataset["id"], algorithm="pca", parameters=PCA_PARAMS)
        _run(client, kind="infer", model_id=train["model_id"])
        _run(client, kind="cluster", model_id=train["model_id"], parameters={"method": "kmeans", "k": 3})
        project = _run(client, kind="project", model_id=train["model_id"], parameters={"method": "pca"})
    return {"dataset": dataset, "class": cls, "model_id": train["model_id"], "projection": project}


async def test_the_page_lists_models_and_says_when_there_is_none(client, folder):
    image_folder(folder, count=3)
    created = await client.post("/api/v1/datasets", json={"name": "plain", "sources": [str(folder)]})
    dataset = created.json()["dataset"]
    page = await client.get(f"/datasets/{dataset['id']}/explorer")
    assert page.status_code == 200
    assert "No trained model on this dataset yet" in page.text
    missing = await client.get("/datasets/999999/explorer")
    assert missing.status_code == 404


async def test_vendored_scripts_are_served_by_the_app(client):
    for name in ("scatter.js", "explorer.js", "explorer.css"):
        response = await client.get(f"/static/app/{name}")
        assert response.status_code == 200 and len(response.content) > 500


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_box_selection_in_chromium_labels_the_points_in_one_event(live_server, projected):
    from playwright.sync_api import sync_playwright

    dataset, cls, model_id = projected["dataset"], projected["class"], projected["model_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--enable-unsafe-swiftshader",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{live_server}/datasets/{dataset['id']}/explorer?model_id={model_id}")
        page.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
        assert page.get_attribute("#explorer", "data-points") == "30"
        # nothing selected: no heatmaps of the selection (they showed as two broken images), no pager
        assert not page.is_visible("#heatmaps") and not page.is_visible("#gallery-pager")
        # every field ends inside its panel (the model, method and "check against" lists ran past it)
        outside = page.evaluate(
            """() => [...document.querySelectorAll('.explorer-controls select, .explorer-selection select')]
                .filter((f) => {
                    const panel = f.closest('.explorer-controls, .explorer-selection');
                    return f.getBoundingClientRect().right > panel.getBoundingClientRect().right;
                }).map((f) => f.id || f.name)"""
        )
        assert outside == []
        box = page.locator("#overlay").bounding_box()
        assert box is not None
        # a box over the left half of the plot: some points, not all
        page.mouse.move(box["x"] + 2, box["y"] + 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2, steps=8)
        page.mouse.up()
        page.wait_for_function("() => Number(document.querySelector('#explorer').dataset.selected) > 0")
        selected = int(page.get_attribute("#explorer", "data-selected") or 0)
        assert 0 < selected < 30
        page.wait_for_selector("#selection-stats p")
        assert f"unlabeled {selected}" in page.inner_text("#selection-stats")
        page.wait_for_selector("#heatmaps", state="visible")  # shown once there is a selection
        page.click(f"#label-buttons [data-label-id='{cls['id']}']")
        # a function, not an expression: Playwright polls expressions with eval(), which the CSP forbids
        page.wait_for_function("() => document.getElementById('flash').textContent.includes('labeled rings')")
        renderer = page.get_attribute("#explorer", "data-renderer")
        browser.close()
    assert renderer in ("webgl", "canvas2d")

    with httpx.Client(base_url=live_server) as client:
        labels = client.get(f"/api/v1/datasets/{dataset['id']}/labels").json()
        events = client.get(f"/api/v1/datasets/{dataset['id']}/events").json()
    assert len(labels) == selected and all(row["label_ids"] == [cls["id"]] for row in labels)
    explorer_events = [
        e for e in (events["events"] if isinstance(events, dict) else events) if e["kind"] == "explorer"
    ]
    assert len(explorer_events) == 1
    assert explorer_events[0]["parameters"]["selection"]["mode"] == "box"
    assert explorer_events[0]["parameters"]["projection_job_id"] == projected["projection"]["id"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_the_job_forms_let_through_every_value_their_schema_allows(live_server, projected):
    """A UMAP minimum distance of 0.12 (the field's step of 0.05 refused it) and a DBSCAN eps of
    0.0005 (a minimum of 0.001 refused it) are valid parameters: the browser must send them."""
    from playwright.sync_api import sync_playwright

    dataset, model_id = projected["dataset"], projected["model_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(f"{live_server}/datasets/{dataset['id']}/explorer?model_id={model_id}")
        page.evaluate(
            "() => document.querySelectorAll('.explorer-controls details').forEach((d) => d.open = true)"
        )
        page.fill("#project-form [name=min_dist]", "0.12")
        page.select_option("#cluster-form [name=method]", "dbscan")
        page.fill("#cluster-form [name=eps]", "0.0005")
        refused = page.evaluate(
            """() => [...document.querySelectorAll('.job-form input')]
                .filter((i) => !i.checkValidity()).map((i) => `${i.name}: ${i.validationMessage}`)"""
        )
        assert refused == []
        page.click("#cluster-form button[type=submit]")
        page.wait_for_function(
            "() => /succeeded|failed/.test(document.getElementById('job-status').textContent)", timeout=60_000
        )
        status = page.inner_text("#job-status")
        browser.close()
    assert "succeeded" in status, status
    with httpx.Client(base_url=live_server) as client:
        jobs = client.get("/api/v1/jobs", params={"dataset_id": dataset["id"]}).json()["jobs"]
    assert next(j for j in jobs if j["kind"] == "cluster")["parameters"]["eps"] == 0.0005
