"""Real Chromium on a "label these one by one" suggestion of the next-action queue: a class's
hotkey labels the current item and moves on to the next unlabeled one; a class button labels the
item it sits under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.helpers.browser import API, api_dataset


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
