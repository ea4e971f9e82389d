"""Signing in and out in Chromium: the pages send strangers to sign in, scripts never see the cookie."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from backend.accounts import service

PASSWORD = "a browser password"


async def test_sign_in_label_as_yourself_and_sign_out(page: Any, session, folder) -> None:
    from tests.factories import image_folder

    await service.add_user(session, "ada", "admin", PASSWORD)
    image_folder(folder, count=3)

    await page.goto("/datasets")
    await expect(page).to_have_url("/signin?next=%2Fdatasets")  # sent to sign in, and back after
    await page.fill("input[name=name]", "ada")
    await page.fill("input[name=password]", "not it")
    await page.click("#signin-form button")
    await expect(page.locator("#signin-error")).to_contain_text("Wrong name or password")

    await page.fill("input[name=password]", PASSWORD)
    await page.click("#signin-form button")
    await expect(page).to_have_url("/datasets")
    await expect(page.locator("#tagger-name")).to_have_text("ada")
    assert "labelwise_session" not in await page.evaluate("document.cookie")  # HttpOnly
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["labelwise_session"]["httpOnly"] and cookies["labelwise_session"]["sameSite"] == "Lax"

    await page.goto("/account")
    await page.fill("input[name=label]", "notebook")
    await page.click("text=Create token")
    token = await page.locator("#new-token-value").inner_text()
    assert token.startswith("lw_")
    await expect(page).to_have_url("/account")  # posted in place: a reload does not post again
    await page.reload()  # the secret was shown once, and no second token was made
    await expect(page.locator("#new-token-value")).to_have_count(0)
    await expect(page.locator("#tokens tbody tr")).to_have_count(1)
    await expect(page.locator("#tokens")).to_contain_text("notebook")
    await page.click("#tokens >> text=Revoke")
    await expect(page.locator("#tokens")).to_contain_text("revoked")
    await expect(page).to_have_url("/account")

    await page.click("#sign-out")
    await expect(page).to_have_url("/signin")
    await page.goto("/jobs")
    await expect(page).to_have_url("/signin?next=%2Fjobs")
