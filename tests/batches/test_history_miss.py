"""Back to a view of the label or review page that htmx kept no copy of (it keeps the last ten), in
Chromium: htmx fetched the whole page and put it in the body with the page's script, which then ran
a second time beside the first, so every handler answered twice: "?" on the label page opened the
keyboard map and closed it again, and one key on the review page clicked the suspect's button twice
(htmx dropped the second request, as it did the label page's second Undo). Those views are loaded
again instead, as on a reload; a copy htmx kept is still put back (the label page's counts follow
it: tests/guided/test_label_counts_browser.py)."""

from __future__ import annotations

from typing import Any

from tests.batches.conftest import labels_of, oracle
from tests.helpers.guided import API, chromium_context, new_tab, require_chromium

NO_COPY = "() => sessionStorage.removeItem('htmx-history-cache')"  # htmx kept no copy of any view


async def _back_to_a_view_with_no_copy(tab: Any, *, wait: str) -> None:
    """Back, htmx holding no copy of the view; ``wait``: an element of the view."""
    await tab.evaluate(NO_COPY)
    await tab.go_back()
    await tab.locator(wait).first.wait_for()
    await tab.wait_for_load_state("networkidle")


async def _events(live: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await live["api"].get(f"{API}/datasets/{live['dataset_id']}/events")
    return list(answer.json()["events"])


async def test_back_to_a_label_page_view_htmx_kept_no_copy_of_answers_each_action_once(live):
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id = live["api"], live["dataset_id"]
    for name, key in (("a", "1"), ("b", "2")):
        made = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": key})
        assert made.status_code == 201, made.text
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(f"/datasets/{dataset_id}/label?per_page=24")
        first, second = [
            int(await t.get_attribute("data-id")) for t in await tab.locator("#gallery .tile").all()
        ][:2]
        for item, key in ((first, "1"), (second, "2")):  # two events
            await tab.locator(f"#tile-{item} img").click()
            await tab.keyboard.press(key)
            await expect(tab.locator(f"#marks-{item}")).to_have_class("marks labeled")
        assert len(await _events(live)) == 2

        await tab.keyboard.press("n")  # the next page of the gallery: its address pushed
        await expect(tab.locator("#gallery .page-number").first).to_have_text("2")
        await _back_to_a_view_with_no_copy(tab, wait=f"#tile-{first}")
        await expect(tab.locator("#gallery .page-number").first).to_have_text("1")

        await tab.keyboard.press("?")  # the keyboard map, opened (not opened and closed again)
        await expect(tab.locator("#help")).to_have_attribute("open", "")
        await tab.keyboard.press("?")
        await expect(tab.locator("#help")).not_to_have_attribute("open", "")

        await tab.click("#labelbar [data-action=undo]")  # the second labeling undone, once
        await expect(tab.locator(f"#marks-{second}")).not_to_have_class("marks labeled")
        await tab.wait_for_load_state("networkidle")
        assert [e["kind"] for e in await _events(live)].count("undo") == 1
        assert list(await labels_of(live)) == [first]
        await expect(tab.locator(f"#marks-{first}")).to_have_class("marks labeled")
        assert not errors, errors


async def test_back_to_a_review_page_view_htmx_kept_no_copy_of_answers_a_key_once(live):
    require_chromium()
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    model, _classes = await oracle(live, 24, wrong=(3, 7, 10, 14))
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(f"/datasets/{dataset_id}/review")
        suspects = tab.locator("#suspects .suspect")
        count = await suspects.count()
        assert count >= 2, count
        # the classifier chosen again (the form asks on change): the view's address pushed
        await tab.dispatch_event("#review-view select[name=model_id]", "change")
        await tab.wait_for_url(f"**/review?model_id={model}")
        await _back_to_a_view_with_no_copy(tab, wait="#suspects .suspect")
        await expect(suspects).to_have_count(count)

        # each click on a suspect's buttons (a key clicks the first suspect's)
        await tab.evaluate(
            "() => { window.clicked = 0; document.addEventListener('click', (e) => {"
            " if (e.target.closest('[data-review]')) window.clicked += 1; }, true); }"
        )
        kept = await suspects.first.get_attribute("data-id")
        await tab.click("h1")
        await tab.keyboard.press("k")
        await expect(tab.locator(f"#suspect-{kept}")).to_have_count(0)
        await tab.wait_for_load_state("networkidle")
        assert await tab.evaluate("() => window.clicked") == 1
        assert [e["kind"] for e in await _events(live)].count("review") == 1
        assert not errors, errors
