"""Real Chromium on the Next actions queue: the label page's panel follows the labels (it loaded once
and said "2000 items unlabeled" after 48 were labeled), and "auto-label the rest" asks before it
labels items nobody looked at (one click labeled 402)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the oracle classifier)
from tests.helpers.guided import API, chromium_context, item_ids, require_chromium, run_job, tag
from tests.live import live_app

pytestmark = pytest.mark.browser


async def _labels(api: httpx.AsyncClient, dataset_id: int) -> dict[int, list[int]]:
    rows = (await api.get(f"{API}/datasets/{dataset_id}/labels")).json()
    return {row["item_id"]: row["label_ids"] for row in rows}


async def _dataset(api: httpx.AsyncClient, folder: Any) -> tuple[int, list[int], list[int]]:
    """30 generated images and classes a, b, c on keys 1, 2, 3: (dataset, items, classes)."""
    from tests.factories import image_folder

    image_folder(folder, count=30)
    made = await api.post(f"{API}/datasets", json={"name": "panel-ds", "sources": [str(folder)]})
    assert made.status_code == 201, made.text
    dataset_id = made.json()["dataset"]["id"]
    classes = []
    for name, key in (("a", "1"), ("b", "2"), ("c", "3")):
        made = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": key})
        assert made.status_code == 201, made.text
        classes.append(made.json()["id"])
    return dataset_id, await item_ids(api, dataset_id), classes


async def test_the_label_pages_next_actions_panel_follows_the_labels_without_a_reload(
    guided_settings, database, folder
):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, _ids, _classes = await _dataset(api, folder)
            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                asked: list[str] = []
                tab.on("request", lambda r: asked.append(r.url) if "/next/panel" in r.url else None)
                await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
                unlabeled = tab.locator("#next-actions .stopping p strong").first
                await expect(unlabeled).to_have_text("30")
                await expect(tab.locator("#labeled-count")).to_have_text("0")
                loaded = len(asked)

                # a burst of keypresses: two items of a, two of b, one of c
                tiles = tab.locator("#gallery .tile")
                for i, key in enumerate("11223"):
                    await tiles.nth(i).click()
                    await tab.keyboard.press(key)
                await expect(tab.locator("#labeled-count")).to_have_text("5")
                # where the person is when the panel comes back (the panel waits a second for more keys)
                marker = await tab.evaluate("(document.activeElement.dataset.mark = 'here', 1)")
                scrolled = await tab.evaluate("(window.scrollTo(0, 120), window.scrollY)")
                assert scrolled > 0
                await expect(unlabeled).to_have_text("25")  # the panel asked the queue again
                assert len(asked) - loaded < 5, asked  # debounced: not once per keypress
                # neither the focus nor the scroll moved
                assert marker and await tab.evaluate("document.activeElement.dataset.mark") == "here"
                assert await tab.evaluate("window.scrollY") == scrolled

                # the keys still label after the refresh
                await tiles.nth(5).click()
                await tab.keyboard.press("3")
                await expect(tab.locator("#labeled-count")).to_have_text("6")
                await expect(unlabeled).to_have_text("24")
                assert not errors, errors


async def test_auto_label_the_rest_from_the_queue_asks_first_and_a_no_labels_nothing(
    guided_settings, database, folder
):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, ids, classes = await _dataset(api, folder)
            for i in range(6, 30, 2):  # the oracle's class (position % 3): the sure end half labeled
                await tag(api, dataset_id, [ids[i]], classes[i % 3])
            job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
            await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
            estimate = (await api.get(f"{API}/datasets/{dataset_id}/stopping-estimate")).json()
            count = estimate["auto_label_count"]
            assert count > 0, estimate
            before = await _labels(api, dataset_id)

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                asked: list[str] = []
                tab.on("dialog", lambda d: asked.append(d.message))
                posted: list[str] = []
                tab.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
                await tab.goto(f"/datasets/{dataset_id}/next")
                button = tab.locator("#auto-label-rest button")
                left = estimate["unlabeled"] - count
                these = "this one" if count == 1 else f"these {count}"
                await expect(button).to_have_text(
                    f"Auto-label {these} ({left} {'stays' if left == 1 else 'stay'} unlabeled)"
                    if left
                    else f"Auto-label {these} and stop"
                )

                tab.once("dialog", lambda d: asyncio.ensure_future(d.dismiss()))
                await button.click()
                await tab.wait_for_timeout(1000)
                said = f"Label {count} of the {count + left} unlabeled" if left else f"Label all {count}"
                assert len(asked) == 1 and said in asked[0], asked
                assert "wrong label" in asked[0] and "Expected accuracy" in asked[0], asked
                assert not posted and await _labels(api, dataset_id) == before  # dismissed: nothing

                tab.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
                await button.click()
                await expect(tab.locator("#next-notice")).to_contain_text(f"Auto-labeled {count} item(s)")
                labels = await _labels(api, dataset_id)
                assert len(labels) == len(before) + count, labels
                assert not errors, errors
