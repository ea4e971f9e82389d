"""The item view in Chromium: a hotkey labels the item and opens the next one in the gallery's order
and filter, n / p step through it, the raw value under the cursor is read out; and on the label
page, a class with a reserved hotkey is refused with an error that stays on screen."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from tests.batches.conftest import labels_of
from tests.helpers.guided import API


async def _class(live, name: str, hotkey: str) -> int:
    response = await live["api"].post(
        f"{API}/datasets/{live['dataset_id']}/classes", json={"name": name, "hotkey": hotkey}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _gallery(tab) -> list[int]:
    tiles = tab.locator("#gallery .tile")
    return [int(await tiles.nth(i).get_attribute("data-id") or 0) for i in range(await tiles.count())]


async def test_item_view_hotkey_labels_and_moves_next_in_the_gallerys_filter(live, tab, folder: Path):
    dataset_id = live["dataset_id"]
    ring = await _class(live, "ring", "r")
    await tab.goto(f"/datasets/{dataset_id}/label?filter=unlabeled&per_page=24")
    order = await _gallery(tab)
    await tab.click(f"#tile-{order[1]} a.open")
    await tab.wait_for_url(re.compile(rf"/items/{order[1]}\?"))
    assert f"/items/{order[0]}?" in (await tab.get_attribute("#item-prev", "href") or "")
    assert f"/items/{order[2]}?" in (await tab.get_attribute("#item-next", "href") or "")

    await tab.keyboard.press("r")
    await tab.wait_for_url(re.compile(rf"/items/{order[2]}\?.*filter=unlabeled"))
    assert (await labels_of(live)) == {order[1]: [ring]}
    # in the unlabeled view the labeled item has left: "previous" is the one before it
    assert f"/items/{order[0]}?" in (await tab.get_attribute("#item-prev", "href") or "")
    await tab.keyboard.press("p")
    await tab.wait_for_url(re.compile(rf"/items/{order[0]}\?"))
    await tab.keyboard.press("n")
    await tab.wait_for_url(re.compile(rf"/items/{order[2]}\?"))

    box = await tab.locator("#viewer-image").bounding_box()
    await tab.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    await tab.mouse.move(box["x"] + box["width"] * 0.31, box["y"] + box["height"] * 0.61)
    readout = tab.locator("#pixel-readout")
    await tab.wait_for_function("() => document.getElementById('pixel-readout').dataset.x !== undefined")
    x, y = int(await readout.get_attribute("data-x") or -1), int(await readout.get_attribute("data-y") or -1)
    item = (await live["api"].get(f"{API}/items/{order[2]}")).json()
    raw = np.asarray(Image.open(_file(folder, item["uri"])))
    assert (await readout.inner_text()).endswith(f": {raw[y, x]}")
    assert 0 < x < 32 and 0 < y < 32


async def test_item_view_keyboard_help_and_undo_as_on_the_label_page(live, tab):
    """On the item view "?" (the keyboard help) and Ctrl+Z (undo the last labeling) did nothing, and
    nothing said so, while the label page has both. They work as there: "?" opens and closes the
    help with this view's keys; Ctrl+Z undoes the person's last labeling, that of the item before
    (labeled by key, which opened this one) or of this one in place; Ctrl+Y redoes it."""
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    ring = await _class(live, "ring", "r")
    dot = await _class(live, "dot", "d")
    await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
    order = await _gallery(tab)
    await tab.click(f"#tile-{order[0]} a.open")
    await tab.wait_for_url(re.compile(rf"/items/{order[0]}\?"))

    help_box = tab.locator("#help")
    await expect(help_box).to_be_hidden()
    await tab.keyboard.press("?")
    await expect(help_box).to_be_visible()
    keys = await help_box.inner_text()
    assert "label this item as ring" in keys and "label this item as dot" in keys, keys
    assert "undo your last labeling" in keys and "this help" in keys, keys
    await tab.keyboard.press("r")  # the help open: no class key goes through
    await tab.keyboard.press("?")
    await expect(help_box).to_be_hidden()
    assert await labels_of(live) == {}

    await tab.keyboard.press("r")  # labels the item and opens the next one
    await tab.wait_for_url(re.compile(rf"/items/{order[1]}\?"))
    assert await labels_of(live) == {order[0]: [ring]}
    await tab.keyboard.press("Control+z")
    flash = tab.locator("#flash")
    await expect(flash).to_contain_text("Undid event")
    assert await labels_of(live) == {}
    await tab.keyboard.press("Control+y")
    await expect(flash).to_contain_text("Redid event")
    assert await labels_of(live) == {order[0]: [ring]}

    await tab.uncheck("#advance")  # this item, in place
    await tab.keyboard.press("d")
    labels = tab.locator("#item-labels")
    await expect(labels).to_have_attribute("data-labels", str(dot))
    await tab.click("#item-view [data-action=undo]")
    await expect(labels).to_have_attribute("data-labels", "")
    await expect(labels).to_contain_text("none")
    assert await labels_of(live) == {order[0]: [ring]}
    await expect(tab.locator("#item-history")).to_contain_text("undo")


async def test_keys_do_nothing_behind_the_open_keyboard_help(live, tab):
    """The item view's zoom keys (+ - 0) zoomed the image behind the open help: only its class keys
    and steps were held back. Now no key acts on the item while the help is open; Escape or "?"
    closes it, and the keys work again."""
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    await _class(live, "ring", "r")
    events = f"{API}/datasets/{dataset_id}/events"
    recorded = (await live["api"].get(events)).json()["total"]
    item = live["ids"][2]
    await tab.goto(f"/items/{item}")
    await tab.uncheck("#advance")  # a class key would stay on the item: its event is what to look for
    image, level, help_box = tab.locator("#viewer-image"), tab.locator("#zoom-level"), tab.locator("#help")
    await expect(level).not_to_have_text("100%")  # fitted to the viewer once loaded
    fitted = await level.inner_text()
    transform = await image.evaluate("(img) => img.style.transform")

    for close in ("Escape", "?"):
        await tab.keyboard.press("?")
        await expect(help_box).to_be_visible()
        for key in ("+", "=", "-", "0", "r", "Delete", "n", "p", "Control+z"):
            await tab.keyboard.press(key)  # each on its own: "0" would undo what "+" did
            assert await level.inner_text() == fitted, key
            assert await image.evaluate("(img) => img.style.transform") == transform, key
        await tab.wait_for_timeout(300)  # time for a request a key would have sent
        await expect(help_box).to_be_visible()
        assert (await live["api"].get(events)).json()["total"] == recorded
        assert await labels_of(live) == {}
        assert tab.url.endswith(f"/items/{item}")
        await tab.keyboard.press(close)
        await expect(help_box).to_be_hidden()

    await tab.keyboard.press("+")  # closed: the keys act again
    await expect(level).not_to_have_text(fitted)
    await tab.keyboard.press("r")
    await expect(tab.locator("#item-labels")).not_to_have_attribute("data-labels", "")
    assert (await live["api"].get(events)).json()["total"] == recorded + 1


def _file(folder: Path, uri: str) -> Path:
    return next(p for p in folder.rglob("*.png") if p.as_posix().endswith(uri.lstrip("/")))


async def test_a_reserved_hotkey_is_refused_and_the_error_stays(live, tab):
    await tab.goto(f"/datasets/{live['dataset_id']}/label")
    await tab.fill("#add-class input[name=name]", "next")
    await tab.fill("#add-class input[name=hotkey]", "n")
    await tab.click("#add-class button")
    flash = tab.locator("#flash")
    await flash.filter(has_text="reserved").wait_for()
    await tab.wait_for_load_state("networkidle")
    text = await flash.inner_text()
    assert "hotkey 'n' is reserved" in text and "choose another" in text, text
    assert await tab.locator("#classes li").count() == 0


async def test_pixel_readout_refuses_points_outside_the_frame_and_unknown_items(live):
    item = live["ids"][0]
    inside = await live["api"].get(f"/items/{item}/pixel", params={"x": 31, "y": 0})
    assert inside.status_code == 200 and inside.json()["x"] == 31
    outside = await live["api"].get(f"/items/{item}/pixel", params={"x": 32, "y": 0})
    assert outside.status_code == 400 and "outside the 32 x 32 frame" in outside.text
    assert (await live["api"].get("/items/987654/pixel", params={"x": 0, "y": 0})).status_code == 404


async def test_labeling_in_place_adds_the_event_to_the_label_history_without_a_reload(live, tab):
    ring = await _class(live, "ring", "r")
    item = live["ids"][3]
    await tab.goto(f"/items/{item}")
    assert "Never labeled" in await tab.inner_text("#item-history")
    await tab.uncheck("#advance")
    await tab.evaluate("() => { window.notReloaded = true; }")

    await tab.click(f".item-label-btn[data-label='{ring}']")
    rows = tab.locator("#history tr")
    await rows.first.wait_for()
    assert await rows.count() == 1
    row = await rows.first.inner_text()
    assert "set" in row and "ring" in row, row
    assert "Never labeled" not in await tab.inner_text("#item-history")
    await tab.keyboard.press("Delete")  # unlabeling is an event of its own, newest first
    await tab.wait_for_function("() => document.querySelectorAll('#history tr').length === 2")
    assert "clear" in await rows.first.inner_text()
    assert await tab.evaluate("() => window.notReloaded === true")
    assert tab.url.endswith(f"/items/{item}")


async def test_a_key_that_changes_nothing_records_no_event_and_still_opens_the_next_item(live, tab):
    """The walk: Delete on an item without a label recorded a "clear" of nothing (an event in the
    history, with an Undo), and so did the key of the class the item already had."""
    from tests.batches.conftest import tag

    dataset_id = live["dataset_id"]
    ring = await _class(live, "ring", "r")
    await tag(live, [live["ids"][1]], ring)
    events = f"{API}/datasets/{dataset_id}/events"
    recorded = (await live["api"].get(events)).json()["total"]
    await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
    order = await _gallery(tab)
    assert order[1] == live["ids"][1]
    await tab.click(f"#tile-{order[1]} a.open")
    await tab.wait_for_url(re.compile(rf"/items/{order[1]}\?"))

    await tab.keyboard.press("r")  # the class it has: nothing to record, on to the next item
    await tab.wait_for_url(re.compile(rf"/items/{order[2]}\?"))
    await tab.keyboard.press("Delete")  # no label to take off: nothing to record either
    await tab.wait_for_url(re.compile(rf"/items/{order[3]}\?"))
    assert (await live["api"].get(events)).json()["total"] == recorded
    assert (await labels_of(live)) == {order[1]: [ring]}

    await tab.uncheck("#advance")  # staying on the item, the answer says why nothing happened
    await tab.keyboard.press("Delete")
    await expect_flash(tab, f"Item {order[3]} has no label: nothing to unlabel, nothing recorded.")
    assert tab.url.split("?")[0].endswith(f"/items/{order[3]}")
    assert (await live["api"].get(events)).json()["total"] == recorded


async def expect_flash(tab, text: str | re.Pattern[str]) -> None:
    from playwright.async_api import expect

    await expect(tab.locator("#flash")).to_have_text(text)


async def test_class_keys_still_label_after_unticking_then_open_the_next_item(live, tab):
    """The walk: a click on "then open the next item" left the focus on that checkbox, and the class
    keys (and n / p, Delete) were taken for typing into it: nothing happened, nothing said why."""
    ring = await _class(live, "ring", "r")
    item = live["ids"][4]
    await tab.goto(f"/items/{item}")
    await tab.click("#advance")  # unticked by a click, as a person does
    assert not await tab.is_checked("#advance")
    await tab.keyboard.press("r")
    await expect_flash(tab, re.compile(rf"^Item {item}: set ring \(event #\d+\)\.$"))
    assert (await labels_of(live)) == {item: [ring]}
    assert tab.url.endswith(f"/items/{item}")  # unticked: it stays on the item


async def test_what_a_key_did_is_said_on_the_next_item_it_opened(live, tab):
    """A class key labeled the item and opened the next one at once: the answer's flash line went
    with the page, so nothing said the label was taken (nor that a key changed nothing). The next
    item says it now, once; an item opened otherwise says nothing of it."""
    dataset_id = live["dataset_id"]
    ring = await _class(live, "ring", "r")
    await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
    order = await _gallery(tab)
    await tab.click(f"#tile-{order[0]} a.open")
    await tab.wait_for_url(re.compile(rf"/items/{order[0]}\?"))
    await tab.keyboard.press("r")
    await tab.wait_for_url(re.compile(rf"/items/{order[1]}\?"))
    assert (await labels_of(live)) == {order[0]: [ring]}
    events = (await live["api"].get(f"{API}/datasets/{dataset_id}/events")).json()["events"]
    await expect_flash(tab, f"Item {order[0]}: set ring (event #{events[0]['id']}).")

    await tab.keyboard.press("p")  # stepping says nothing: the line was for the item it opened
    await tab.wait_for_url(re.compile(rf"/items/{order[0]}\?"))
    await expect_flash(tab, "")
    await tab.keyboard.press("r")  # the class it has: the next item says nothing was recorded
    await tab.wait_for_url(re.compile(rf"/items/{order[1]}\?"))
    await expect_flash(tab, f"Item {order[0]} already has ring: nothing recorded.")
    await tab.reload()
    await expect_flash(tab, "")
