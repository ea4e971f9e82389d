"""The probability page in Chromium, on the test oracle's real jobs: the apply button and the
confirmation name the items that will really be labeled (the batch less the tiles deselected, less
the flagged items "f" leaves out) and the wrong labels expected of them, and applying labels exactly
those."""

from __future__ import annotations

from typing import Any

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, oracle
from tests.helpers.guided import API


async def _shown(tab: Any) -> tuple[str, str, str]:
    """The button's text, the confirmation's text and the estimate's wrong labels (whose noun agrees
    with the figure as it changes: "about 1 wrong label")."""
    wrong = await tab.inner_text("#estimate-wrong")
    noun = await tab.inner_text("#batch-estimate .apply-wrong-noun")
    assert noun == ("label" if wrong == "1" else "labels"), (wrong, noun)
    return (
        " ".join((await tab.inner_text("#apply")).split()),
        " ".join((await tab.inner_text("#confirm-batch")).split()),
        wrong,
    )


async def test_deselected_tiles_change_the_count_the_button_and_confirmation_name(live, tab):
    dataset_id = live["dataset_id"]
    model, classes = await oracle(live, 12)
    a = classes[0]
    params = {"model_id": model, "threshold": 0.5, "label_id": a, "confirm_over": 3}
    preview = (await live["api"].get(f"{API}/datasets/{dataset_id}/probability", params=params)).json()
    count, precision = preview["count"], preview["estimate"]["calibrated_precision"]
    assert count == 6 and precision is not None

    await tab.goto(
        f"/datasets/{dataset_id}/probability?model_id={model}&label={a}&threshold=0.5&confirm_over=3"
    )
    tiles = tab.locator("#probability-gallery .guided-tile")
    await tiles.first.wait_for()
    assert await tiles.count() == count
    button, confirm, _ = await _shown(tab)
    assert button == f"Label these {count} items" and f"label {count} items" in confirm

    out = [int(await tiles.nth(k).get_attribute("data-id") or 0) for k in (0, 2, 4)]
    for k in (0, 2, 4):
        await tiles.nth(k).locator("img").click()
    button, confirm, wrong = await _shown(tab)
    assert button == "Label these 3 items", button
    assert not await tab.locator("#confirm-batch").is_visible()  # 3 is not over 3: no confirmation
    assert wrong == str(round(3 * (1 - precision)))

    await tiles.nth(4).locator("img").click()  # selected again: 4 items, over 3
    out.pop()
    button, confirm, wrong = await _shown(tab)
    assert button == "Label these 4 items", button
    expected_wrong = str(round(4 * (1 - precision)))
    assert (
        f"label 4 items, estimated precision {100 * precision:.0f}%, about {expected_wrong} wrong" in confirm
    )
    assert wrong == expected_wrong
    await tab.check("#confirm-batch input")
    await tab.click("#apply")
    notice = tab.locator("#results .notice")
    await notice.wait_for()
    assert "Labeled 4 items" in await notice.inner_text()
    labels = await labels_of(live)
    batch = [i for i in live["ids"][12:] if live["ids"].index(i) % 3 == 0]
    assert sorted(i for i in batch if labels.get(i) == [a]) == sorted(set(batch) - set(out))


async def test_f_and_a_deselected_flagged_tile_count_each_item_once(live, tab):
    dataset_id = live["dataset_id"]
    model, _ = await oracle(live, 12)
    await tab.goto(
        f"/datasets/{dataset_id}/probability?model_id={model}&label=all&threshold=0.5&confirm_over=3"
    )
    flagged = tab.locator("#probability-gallery .guided-tile.flagged")
    await flagged.first.wait_for()
    count = int(await tab.inner_text("#probability-count"))
    n_flagged = await flagged.count()
    assert count == 18 and n_flagged >= 1
    far = int(await flagged.first.get_attribute("data-id") or 0)
    await flagged.first.locator("img").click()
    assert (await _shown(tab))[0] == f"Label these {count - 1} items"

    await tab.click("h1")  # focus leaves the form: keys go to the page
    await tab.keyboard.press("f")
    assert await tab.locator("#exclude-flagged").is_checked()
    button, confirm, _ = await _shown(tab)
    left = count - n_flagged  # the deselected tile is one of the flagged: counted once
    assert button == f"Label these {left} items" and f"label {left} items" in confirm
    other = tab.locator("#probability-gallery .guided-tile.selected:not(.flagged)").first
    kept_out = int(await other.get_attribute("data-id") or 0)
    await other.locator("img").click()
    assert (await _shown(tab))[0] == f"Label these {left - 1} items"
    await tab.uncheck("#exclude-flagged")  # unticked by hand: the flagged items come back
    assert (await _shown(tab))[0] == f"Label these {count - 2} items"
    await tab.check("#exclude-flagged")

    await tab.check("#confirm-batch input")
    await tab.click("#apply")
    notice = tab.locator("#results .notice")
    await notice.wait_for()
    assert f"Labeled {left - 1} items" in await notice.inner_text()
    labels = await labels_of(live)
    assert far not in labels and kept_out not in labels
    assert sum(1 for i in live["ids"][12:] if i in labels) == left - 1
