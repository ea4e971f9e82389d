"""Real Chromium on a "label these one by one" suggestion of the next-action queue: a class's
hotkey labels the current item and moves on to the next unlabeled one; a class button labels the
item it sits under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.helpers.browser import API, SHOWN, api_dataset


async def test_items_to_label_one_by_one_take_hotkeys_and_buttons(page: Any, folder: Path) -> None:
    dataset = await api_dataset(page, folder, 12, [("rings", "r"), ("peaks", "k")])
    rings, peaks = dataset["classes"]["rings"]["id"], dataset["classes"]["peaks"]["id"]
    await page.goto(f"/datasets/{dataset['id']}/label")
    row = page.locator('#next-actions .suggestion[data-kind="label_items"]').first
    await row.locator("a.button").click()
    await page.wait_for_url("**/next/open?key=**")
    todo = page.locator("#todo-gallery .todo-tile")
    count = await todo.count()
    assert count >= 3
    ids = [int(await todo.nth(i).get_attribute("data-id")) for i in range(count)]
    await expect(todo.nth(0)).to_have_class("tile todo-tile current")
    # every class button under an item can be seen and clicked where it is drawn (the gallery's
    # square, clipped tile hid them under the image: "click a class under each item" showed none)
    buttons = "#todo-gallery .todo-classes button"
    assert await page.evaluate(SHOWN, buttons) == await page.locator(buttons).count() > 0

    await page.keyboard.press("r")  # the first item, the current one
    await expect(page.locator(f"#todo-{ids[0]}")).to_have_class("tile todo-tile done")
    await expect(page.locator(f"#todo-{ids[1]}")).to_have_class("tile todo-tile current")
    await page.keyboard.press("k")  # then the second
    await expect(page.locator(f"#todo-{ids[1]}")).to_have_class("tile todo-tile done")
    await page.locator(f"#todo-{ids[2]} button", has_text="rings").click()
    await expect(page.locator(f"#todo-{ids[2]}")).to_have_class("tile todo-tile done")

    response = await page.request.get(f"{API}/datasets/{dataset['id']}/labels")
    labels = {row["item_id"]: row["label_ids"] for row in await response.json()}
    assert labels == {ids[0]: [rings], ids[1]: [peaks], ids[2]: [rings]}
    events = await (await page.request.get(f"{API}/datasets/{dataset['id']}/events")).json()
    assert [e["kind"] for e in events["events"]] == ["manual"] * 3


async def test_add_classes_leads_to_the_class_field_from_the_panel_the_hint_and_the_queue_page(
    page: Any, folder: Path
) -> None:
    """A new dataset has no classes: the queue's first step, "Add classes", is a link to the label
    page. On that page it used to reload the page and leave the user where they were (the class
    panel sits below the fold of the side bar); it focuses the new-class field now, as does the
    hint above the gallery and the same step on the queue's own page."""
    dataset = await api_dataset(page, folder, 6, [])
    failed: list[str] = []  # anything the pages ask for and do not get
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.set_viewport_size({"width": 1200, "height": 700})
    await page.goto(f"/datasets/{dataset['id']}/label")
    field = page.locator("#add-class input[name=name]")
    await expect(field).not_to_be_in_viewport()
    icon = await page.evaluate("document.querySelector('link[rel=icon]').href")  # was a 404 per page
    assert (await page.request.get(icon)).headers["content-type"].startswith("image/svg+xml")
    await page.click("#add-class-hint")
    await expect(field).to_be_focused()
    await expect(field).to_be_in_viewport()

    await page.goto(f"/datasets/{dataset['id']}/next")  # the queue's own page
    await page.locator('.suggestion[data-kind="add_classes"] a.button').click()
    await page.wait_for_url(f"**/datasets/{dataset['id']}/label#new-class-name")
    await expect(field).to_be_focused()
    await expect(field).to_be_in_viewport()

    items = await (await page.request.get(f"{API}/datasets/{dataset['id']}/items")).json()
    await page.goto(f"/items/{items['items'][0]['id']}")  # the item view says where classes are added
    await page.click("#item-add-classes")
    await page.wait_for_url(f"**/datasets/{dataset['id']}/label#new-class-name")
    await expect(field).to_be_focused()

    await page.goto(f"/datasets/{dataset['id']}/label")
    await page.locator('#next-actions .suggestion[data-kind="add_classes"] a.button').click()
    await expect(field).to_be_focused()
    await expect(field).to_be_in_viewport()
    await page.keyboard.type("rings")
    await page.keyboard.press("Enter")
    await expect(page.locator("#labelbar .label-btn", has_text="rings")).to_be_visible()
    await expect(page.locator("#add-class-hint")).to_have_count(0)
    assert not failed, failed
