"""Issue 19, in Chromium: a tile deselected from a batch of a class is not offered again in that
class's next batch (probability page, similarity page) and "auto-label the rest" does not give it
that class (docs/decisions/0015)."""

from __future__ import annotations

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, oracle, rejected
from tests.helpers.guided import run_job


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
