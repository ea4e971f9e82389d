"""Chromium: a class added in the label page's class panel without a key gets the next free one,
shown in the panel, and that key labels on the label page and on a batch page. Such a class had
no key, so a tile of it in a batch could only be deselected, not labeled in place."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.batches.conftest import labels_of
from tests.helpers.guided import pca_model


async def test_a_class_added_in_the_panel_gets_a_key_that_labels_here_and_on_a_batch(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    await tab.goto(f"/datasets/{dataset_id}/label")
    for name in ("ring", "other"):
        await tab.fill("#add-class input[name=name]", name)  # the key field left empty
        await tab.click("#add-class button")
        await expect(tab.locator("#labelbar .label-btn", has_text=name)).to_be_visible()
    await expect(tab.locator("#labelbar .label-btn", has_text="ring").locator("kbd")).to_have_text("1")
    await expect(tab.locator("#labelbar .label-btn", has_text="other").locator("kbd")).to_have_text("2")
    await expect(tab.locator("#classes li[data-name='other'] input[name=hotkey]")).to_have_value("2")
    classes = {c["name"]: c["id"] for c in (await api.get(f"/api/v1/datasets/{dataset_id}/classes")).json()}

    await tab.click(f"#tile-{ids[0]} img")
    await tab.keyboard.press("2")
    await expect(tab.locator(f"#marks-{ids[0]} .badge")).to_have_text("other")

    # a batch page: a tile of the other class, pointed at, is labeled in place with its key
    await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[1]}&model_id={model}&per_page=24")
    await tab.wait_for_selector("#label-form .guided-tile")
    await tab.select_option("select[name=label_id]", str(classes["ring"]))
    await expect(tab.locator("#class-keys .class-key[data-hotkey='2']")).to_contain_text("other")
    tiles = tab.locator("#label-form .guided-tile")
    odd = int(await tiles.nth(await tiles.count() - 1).get_attribute("data-id") or 0)
    await tab.hover(f"#tile-{odd} img")
    await tab.keyboard.press("2")
    tile = tab.locator(f"#tile-{odd}")
    await tile.locator(".current").filter(has_text="other").wait_for()
    await expect(tile).not_to_have_class(re.compile(r"\bselected\b"))
    labels = await labels_of(live)
    assert labels[odd] == [classes["other"]] and labels[ids[0]] == [classes["other"]]
