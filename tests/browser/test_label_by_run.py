"""Labeling along the acquisition structure in Chromium: filter the gallery by run, deselect the
frames to leave out, label the rest of the run in one event; the item view shows the header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.detector.factories import write_runs
from tests.helpers.browser import labels_of, tile_id, tiles

API = "/api/v1"


async def _dataset(page: Any, folder: Path) -> dict:
    write_runs(folder)
    response = await page.request.post(f"{API}/datasets", data={"name": "runs", "sources": [str(folder)]})
    assert response.status == 201, await response.text()
    dataset = (await response.json())["dataset"]
    made = await page.request.post(
        f"{API}/datasets/{dataset['id']}/classes", data={"name": "good", "hotkey": "g"}
    )
    assert made.status == 201, await made.text()
    dataset["class"] = await made.json()
    return dataset


async def test_a_run_is_labeled_from_the_gallery_except_the_deselected_frames(
    page: Any, folder: Path
) -> None:
    dataset = await _dataset(page, folder)
    await page.goto(f"/datasets/{dataset['id']}/label")
    await expect(tiles(page)).to_have_count(8)
    await expect(page.locator("#run-label")).to_have_count(0)  # no run chosen: no run bar
    await page.select_option("#run-filter", "1")
    await expect(tiles(page)).to_have_count(4)
    await expect(page.locator("#run-label")).to_be_visible()
    await expect(page.locator("#run-label")).to_contain_text("run 1")
    assert "run=1" in page.url
    left_out = await tile_id(page, 1)
    await tiles(page).nth(1).click()  # the frame to leave out
    await expect(page.locator("#run-except-count")).to_have_text("1")
    await page.click("#run-label-button")
    await expect(page.locator("#flash")).to_contain_text("Labeled 3 item(s) of run 1")
    await expect(page.locator("#flash")).to_contain_text("1 deselected item(s) left out")
    await expect(page.locator("#labeled-count")).to_have_text("3")
    ids = [await tile_id(page, i) for i in range(4)]
    for item_id in ids:
        marks = labels_of(page, item_id)
        if item_id == left_out:
            await expect(marks).not_to_have_class("marks labeled")
        else:
            await expect(marks).to_have_class("marks labeled")
    events = await (await page.request.get(f"{API}/datasets/{dataset['id']}/events")).json()
    listed = events["events"] if isinstance(events, dict) else events
    assert len(listed) == 1 and listed[0]["parameters"]["deselected"] == 1
    # sorting by exposure within the run, then the item view shows the header's fields
    await page.select_option("select[name=sort]", "exposure")
    await expect(tiles(page).nth(0)).to_have_attribute("data-id", ids[1])  # 0.1 s
    await tiles(page).nth(0).dblclick()
    await page.wait_for_url("**/items/*")
    await expect(page.locator(".item-meta-run")).to_have_text("1")
    await expect(page.locator(".item-meta-sample")).to_have_text("kapton")
    await expect(page.locator(".item-meta-exposure")).to_have_text("0.1 s")


async def test_the_gallery_filters_by_exposure_and_time_and_labels_that_range(
    page: Any, folder: Path
) -> None:
    dataset = await _dataset(page, folder)
    await page.goto(f"/datasets/{dataset['id']}/label")
    await page.select_option("#exposure-filter", "0.2")
    await expect(tiles(page)).to_have_count(1)
    await expect(page.locator("#run-label")).to_contain_text("exposure 0.2 s")
    await page.select_option("#exposure-filter", "")
    await page.fill("#time-from", "2024-01-02T07:30:00")
    await page.fill("#time-to", "2024-01-02T23:00:00")
    await page.press("#time-to", "Enter")
    await expect(tiles(page)).to_have_count(2)  # run 2's frames at 08:00 and 09:00
    await page.click("#run-label-button")
    await expect(page.locator("#flash")).to_contain_text("Labeled 2 item(s) of from 2024-01-02T07:30:00")
    await expect(page.locator("#labeled-count")).to_have_text("2")


async def test_with_several_classes_the_run_bar_waits_for_a_class(page: Any, folder: Path) -> None:
    """The run bar labels a whole run at one click; it stood on the first class, so that click
    labeled the run as whatever class came first. With two classes it starts on "choose a class"
    and the browser holds the form back until one is chosen."""
    dataset = await _dataset(page, folder)
    other = await page.request.post(f"{API}/datasets/{dataset['id']}/classes", data={"name": "bad"})
    assert other.status == 201, await other.text()
    bad = (await other.json())["id"]
    await page.goto(f"/datasets/{dataset['id']}/label?run=1")
    await expect(tiles(page)).to_have_count(4)
    assert await page.input_value("#run-label select[name=label]") == ""
    await page.click("#run-label-button")
    await page.wait_for_timeout(300)
    assert await page.evaluate("() => document.querySelector('#run-label select').validity.valueMissing")
    events = await (await page.request.get(f"{API}/datasets/{dataset['id']}/events")).json()
    assert (events["events"] if isinstance(events, dict) else events) == []
    await page.select_option("#run-label select[name=label]", str(bad))
    await page.click("#run-label-button")
    await expect(page.locator("#flash")).to_contain_text("Labeled 4 item(s) of run 1")
