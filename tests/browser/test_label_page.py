"""A new user in real Chromium: make a dataset from a folder, label by mouse and keyboard, page, filter,
undo, delete a class, change the display transform, export."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.factories import image_folder
from tests.helpers.browser import LATENCY_PROBE, api_dataset, labels_of, tile_id, tiles


def accept_and_keep(messages: list[str]) -> Any:
    """A dialog handler that records the confirmation's text and accepts it."""

    async def handle(dialog: Any) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    return handle


async def test_new_user_creates_a_dataset_from_a_folder_and_labels_with_the_mouse(
    page: Any, folder: Path
) -> None:
    image_folder(folder, count=8)
    await page.goto("/datasets")
    await expect(page.locator("#browser .folders")).to_be_visible()
    # The data root is listed first; open it and add the test's folder.
    await page.locator("#browser .folders li button.link").first.click()
    await page.get_by_role("button", name=f"add {folder.name}").click()
    await expect(page.locator("#chosen li")).to_have_count(1)
    await page.fill("#dataset-name", "my first dataset")
    await page.click("#create-button")
    await page.wait_for_url("**/datasets/*/label")
    await expect(page.locator(".dataset-name")).to_have_text("my first dataset")
    await expect(page.locator("#item-count")).to_have_text("8")
    await expect(tiles(page)).to_have_count(8)
    await expect(page.locator("#gallery .tile.unreadable")).to_have_count(0)
    # A 32-px image is served at its own size (never upscaled: decision 0004); the page scales it.
    await expect(tiles(page).nth(7).locator("img")).to_have_js_property("naturalWidth", 32)
    assert await tiles(page).nth(7).locator("img").get_attribute("width") == "128"

    # Two classes through the class panel.
    for name, key in (("rings", "r"), ("peaks", "k")):
        await page.fill("#add-class input[name=name]", name)
        await page.fill("#add-class input[name=hotkey]", key)
        await page.click("#add-class button")
        await expect(page.locator(f"#labelbar .label-btn[data-hotkey='{key}']")).to_be_visible()

    first = await tile_id(page, 0)
    await tiles(page).nth(0).click()
    await expect(page.locator("#selection-count")).to_have_text("1 selected")
    await page.locator("#labelbar .label-btn", has_text="rings").click()
    await expect(labels_of(page, first)).to_have_class("marks labeled")
    await expect(labels_of(page, first).locator(".badge")).to_have_text("rings")
    await expect(page.locator("#labeled-count")).to_have_text("1")
    await expect(page.locator("#tagger-name")).to_have_text("tester")
    await expect(page.locator("#flash")).to_contain_text("by tester")

    # The labels survive a reload: they were stored, not only painted.
    await page.reload()
    await expect(labels_of(page, first).locator(".badge")).to_have_text("rings")


async def test_keyboard_range_paging_filter_undo_and_class_deletion(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 30, [("rings", "r"), ("peaks", "k")])
    await page.goto(f"/datasets/{dataset['id']}/label?per_page=24")
    await expect(tiles(page)).to_have_count(24)

    # Shift-click range, then the hotkey; timed from the key press to the marks on screen.
    await tiles(page).nth(0).click()
    await tiles(page).nth(4).click(modifiers=["Shift"])
    await expect(page.locator("#selection-count")).to_have_text("5 selected")
    ranged = [await tile_id(page, i) for i in range(5)]
    await page.evaluate(LATENCY_PROBE, ranged[4])
    await page.keyboard.press("r")
    await expect(labels_of(page, ranged[4])).to_have_class("marks labeled")
    latency_ms = await page.evaluate("window.labelLatency")
    print(f"\nkeypress to labels painted in Chromium: {latency_ms:.0f} ms")
    for item_id in ranged:
        await expect(labels_of(page, item_id).locator(".badge")).to_have_text("rings")
    await expect(labels_of(page, await tile_id(page, 5))).to_have_class("marks")
    await expect(page.locator("#progress .prow[data-class] .count").first).to_have_text("5")

    # Selection and transform survive paging: select on page 1, go to page 2, add one there.
    await tiles(page).nth(10).click()
    on_first_page = await tile_id(page, 10)
    await page.keyboard.press("n")
    await expect(page.locator("#gallery .page-number").first).to_have_text("2")
    await expect(tiles(page)).to_have_count(6)
    await tiles(page).nth(0).click(modifiers=["Control"])
    await expect(page.locator("#selection-count")).to_have_text("2 selected (1 on other pages)")
    on_second_page = await tile_id(page, 0)
    await page.keyboard.press("k")
    await expect(labels_of(page, on_second_page).locator(".badge")).to_have_text("peaks")
    await page.keyboard.press("p")
    await expect(page.locator("#gallery .page-number").first).to_have_text("1")
    await expect(labels_of(page, on_first_page).locator(".badge")).to_have_text("peaks")
    await expect(labels_of(page, ranged[0]).locator(".badge")).to_have_text("rings")
    await expect(page.locator("#labeled-count")).to_have_text("7")

    # Filter: only the unlabeled ones.
    await page.select_option("#filter-select", "unlabeled")
    await expect(page.locator("#gallery .view-total").first).to_have_text("23")
    await expect(page.locator("#gallery .marks.labeled")).to_have_count(0)
    assert "filter=unlabeled" in page.url

    # Labeling in this view takes the item away; undo brings it back.
    await tiles(page).nth(0).click()
    gone = await tile_id(page, 0)
    await page.keyboard.press("r")
    await expect(page.locator("#gallery .view-total").first).to_have_text("22")
    await expect(page.locator(f"#tile-{gone}")).to_have_count(0)
    await page.keyboard.press("Control+z")
    await expect(page.locator("#flash")).to_contain_text("Undid")
    await expect(page.locator("#gallery .view-total").first).to_have_text("23")
    await expect(page.locator(f"#tile-{gone}")).to_have_count(1)
    await expect(page.locator("#labeled-count")).to_have_text("7")
    await page.keyboard.press("Control+Shift+z")
    await expect(page.locator("#flash")).to_contain_text("Redid")
    await expect(page.locator("#labeled-count")).to_have_text("8")

    # Delete a class: the confirmation says how many items it holds; they are unlabeled.
    await page.select_option("#filter-select", "all")
    await expect(page.locator("#gallery .view-total").first).to_have_text("30")
    messages: list[str] = []
    page.once("dialog", accept_and_keep(messages))
    await page.locator("#classes li[data-name='peaks'] .delete-class").click()
    await expect(page.locator("#labelbar .label-btn", has_text="peaks")).to_have_count(0)
    assert "holds 2 item(s)" in messages[0], messages
    await expect(page.locator("#flash")).to_contain_text("2 item(s) were unlabeled")
    await expect(labels_of(page, on_first_page)).to_have_class("marks")
    await expect(page.locator("#labeled-count")).to_have_text("6")


async def test_a_transform_change_changes_the_thumbnail_bytes(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 4, [])
    await page.goto(f"/datasets/{dataset['id']}/label")
    image = tiles(page).nth(0).locator("img")
    await expect(image).to_have_js_property("complete", True)
    before_src = await image.get_attribute("src")
    before = await page.request.get(before_src)
    assert before.status == 200 and before.headers["content-type"] == "image/png"
    assert "max-age" in before.headers["cache-control"]
    etag = before.headers["etag"]
    again = await page.request.get(before_src, headers={"If-None-Match": etag})
    assert again.status == 304

    await page.select_option("#scale-select", "log")
    await expect(tiles(page).nth(0).locator("img")).not_to_have_attribute("src", before_src)
    after_src = await tiles(page).nth(0).locator("img").get_attribute("src")
    assert "log=1" in after_src
    after = await page.request.get(after_src)
    assert after.status == 200
    assert await after.body() != await before.body()
    # The transform stays when paging or reloading: it is in the URL.
    await page.reload()
    await expect(page.locator("#scale-select")).to_have_value("log")


async def test_unreadable_images_show_a_placeholder_with_the_reason(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 3, [("rings", "r")], corrupt=1)
    # A file that broke after the scan: its thumbnail fails in the browser, the tile says why.
    victim = sorted(p for p in folder.rglob("img_*.png"))[0]
    victim.write_bytes(b"not an image any more")
    await page.goto(f"/datasets/{dataset['id']}/label")
    await expect(page.locator("#gallery .tile.unreadable")).to_have_count(2)
    await expect(page.locator("#gallery .tile.unreadable .reason").first).not_to_be_empty()
    # Labeling still works on the readable ones and on the unreadable ones.
    await page.keyboard.press("a")
    await page.keyboard.press("r")
    await expect(page.locator("#labeled-count")).to_have_text("4")


async def test_a_class_deleted_in_another_tab_is_refused_and_repainted(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 4, [("rings", "r"), ("peaks", "k")])
    url = f"/datasets/{dataset['id']}/label"
    await page.goto(url)
    other = await page.context.new_page()
    await other.goto(url)
    other.once("dialog", accept_and_keep([]))
    await other.locator("#classes li[data-name='peaks'] .delete-class").click()
    await expect(other.locator("#labelbar .label-btn", has_text="peaks")).to_have_count(0)
    await other.close()

    await tiles(page).nth(0).click()
    await page.keyboard.press("k")  # the stale tab still shows 'peaks'
    await expect(page.locator("#flash")).to_contain_text("no longer exists")
    await expect(page.locator("#labelbar .label-btn", has_text="peaks")).to_have_count(0)
    await expect(page.locator("#labeled-count")).to_have_text("0")
    # Nothing was lost: labeling with a live class still works.
    await tiles(page).nth(0).click()
    await page.keyboard.press("r")
    await expect(page.locator("#labeled-count")).to_have_text("1")


async def test_back_and_forward_keep_the_page_and_the_selection(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 30, [("rings", "r")])
    await page.goto(f"/datasets/{dataset['id']}/label?per_page=24")
    await tiles(page).nth(0).click()
    await page.keyboard.press("n")
    await expect(page.locator("#gallery .page-number").first).to_have_text("2")
    await page.go_back()
    await expect(page.locator("#gallery .page-number").first).to_have_text("1")
    await expect(page.locator("#selection-count")).to_have_text("1 selected")
    await expect(tiles(page).nth(0)).to_have_class("tile selected")
    await page.keyboard.press("r")
    await expect(labels_of(page, await tile_id(page, 0))).to_have_class("marks labeled")
    await page.go_forward()
    await expect(page.locator("#gallery .page-number").first).to_have_text("2")
    await page.reload()
    await expect(page.locator("#gallery .page-number").first).to_have_text("2")


async def test_a_view_change_is_not_lost_to_a_refresh_still_on_its_way(page: Any, folder: Path) -> None:
    """Labeling in the "unlabeled" view asks the gallery to refresh itself. A person who changes the
    view while that refresh is on its way must get the view they chose: the two requests once
    raced, and when the refresh answered first the view's answer went to the replaced gallery and
    was lost (the page showed "unlabeled" under a filter set to "all")."""
    dataset = await api_dataset(page, folder, 12, [("rings", "r")])
    await page.goto(f"/datasets/{dataset['id']}/label?filter=unlabeled")
    await expect(page.locator("#gallery .view-total").first).to_have_text("12")

    gates = {"unlabeled": asyncio.Event(), "all": asyncio.Event()}
    seen: list[str] = []

    def holding(view: str) -> Any:
        async def hold(route: Any) -> None:
            seen.append(view)
            await gates[view].wait()
            with contextlib.suppress(Exception):  # the browser gave up on it (aborted)
                await route.continue_()

        return hold

    await page.route("**/label?*filter=unlabeled*", holding("unlabeled"))
    await page.route("**/label?*filter=all*", holding("all"))

    async def until_seen(view: str) -> None:
        for _ in range(100):
            if view in seen:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {view} request: {seen}")

    await tiles(page).nth(0).click()
    await page.keyboard.press("r")
    await expect(page.locator("#labeled-count")).to_have_text("1")
    await until_seen("unlabeled")  # the refresh is on its way
    await page.select_option("#filter-select", "all")
    await until_seen("all")  # and so is the view the person chose
    gates["unlabeled"].set()  # the refresh answers first
    await asyncio.sleep(0.5)
    gates["all"].set()
    await expect(page.locator("#gallery .view-total").first).to_have_text("12")
    await expect(page.locator("#gallery .marks.labeled")).to_have_count(1)
    assert (await page.locator("#filter-select").input_value()) == "all"


async def test_the_keyboard_help_follows_the_class_panel(page: Any, folder: Path) -> None:
    """The "?" help listed the class keys the page was loaded with: a class added, re-keyed or
    deleted in the panel was missing from it, or listed with its old key, until a reload."""
    dataset = await api_dataset(page, folder, 4, [("rings", "r")])
    await page.goto(f"/datasets/{dataset['id']}/label")
    await page.fill("#add-class input[name=name]", "peaks")
    await page.fill("#add-class input[name=hotkey]", "k")
    await page.click("#add-class button")
    await expect(page.locator("#labelbar .label-btn[data-hotkey='k']")).to_be_visible()
    rings = page.locator("#classes li[data-name='rings']")
    await rings.locator("input[name=hotkey]").fill("g")
    await rings.locator("button", has_text="Save").click()
    await expect(page.locator("#labelbar .label-btn[data-hotkey='g']")).to_be_visible()

    await page.keyboard.press("?")
    rows = page.locator("#help tr", has_text="label the selection as")
    await expect(rows.locator("td:first-child")).to_have_text(["g", "k"])
    await expect(rows.locator("td:last-child")).to_have_text(
        ["label the selection as rings", "label the selection as peaks"]
    )
    await page.keyboard.press("?")
    await expect(page.locator("#help")).not_to_be_visible()


async def test_a_class_the_panel_refuses_keeps_what_was_typed(page: Any, folder: Path) -> None:
    """A name taken or a reserved key: the refusal repainted the class panel with an empty add
    form, so the name and key had to be typed again. They stay now, to be corrected."""
    dataset = await api_dataset(page, folder, 4, [("rings", "r")])
    await page.goto(f"/datasets/{dataset['id']}/label")
    name, key = page.locator("#add-class input[name=name]"), page.locator("#add-class input[name=hotkey]")
    await name.fill("Rings")
    await key.fill("k")
    await page.click("#add-class button")
    await expect(page.locator("#flash")).to_contain_text("a class named 'rings' already exists")
    await expect(name).to_be_focused()  # the panel repainted, what was typed put back
    await expect(name).to_have_value("Rings")
    await expect(key).to_have_value("k")
    await name.fill("halo")
    await key.fill("n")
    await page.click("#add-class button")
    await expect(page.locator("#flash")).to_contain_text("hotkey 'n' is reserved")
    await expect(name).to_be_focused()  # the panel repainted, what was typed put back
    await expect(name).to_have_value("halo")
    await expect(key).to_have_value("n")
    await key.fill("h")
    await page.click("#add-class button")
    await expect(page.locator("#labelbar .label-btn[data-hotkey='h']")).to_contain_text("halo")
    await expect(name).to_have_value("")  # added: the form is empty again
