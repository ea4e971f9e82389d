"""Hostile names and foreign pages in Chromium: a class name with markup runs nothing in another
user's session, and the pages work (and cannot be framed) under the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.helpers.browser import api_dataset, tiles

PROBE = "/static/xss-probe.png"  # a path nobody serves: a request for it means the markup was loaded
HOSTILE = f'H<img src="{PROBE}" onerror="alert(document.cookie)">'


async def test_a_class_name_with_markup_shows_as_text_and_runs_nothing(page: Any, folder: Path) -> None:
    """A labeler names a class with an ``onerror`` image; an admin's hotkey clash quotes the name in
    the flash area (an HTMX error answer): it must appear as text, fetch nothing and run nothing."""
    dataset = await api_dataset(page, folder, 2, [(HOSTILE, "h")])
    dialogs: list[str] = []
    probes: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: probes.append(request.url) if PROBE in request.url else None)
    await page.goto(f"/datasets/{dataset['id']}/label")
    await expect(tiles(page)).to_have_count(2)
    await page.fill("#add-class input[name=name]", "other")
    await page.fill("#add-class input[name=hotkey]", "h")
    async with page.expect_response(lambda r: r.url.endswith(f"/datasets/{dataset['id']}/classes")) as answer:
        await page.click("#add-class button")
    assert (await answer.value).status == 409
    flash = page.locator("#flash")
    await expect(flash).to_contain_text("already used by class 'H")
    await page.wait_for_timeout(300)  # an image error handler would have fired by now
    assert dialogs == [] and probes == [], (dialogs, probes)
    assert await page.locator("#flash img").count() == 0


async def test_the_label_page_works_under_the_content_security_policy(page: Any, folder: Path) -> None:
    """Scripts run from /static only; the page's own code (htmx, label.js) still labels, and a
    policy violation would be reported to the page."""
    violations: list[str] = []
    csp = "Content Security Policy"
    page.on("console", lambda msg: violations.append(msg.text) if csp in msg.text else None)
    dataset = await api_dataset(page, folder, 3, [("rings", "r")])
    response = await page.goto(f"/datasets/{dataset['id']}/label?log=1")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await tiles(page).nth(0).click()
    await page.keyboard.press("r")
    await expect(page.locator("#labeled-count")).to_have_text("1")
    await tiles(page).nth(0).dblclick()  # the item view: its scale menu submits through data-autosubmit
    await page.wait_for_url("**/items/**log=1**")
    async with page.expect_navigation():
        await page.select_option("select[name=scale][data-autosubmit]", "linear")
    assert "log=1" not in page.url and "scale=linear" in page.url
    assert violations == [], violations


async def test_a_foreign_page_cannot_frame_labelwise(page: Any, live_server: Any, tmp_path: Path) -> None:
    """Clickjacking: another origin's <iframe> of a Labelwise page stays empty (frame-ancestors)."""
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "frame-ancestors" in msg.text else None)
    await page.set_content(f'<iframe id="victim" src="{live_server.url}/datasets"></iframe>')
    await page.wait_for_timeout(1000)
    victim = page.frames[1]
    assert victim.url.startswith("chrome-error://"), victim.url  # the frame holds Chromium's error page
    assert "Labelwise" not in await victim.content()
    assert blocked, "Chromium did not report the refused frame"
