"""The label page where the tab's storage refuses to keep anything (a private window's quota, a
policy: ``sessionStorage.setItem`` throws), in Chromium. label.js kept its selection there with no
guard: the first click threw, and no tile could be selected, so nothing could be labeled. Now the
page works on: the selection is drawn, kept across paging (the page holds it) and labeled, and the
one the tab kept before is dropped rather than put back out of date on a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.helpers.browser import api_dataset, labels_of, tile_id, tiles

REFUSED = """Storage.prototype.setItem = function () {
  throw new DOMException("the quota is exceeded", "QuotaExceededError");
};"""


async def test_the_label_page_selects_pages_and_labels_where_storage_is_refused(
    page: Any, folder: Path
) -> None:
    dataset = await api_dataset(page, folder, 30, [("rings", "r")])
    count = page.locator("#selection-count")
    await page.goto(f"/datasets/{dataset['id']}/label?per_page=24")
    await tiles(page).nth(0).click()
    await tiles(page).nth(1).click(modifiers=["Control"])
    await page.reload()
    await expect(count).to_have_text("2 selected")  # kept while the tab could keep it

    await page.add_init_script(REFUSED)
    await page.reload()
    assert await page.evaluate("() => { try { sessionStorage.setItem('x', '1'); } catch (_) { return 1; } }")
    await expect(count).to_have_text("2 selected")  # still read
    await tiles(page).nth(5).click()
    await expect(count).to_have_text("1 selected")
    await expect(page.locator("#gallery .tile.selected")).to_have_count(1)
    await page.reload()
    await expect(tiles(page)).to_have_count(24)
    await expect(count).to_have_text("0 selected")  # not the two of before, out of date

    await tiles(page).nth(0).click()
    await tiles(page).nth(2).click(modifiers=["Shift"])
    await expect(count).to_have_text("3 selected")
    first_page = [await tile_id(page, i) for i in range(3)]
    await page.keyboard.press("n")
    await expect(page.locator("#gallery .page-number").first).to_have_text("2")
    await tiles(page).nth(0).click(modifiers=["Control"])
    second_page = await tile_id(page, 0)
    await expect(count).to_have_text("4 selected (3 on other pages)")
    await page.keyboard.press("p")
    await expect(page.locator("#gallery .page-number").first).to_have_text("1")
    await expect(count).to_have_text("4 selected (1 on other pages)")
    await expect(page.locator("#gallery .tile.selected")).to_have_count(3)

    await page.keyboard.press("r")
    for item_id in first_page:
        await expect(labels_of(page, item_id).locator(".badge")).to_have_text("rings")
    await expect(page.locator("#labeled-count")).to_have_text("4")
    await expect(count).to_have_text("0 selected")
    labeled = await (await page.request.get(f"/api/v1/datasets/{dataset['id']}/labels")).json()
    assert sorted(row["item_id"] for row in labeled) == sorted(int(i) for i in [*first_page, second_page])
