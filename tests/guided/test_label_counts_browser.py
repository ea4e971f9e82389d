"""Real Chromium: the label page's counts (the Progress box, the class panel's counts, what Undo
undoes) follow labels written without the page's own labeling answers, with no reload: the Next
actions panel's "auto-label the rest" left the Progress box at the old counts, and so did coming
Back to the page after a batch labeled on the similar page (from the browser's copy of the page,
or only the gallery where a filter had pushed the view's URL) or after paging (htmx's copy)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the oracle classifier)
from tests.helpers.guided import (
    API,
    chromium_context,
    folder_dataset,
    mark_page,
    not_reloaded,
    pca_model,
    require_chromium,
    run_job,
    tag,
)
from tests.live import live_app

pytestmark = pytest.mark.browser


async def _classes(api: httpx.AsyncClient, dataset_id: int) -> list[int]:
    """Classes a, b, c on keys 1, 2, 3."""
    made = []
    for name, key in (("a", "1"), ("b", "2"), ("c", "3")):
        response = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": key})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    return made


async def _counts(api: httpx.AsyncClient, dataset_id: int, classes: list[int]) -> tuple[int, list[int]]:
    """(labeled items, items per class) as the server has them."""
    rows = (await api.get(f"{API}/datasets/{dataset_id}/labels")).json()
    per_class = [sum(label in row["label_ids"] for row in rows) for label in classes]
    return len(rows), per_class


async def _expect_counts(tab: Any, labeled: int, per_class: list[int]) -> None:
    """The Progress box says these counts, and each class's delete asks with its count."""
    from playwright.async_api import expect

    await expect(tab.locator("#labeled-count")).to_have_text(str(labeled))
    await expect(tab.locator("#progress .prow .count")).to_have_text([str(n) for n in per_class])
    for i, count in enumerate(per_class):
        delete = tab.locator("#classes .delete-class").nth(i)
        await expect(delete).to_have_attribute("hx-confirm", re.compile(rf"It holds {count} item\(s\)"))


async def _expect_title(button: Any, title: str) -> None:
    """The button's tooltip (the label bar's Undo says which event it undoes)."""
    from playwright.async_api import expect

    await expect(button).to_have_attribute("title", title)


async def _last_event(api: httpx.AsyncClient, dataset_id: int) -> int:
    return int((await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"][0]["id"])


async def test_auto_label_from_the_label_pages_panel_redraws_the_progress_box(
    guided_settings, database, folder
):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, ids = await folder_dataset(api, folder, "counts-ds", 30)
            classes = await _classes(api, dataset_id)
            for i in range(6, 30, 2):  # the oracle's class (position % 3): the sure end half labeled
                await tag(api, dataset_id, [ids[i]], classes[i % 3])
            job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
            await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
            count = (await api.get(f"{API}/datasets/{dataset_id}/stopping-estimate")).json()[
                "auto_label_count"
            ]
            assert count > 0
            labeled, per_class = await _counts(api, dataset_id, classes)

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                tab.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
                await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
                await _expect_counts(tab, labeled, per_class)
                undo = tab.locator("#labelbar [data-action=undo]")
                await _expect_title(undo, f"undo event #{await _last_event(api, dataset_id)}")
                await mark_page(tab)

                await tab.locator("#next-actions #auto-label-rest button").click()
                await expect(tab.locator("#next-notice")).to_contain_text(f"Auto-labeled {count} item(s)")
                now_labeled, now_per_class = await _counts(api, dataset_id, classes)
                assert now_labeled == labeled + count
                await _expect_counts(tab, now_labeled, now_per_class)
                # Undo now undoes the auto-labeling (one event, as the panel's question said)
                await _expect_title(undo, f"undo event #{await _last_event(api, dataset_id)}")
                assert await not_reloaded(tab)

                # the redrawn box keeps following: a key labels one more, Undo takes it back
                rows = (await api.get(f"{API}/datasets/{dataset_id}/labels")).json()
                unlabeled = next(i for i in ids if i not in {row["item_id"] for row in rows})
                await tab.click(f"#tile-{unlabeled} img")
                await tab.keyboard.press("1")
                await expect(tab.locator("#labeled-count")).to_have_text(str(now_labeled + 1))
                await undo.click()
                await _expect_counts(tab, now_labeled, now_per_class)
                assert await not_reloaded(tab)
                assert not errors, errors


async def test_back_to_the_label_page_after_a_similarity_batch_shows_the_new_counts(
    guided_settings, database, folder
):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, _ids = await folder_dataset(api, folder, "counts-sim-ds", 30)
            await pca_model(api, dataset_id)
            classes = await _classes(api, dataset_id)

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
                await _expect_counts(tab, 0, [0, 0, 0])

                async def label_two_similar() -> None:
                    """From the label page: Find similar to the first tile, label two of them as a."""
                    await tab.locator("#gallery .tile").first.click()
                    await tab.click("#find-similar-link")
                    tiles = tab.locator("#label-form .guided-tile")
                    await tiles.first.wait_for()
                    await tab.click("[data-select=none]")
                    await tiles.nth(0).locator("img").click()
                    await tiles.nth(1).locator("img").click()
                    await tab.select_option("select[name=label_id]", str(classes[0]))
                    await tab.click("#label-batch")
                    await expect(tab.locator(".notice")).to_contain_text("Labeled 2 of 2 selected items")

                # the page as loaded
                await label_two_similar()
                await tab.go_back()
                await _expect_counts(tab, *await _counts(api, dataset_id, classes))
                assert (await _counts(api, dataset_id, classes))[0] == 2

                # a view whose URL a filter pushed: Back once showed the bare gallery
                await tab.select_option("#filter-select", "unlabeled")
                await expect(tab.locator("#gallery .view-total").first).to_have_text("28")
                await label_two_similar()
                labeled, per_class = await _counts(api, dataset_id, classes)
                assert labeled > 2
                await tab.go_back()
                await _expect_counts(tab, labeled, per_class)
                await expect(tab.locator("#filter-select")).to_have_value("unlabeled")
                await expect(tab.locator("#gallery .view-total").first).to_have_text(str(30 - labeled))
                assert not errors, errors


async def test_back_to_the_label_page_from_the_back_forward_cache_redraws_the_counts(
    guided_settings, database, folder
):
    require_chromium()

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, ids = await folder_dataset(api, folder, "counts-cache-ds", 30)
            classes = await _classes(api, dataset_id)

            async with chromium_context(url, back_forward_cache=True) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
                await _expect_counts(tab, 0, [0, 0, 0])
                await mark_page(tab)

                # another page, labels written meanwhile, Back: the browser shows the page it kept
                await tab.click("#history-link")
                await tab.wait_for_url("**/history")
                await tag(api, dataset_id, ids[:3], classes[1])
                await tab.go_back(wait_until="commit")  # a page from that cache fires no load
                await _expect_counts(tab, 3, [0, 3, 0])
                assert await not_reloaded(tab), "not the back-forward cache's page: the test proves nothing"
                undo = tab.locator("#labelbar [data-action=undo]")
                await _expect_title(undo, f"undo event #{await _last_event(api, dataset_id)}")
                assert not errors, errors


async def test_back_to_an_earlier_page_of_the_gallery_redraws_the_counts(guided_settings, database, folder):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, ids = await folder_dataset(api, folder, "counts-pages-ds", 30)
            classes = await _classes(api, dataset_id)

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                restored: list[str] = []
                tab.on("console", lambda m: restored.append(m.text) if m.text == "restored" else None)
                await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
                await _expect_counts(tab, 0, [0, 0, 0])
                await tab.evaluate(
                    "() => document.addEventListener('htmx:historyRestore', (e) =>"
                    " console.log(e.detail.cacheMiss ? 'fetched' : 'restored'))"
                )
                await mark_page(tab)

                # the next page of the gallery, a label there and two elsewhere, Back: htmx's copy
                await tab.keyboard.press("n")
                await expect(tab.locator("#gallery .page-number").first).to_have_text("2")
                await tag(api, dataset_id, ids[:2], classes[2])
                await tab.locator("#gallery .tile").first.click()
                await tab.keyboard.press("1")
                await _expect_counts(tab, 3, [1, 0, 2])
                await tab.go_back()
                await expect(tab.locator("#gallery .page-number").first).to_have_text("1")
                assert restored == ["restored"], "not htmx's copy of the page: the test proves nothing"
                await _expect_counts(tab, 3, [1, 0, 2])
                await expect(tab.locator(f"#marks-{ids[0]}")).to_have_class("marks labeled")
                undo = tab.locator("#labelbar [data-action=undo]")
                await _expect_title(undo, f"undo event #{await _last_event(api, dataset_id)}")
                assert await not_reloaded(tab)
                assert not errors, errors
