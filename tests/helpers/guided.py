"""Guided-labeling fixtures and helpers shared by the tests: a server with in-process jobs, a dataset,
real PCA and classifier models, the latest inference's features."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

import tests.guided.fixed_classifier
import tests.guided.trust_classifiers  # noqa: F401  (registers the test oracle)
from backend.settings import Settings
from tests.helpers.jobs import make_dataset, serve, wait_for

API = "/api/v1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


PCA_PARAMS = {"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}


@pytest.fixture
def guided_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 5})


@pytest.fixture
async def server(guided_settings: Settings, database: Any) -> AsyncIterator[AsyncTestClient]:
    async with serve(guided_settings) as client:
        yield client


@pytest.fixture
async def dataset(session: Any, guided_settings: Settings, folder: Path) -> Any:
    return await make_dataset(session, guided_settings, folder, count=30)


async def run_job(
    client: AsyncTestClient, body: dict[str, Any], state: str = "succeeded", timeout: float = 60
) -> dict[str, Any]:
    response = await client.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=timeout)
    assert job["state"] == state, job["error"]
    return job


async def pca_model(client: AsyncTestClient, dataset_id: int, *, infer: bool = True) -> int:
    """A trained PCA model (and its inference on the dataset); returns the model id."""
    job = await run_job(
        client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "pca", "parameters": PCA_PARAMS}
    )
    if infer:
        await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


async def add_class(client: AsyncTestClient, dataset_id: int, name: str) -> int:
    response = await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def tag(client: AsyncTestClient, dataset_id: int, item_ids: list[int], label_id: int) -> None:
    response = await client.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": item_ids, "label_id": label_id}
    )
    assert response.status_code == 201, response.text


async def item_ids(client: AsyncTestClient, dataset_id: int) -> list[int]:
    response = await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})
    return [item["id"] for item in response.json()["items"]]


async def classifier_model(client: AsyncTestClient, dataset_id: int, classes: list[int]) -> int:
    """A trained and applied test classifier over ``classes`` (the dataset needs a labeled item)."""
    job = await run_job(
        client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-fixed-classifier"}
    )
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


def feature_dir(settings: Settings, infer_job: dict[str, Any]) -> Path:
    return settings.artifact_dir / "models" / str(infer_job["model_id"]) / "infer" / f"job-{infer_job['id']}"


async def latest_infer(client: AsyncTestClient, model_id: int) -> dict[str, Any]:
    jobs = (await client.get(f"{API}/jobs", params={"model_id": model_id, "kind": "infer"})).json()["jobs"]
    return next(j for j in jobs if j["state"] == "succeeded")


def exact_ranking(directory: Path, query_ids: list[int]) -> tuple[list[int], list[float]]:
    """Brute force in numpy, independently of the index code: ids by falling mean-query cosine."""
    vectors = np.load(directory / "vectors.npy").astype(np.float64)
    ids = np.load(directory / "item_ids.npy")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [int(np.nonzero(ids == q)[0][0]) for q in query_ids]
    query = unit[rows].mean(axis=0)
    sims = unit @ (query / np.linalg.norm(query))
    order = np.argsort(-sims, kind="stable")
    return ids[order].tolist(), sims[order].tolist()


# ---- the next-actions queue through REST ----


async def queue(client: Any, dataset_id: int, limit: int = 20) -> dict[str, Any]:
    response = await client.get(f"{API}/datasets/{dataset_id}/next-actions", params={"limit": limit})
    assert response.status_code == 200, response.text
    return response.json()


def kinds(found: dict[str, Any]) -> list[str]:
    return [s["kind"] for s in found["suggestions"]]


def of_kind(found: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in found["suggestions"] if s["kind"] == kind]


async def accept(client: Any, dataset_id: int, body: dict[str, Any]) -> Any:
    return await client.post(f"{API}/datasets/{dataset_id}/next-actions/accept", json=body)


async def events(client: Any, dataset_id: int) -> list[dict[str, Any]]:
    return (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]


def assert_ranked(found: dict[str, Any]) -> None:
    yields = [s["expected_labels"] / s["expected_actions"] for s in found["suggestions"]]
    assert yields == sorted(yields, reverse=True), yields


async def oracle(
    client: Any, dataset_id: int, positions: list[int] | None = None, wrong: tuple[int, ...] = ()
) -> tuple[list[int], list[int], int]:
    """Classes a, b, c; items 0..11 labeled by the oracle's rule (position % 3; the ``wrong`` ones
    the next class); the oracle classifier trained (held-out figures of every labeled item) and
    applied."""
    ids = await item_ids(client, dataset_id)
    classes = [await add_class(client, dataset_id, name) for name in ("a", "b", "c")]
    for i in range(12) if positions is None else positions:
        await tag(client, dataset_id, [ids[i]], classes[(i + (1 if i in wrong else 0)) % 3])
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return ids, classes, job["model_id"]


def require_chromium() -> None:
    """Skip the test where Debian's Chromium or Playwright for Python is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    pytest.importorskip("playwright.async_api")


@asynccontextmanager
async def chromium_context(url: str, *, back_forward_cache: bool = False) -> AsyncIterator[Any]:
    """A headless Chromium browser context on the live app at ``url``, closed afterwards. Playwright
    turns the back-forward cache off; ``back_forward_cache`` keeps it on, as in a person's browser
    (Back then shows the page as it was left, and fires no load: ``go_back(wait_until="commit")``)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--disable-back-forward-cache"] if back_forward_cache else None,
        )
        try:
            yield await browser.new_context(base_url=url)
        finally:
            await browser.close()


async def new_tab(context: Any, errors: list[str]) -> Any:
    """A tab whose script errors land in ``errors`` and whose confirmations are accepted."""
    tab = await context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    return tab


async def mark_page(tab: Any) -> None:
    """A mark in the page's window: it is gone if the page is loaded again."""
    await tab.evaluate("() => { window.notReloaded = true; }")


async def not_reloaded(tab: Any) -> bool:
    """Whether the page still holds ``mark_page``'s mark (the same page, not loaded again)."""
    return bool(await tab.evaluate("() => window.notReloaded === true"))


async def go_back(tab: Any, cached: bool, *, reloaded: bool = True) -> None:
    """Back, from the back-forward cache (the page kept whole: no load; checked) or loaded again
    (checked where ``reloaded``: otherwise the browser may show its stored copy)."""
    if cached:
        await tab.go_back(wait_until="commit")
        assert await not_reloaded(tab), "not the back-forward cache's page: the test proves nothing"
    else:
        await tab.go_back()
        assert not reloaded or not await not_reloaded(tab), "not loaded again"


async def folder_dataset(api: Any, folder: Path, name: str, count: int = 30) -> tuple[int, list[int]]:
    """A dataset of ``count`` generated images made through REST: (its id, its item ids)."""
    from tests.factories import image_folder

    image_folder(folder, count=count)
    made = await api.post(f"{API}/datasets", json={"name": name, "sources": [str(folder)]})
    assert made.status_code == 201, made.text
    dataset_id = int(made.json()["dataset"]["id"])
    return dataset_id, await item_ids(api, dataset_id)


async def box_over_the_explorer(tab: Any, selected: int) -> None:
    """Drag a box over the whole explorer plot (several moves, as a hand does) and wait until the
    page has ``selected`` points selected."""
    box = await tab.locator("#overlay").bounding_box()
    await tab.mouse.move(box["x"] + 1, box["y"] + 1)
    await tab.mouse.down()
    await tab.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] - 1, steps=8)
    await tab.mouse.up()
    await tab.wait_for_function(
        f"() => document.querySelector('#explorer').dataset.selected === '{selected}'"
    )
