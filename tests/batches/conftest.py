"""Chromium against the real app (jobs in process) on a 30-image dataset with a PCA model: the bulk
labeling paths a new user walks (similarity, explorer, history, item view, class panel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.settings import Settings
from tests.factories import image_folder
from tests.helpers.guided import API, add_class, run_job
from tests.live import live_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/batches/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def walk_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 5})


@pytest.fixture
async def live(walk_settings: Settings, database: Any, folder: Path) -> AsyncIterator[dict[str, Any]]:
    """The served app, a REST client on it and a 30-image dataset."""
    image_folder(folder, count=30)
    with live_app(walk_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            made = await api.post(f"{API}/datasets", json={"name": "walk", "sources": [str(folder)]})
            assert made.status_code == 201, made.text
            dataset_id = made.json()["dataset"]["id"]
            items = (await api.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()
            yield {"url": url, "api": api, "dataset_id": dataset_id, "ids": [i["id"] for i in items["items"]]}


@pytest.fixture
async def tab(live: dict[str, Any]) -> AsyncIterator[Any]:
    """A Chromium tab on the live app; JavaScript errors fail the test."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    async_api = pytest.importorskip("playwright.async_api")
    async_api.expect.set_options(timeout=15_000)
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(base_url=live["url"], viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(15_000)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            yield page
        finally:
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


async def labels_of(live: dict[str, Any]) -> dict[int, list[int]]:
    rows = (await live["api"].get(f"{API}/datasets/{live['dataset_id']}/labels")).json()
    return {row["item_id"]: row["label_ids"] for row in rows}


async def tag(live: dict[str, Any], items: list[int], label: int, tagger: str = "alice", **extra: Any) -> Any:
    response = await live["api"].post(
        f"{API}/datasets/{live['dataset_id']}/tags",
        json={"item_ids": items, "label_id": label, **extra},
        headers={"X-Labelwise-Tagger": tagger},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def model_batch(
    database: Any, dataset_id: int, items: list[int], label: int, kind: str, model_id: int
) -> Any:
    """A batch a model made, recorded as the server's batch endpoints record it (clients may not
    name a model in an event: decision 0007), so the scene does not hang on a ranking's order."""
    from backend.labels.events import TagRequest, record_event

    request = TagRequest(
        dataset_id=dataset_id, tagger="alice", item_ids=items, label_id=label, kind=kind, model_id=model_id
    )
    async with database.session() as session:
        return await record_event(session, request)


async def rejected(live) -> list[tuple[int, int]]:
    found = (await live["api"].get(f"{API}/datasets/{live['dataset_id']}/rejections")).json()
    return [(r["item_id"], r["label_id"]) for r in found["rejections"]]


async def oracle(live, labeled: int, wrong: tuple[int, ...] = ()) -> tuple[int, list[int]]:
    """Three classes, items 0..labeled-1 tagged with the oracle's class (the ``wrong`` ones with the
    next one), and the oracle trained and run: its vectors put the last item far from the rest."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    classes = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
    for i in range(labeled):
        await tag(live, [ids[i]], classes[(i % 3 + (1 if i in wrong else 0)) % 3])
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
    await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"], classes
