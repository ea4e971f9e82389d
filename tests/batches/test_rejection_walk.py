"""Issue 19, in Chromium: a tile deselected from a batch of a class is not offered again in that
class's next batch (probability page, similarity page) and "auto-label the rest" does not give it
that class (docs/decisions/0015). Only a tile clicked out on its own is such a rejection: the
flagged tiles "f" deselects in bulk are left out of the batch and say nothing of their class
(similarity page, a queue batch's page)."""

from __future__ import annotations

from typing import Any

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, oracle, rejected
from tests.helpers.guided import API, run_job


async def test_a_tile_deselected_on_the_probability_page_stays_out_and_is_not_auto_labeled(live, tab):
    ids = live["ids"]
    model, classes = await oracle(live, 12)
    a = classes[0]
    await tab.goto(f"/datasets/{live['dataset_id']}/probability?model_id={model}&label={a}&threshold=0.5")
    tiles = tab.locator("#probability-gallery .guided-tile")
    await tiles.first.wait_for()
    count = int(await tab.inner_text("#probability-count"))
    assert count == await tiles.count() and count >= 3
    assert await tab.locator("#probability-gallery .guided-tile.selected").count() == count
    out = int(await tiles.first.get_attribute("data-id") or 0)  # the most probable "a"
    await tiles.first.locator("img").click()
    assert "selected" not in (await tab.get_attribute(f"#tile-{out}", "class") or "").split()

    await tab.click("#apply")
    notice = tab.locator("#results .notice")
    await notice.wait_for()
    text = await notice.inner_text()
    assert f"Labeled {count - 1} items" in text, text
    assert "1 deselected item(s) left out: they will not be suggested again as" in text, text
    labels = await labels_of(live)
    assert out not in labels, "the deselected tile was labeled"
    assert await rejected(live) == [(out, a)]
    # the next batch of "a" is shown at once: the deselected item is not offered again
    await tab.wait_for_function("() => document.getElementById('probability-count').textContent === '0'")

    # auto-label the rest (each item's most probable class): the item refused as "a" is left alone,
    # and so is the oracle's last item, far from every other (the guardrails flag it)
    left = [i for i in ids if i not in labels]
    far = ids[-1]
    assert far in left
    shown = int(await tab.inner_text("#stopping-count"))
    assert shown == len(left) - 2, "the stopping estimate counts the rejected or the flagged item"
    await tab.click("#auto-label-rest")  # its confirm dialog is accepted by the fixture
    await tab.wait_for_function(
        "() => /Auto-labeled the rest|Nothing labeled/.test(document.getElementById('results').textContent)"
    )
    notice = await tab.inner_text("#results .notice")
    assert f"Auto-labeled the rest: {len(left) - 2} items" in notice, notice
    assert "1 flagged by the batch guardrails are left for you" in notice, notice
    labels = await labels_of(live)
    assert out not in labels, "auto-label-the-rest labeled the item the expert had deselected"
    assert far not in labels, "auto-label-the-rest labeled an item the guardrails flag"
    assert all(i in labels for i in left if i not in (out, far))


async def test_a_tile_deselected_on_the_similarity_page_is_not_ranked_again_for_that_class(live, tab):
    ids, dataset_id = live["ids"], live["dataset_id"]
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "build-index", "model_id": model})
    url = (
        f"/datasets/{dataset_id}/similar?item_id={ids[0]}&model_id={model}&per_page=48&label_id={classes[0]}"
    )
    await tab.goto(url)
    await tab.wait_for_selector("#label-form .guided-tile")
    selected = tab.locator("#label-form .guided-tile.selected")
    out = int(await selected.first.get_attribute("data-id") or 0)
    assert ids.index(out) >= 12  # unlabeled
    await selected.first.locator("img").click()
    await tab.click("#label-batch")
    await tab.locator(".notice").wait_for()
    assert "1 deselected item(s) left out: they will not be suggested again as" in await tab.inner_text(
        ".notice"
    )
    assert out not in await labels_of(live)
    assert await rejected(live) == [(out, classes[0])]

    await tab.goto(url)  # a fresh ranking for the class, nothing carried in the URL
    await tab.wait_for_selector("#label-form .guided-tile")
    assert not await tab.locator(f"#tile-{out}").count(), "the rejected item is offered again"
    other = (
        f"/datasets/{dataset_id}/similar?item_id={ids[0]}&model_id={model}&per_page=48&label_id={classes[1]}"
    )
    await tab.goto(other)  # for another class it is a candidate as before
    await tab.wait_for_selector(f"#tile-{out}")


async def _f_then_click_one_out(tab: Any, labels: dict[int, list[int]]) -> tuple[list[int], int]:
    """On a batch page: "f" deselects the flagged tiles, then one unflagged unlabeled tile is
    clicked out. Answers the flagged unlabeled items and the clicked one."""
    flagged = tab.locator("#label-form .guided-tile.flagged")
    count = await flagged.count()
    assert count > 0 and "Press f" in await tab.inner_text("#flag-rule")
    flagged_ids = [int(await flagged.nth(i).get_attribute("data-id") or 0) for i in range(count)]
    await tab.click("h1")
    await tab.keyboard.press("f")
    for item_id in flagged_ids:
        assert "selected" not in (await tab.get_attribute(f"#tile-{item_id}", "class") or "").split()
    clickable = tab.locator("#label-form .guided-tile.selected:not(.flagged)")
    out = int(await clickable.last.get_attribute("data-id") or 0)
    await clickable.last.locator("img").click()
    assert "selected" not in (await tab.get_attribute(f"#tile-{out}", "class") or "").split()
    unlabeled = [i for i in flagged_ids if not labels.get(i)]
    assert unlabeled, "no unlabeled flagged tile: the test says nothing"
    return unlabeled, out


async def test_f_on_the_similarity_page_rejects_nothing_a_clicked_out_tile_is_rejected(live, tab):
    ids = live["ids"]
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "build-index", "model_id": model})
    query = ids[14]  # unlabeled, class c by the oracle's rule: the far item is flagged
    await tab.goto(
        f"/datasets/{live['dataset_id']}/similar?item_id={query}&model_id={model}&per_page=48&label_id={classes[2]}"
    )
    await tab.wait_for_selector("#label-form .guided-tile")
    flagged, out = await _f_then_click_one_out(tab, await labels_of(live))
    await tab.click("#label-batch")
    await tab.locator(".notice").wait_for()
    assert "1 deselected item(s) left out" in await tab.inner_text(".notice")
    labels = await labels_of(live)
    assert out not in labels and not set(flagged) & set(labels)
    assert await rejected(live) == [(out, classes[2])]  # the flagged ones: left out, not rejected


async def test_f_on_a_queue_batch_rejects_nothing_a_clicked_out_tile_is_rejected(live, tab):
    ids, dataset_id = live["ids"], live["dataset_id"]
    await oracle(live, 12)
    found = (await live["api"].get(f"{API}/datasets/{dataset_id}/next-actions", params={"limit": 20})).json()
    batches = [s for s in found["suggestions"] if s["kind"] in ("probability_batch", "similarity_batch")]
    batch = next((s for s in batches if ids[-1] in s["item_ids"] and len(s["item_ids"]) >= 3), None)
    assert batch is not None, [(s["kind"], s["item_ids"]) for s in batches]  # the far item: flagged
    await tab.goto(f"/datasets/{dataset_id}/next/open?key={batch['key']}")
    await tab.wait_for_selector("#label-form .guided-tile")
    flagged, out = await _f_then_click_one_out(tab, await labels_of(live))
    await tab.click("#label-batch")
    notice = tab.locator("#next-notice")
    await notice.wait_for()
    text = await notice.inner_text()
    assert "1 deselected item(s) left out" in text, text
    labels = await labels_of(live)
    assert out not in labels and not set(flagged) & set(labels)
    assert await rejected(live) == [(out, batch["label_id"])]  # the flagged ones: left out, not rejected


async def test_a_tail_dropped_with_shift_click_on_the_probability_page_is_no_rejection(live, tab):
    """Click the first outlier, Shift-click the last tile (only the top stays): the clicked tile is
    "not this class", the rest of the range is a tail nobody judged, left out unrecorded."""
    model, classes = await oracle(live, 12)
    a = classes[0]
    await tab.goto(f"/datasets/{live['dataset_id']}/probability?model_id={model}&label={a}&threshold=0.5")
    tiles = tab.locator("#probability-gallery .guided-tile")
    await tiles.first.wait_for()
    count = await tiles.count()
    assert count >= 3
    batch = [int(await tiles.nth(i).get_attribute("data-id") or 0) for i in range(count)]
    await tiles.nth(1).locator("img").click()
    await tiles.last.locator("img").click(modifiers=["Shift"])
    assert await tab.locator("#probability-gallery .guided-tile.selected").count() == 1
    await tab.click("#apply")
    notice = tab.locator("#results .notice")
    await notice.wait_for()
    text = await notice.inner_text()
    assert "Labeled 1 items" in text and "1 deselected item(s) left out" in text, text
    labels = await labels_of(live)
    assert batch[0] in labels and not set(batch[1:]) & set(labels)
    assert await rejected(live) == [(batch[1], a)]
