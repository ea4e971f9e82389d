"""Real Chromium on the next-action queue (issue 18): the label page's panel shows ranked
suggestions; a batch opens as a gallery where one deselected item stays unlabeled when the rest
is accepted; a second accept of the same suggestion (another tab) is refused with the count."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.helpers.guided import API, chromium_context, item_ids, require_chromium, run_job, tag
from tests.live import live_app

pytestmark = pytest.mark.browser
BATCHES = ("similarity_batch", "probability_batch")


async def _labels(api: httpx.AsyncClient, dataset_id: int) -> dict[int, list[int]]:
    rows = (await api.get(f"{API}/datasets/{dataset_id}/labels")).json()
    return {row["item_id"]: row["label_ids"] for row in rows}


async def _queue_with_a_batch(api: httpx.AsyncClient, folder: Path) -> tuple[int, list[int], dict, dict]:
    """A dataset of 30 images, classes a/b/c (keys 1/2/3), 12 labels and a ready classifier: the
    queue offers a batch. Answers the dataset, its classes, the queue and the batch."""
    from tests.factories import image_folder

    image_folder(folder, count=30)
    made = await api.post(f"{API}/datasets", json={"name": "queue-ds", "sources": [str(folder)]})
    assert made.status_code == 201, made.text
    dataset_id = made.json()["dataset"]["id"]
    ids = await item_ids(api, dataset_id)
    classes = []
    for name, key in (("a", "1"), ("b", "2"), ("c", "3")):
        made = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": key})
        assert made.status_code == 201, made.text
        classes.append(made.json()["id"])
    for i in range(12):
        await tag(api, dataset_id, [ids[i]], classes[i % 3])
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
    await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
    queue = (await api.get(f"{API}/datasets/{dataset_id}/next-actions", params={"limit": 20})).json()
    assert queue["suggestions"], queue
    batch = next((s for s in queue["suggestions"] if s["kind"] in BATCHES), None)
    assert batch is not None and len(batch["item_ids"]) >= 2, queue["suggestions"]
    return dataset_id, classes, queue, batch


async def test_the_queue_in_the_pages_ranks_accepts_the_kept_items_and_refuses_a_second_accept(
    guided_settings, database, folder
):
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, _classes, queue, batch = await _queue_with_a_batch(api, folder)

            async with chromium_context(url) as context:
                tab = await context.new_page()
                other = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                other.on("pageerror", lambda exc: errors.append(str(exc)))

                # the label page's panel: ranked suggestions, best expected yield first
                await tab.goto(f"/datasets/{dataset_id}/label")
                rows = tab.locator("#next-actions .suggestion")
                await expect(rows.first).to_be_visible()
                shown = await rows.count()
                assert 1 <= shown <= 5
                yields = [float(await rows.nth(i).get_attribute("data-yield")) for i in range(shown)]
                assert yields == sorted(yields, reverse=True)
                titles = [await rows.nth(i).locator(".suggestion-title").inner_text() for i in range(shown)]
                assert titles == [s["title"] for s in queue["suggestions"][:shown]]

                # the batch, opened from the queue's page in two tabs
                await tab.goto(f"/datasets/{dataset_id}/next")
                row = tab.locator(f'#suggestions .suggestion[data-kind="{batch["kind"]}"]').first
                await row.locator("a.button").click()
                await tab.wait_for_url("**/next/open?key=**")
                await other.goto(tab.url)
                tiles = tab.locator("#label-form .guided-tile")
                await expect(tiles).to_have_count(len(batch["item_ids"]))
                await expect(tab.locator(".selected-count")).to_have_text(str(len(batch["item_ids"])))
                dropped = int(await tiles.nth(1).get_attribute("data-id"))
                await tiles.nth(1).click()
                await expect(tab.locator(".selected-count")).to_have_text(str(len(batch["item_ids"]) - 1))
                await tab.click("#label-batch")
                await expect(tab.locator("#next-notice")).to_contain_text(
                    f"Labeled {len(batch['item_ids']) - 1} item(s)"
                )
                await expect(tab.locator("#next-notice")).to_contain_text(
                    "1 deselected item(s) left out: they will not be suggested again as"
                )
                labels = await _labels(api, dataset_id)
                kept = [i for i in batch["item_ids"] if i != dropped]
                assert all(labels.get(i) == [batch["label_id"]] for i in kept), labels
                assert dropped not in labels

                # the second tab still shows the batch as it was: its accept is refused
                await other.click("#label-batch")
                warning = other.locator("#next-warning")
                await expect(warning).to_contain_text(f"someone labeled {len(kept)} of these")
                await expect(warning).to_contain_text("meanwhile")
                assert await _labels(api, dataset_id) == labels  # nothing labeled twice
                assert not errors, errors


async def test_a_batch_tile_of_another_class_is_labeled_in_one_key_and_the_batch_takes_the_rest(
    guided_settings, database, folder
):
    """In a batch opened from the queue, pointing at a tile and pressing another class's key labels
    that item with it by hand; the tile comes back deselected, and Accept labels only the rest."""
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, classes, _queue, batch = await _queue_with_a_batch(api, folder)
            other = next(c for c in classes if c != batch["label_id"])
            key = str(classes.index(other) + 1)
            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/next/open?key={batch['key']}")
                tiles = tab.locator("#label-form .guided-tile")
                count = len(batch["item_ids"])
                await expect(tiles).to_have_count(count)
                fixed = int(await tiles.nth(0).get_attribute("data-id"))
                await tab.hover(f"#tile-{fixed} img")
                await tab.keyboard.press(key)
                await expect(tab.locator(f"#tile-{fixed} .current")).to_be_visible()
                await expect(tab.locator(f"#tile-{fixed}")).not_to_have_class(re.compile(r"\bselected\b"))
                await expect(tab.locator(".selected-count")).to_have_text(str(count - 1))
                assert (await _labels(api, dataset_id)).get(fixed) == [other]
                await tab.click("#label-batch")
                await expect(tab.locator("#next-notice")).to_contain_text(f"Labeled {count - 1} item(s)")
                labels = await _labels(api, dataset_id)
                assert labels[fixed] == [other]
                rest = [i for i in batch["item_ids"] if i != fixed]
                assert all(labels.get(i) == [batch["label_id"]] for i in rest), labels
                events = await api.get(f"{API}/datasets/{dataset_id}/events", params={"limit": 2})
                assert [e["kind"] for e in events.json()["events"]][1] == "manual"
                assert not errors, errors


@pytest.mark.parametrize("kind", ["label_items", "predicted_batch"])
async def test_items_to_label_show_the_classifiers_class_and_the_rest_is_accepted_in_one_click(
    guided_settings, database, folder, kind
):
    """ "Label one by one" with a fit classifier, and a page of several classes' batches: each
    item shows its class; a key where it is wrong labels that item, and one click gives the rest
    the class shown (one event)."""
    require_chromium()
    from playwright.async_api import expect

    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            dataset_id, classes, queue, _batch = await _queue_with_a_batch(api, folder)
            items = next(s for s in queue["suggestions"] if s["kind"] == kind)
            shown = dict(zip(items["item_ids"], items["params"]["predicted_label_ids"], strict=True))
            first = items["item_ids"][0]
            other = next(c for c in classes if c != shown[first])
            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/next/open?key={items['key']}")
                await expect(tab.locator("#todo-gallery .todo-tile .guess")).to_have_count(len(shown))
                guessed = tab.locator(f"#todo-{first} .class-button.guessed")
                await expect(guessed).to_have_count(1)
                assert await guessed.get_attribute("value") == str(shown[first])
                await tab.keyboard.press(str(classes.index(other) + 1))  # the first, current item
                await expect(tab.locator(f"#todo-{first}")).to_have_class(re.compile(r"\bdone\b"))
                # the accept button is at hand above the items too, not only under a long page
                await expect(tab.locator("#accept-predicted-top")).to_be_in_viewport()
                await tab.click("#accept-predicted-top")
                notice = tab.locator("#next-notice")
                await expect(notice).to_contain_text(f"Labeled {len(shown) - 1} item(s)")
                await expect(notice).to_contain_text("1 left as they were")
                labels = await _labels(api, dataset_id)
                assert labels[first] == [other]
                assert all(labels[i] == [c] for i, c in shown.items() if i != first), labels
                assert not errors, errors
