"""Back to a view of the similarity page that a pager pushed, after a batch was applied, in Chromium:
htmx put back its stored copy of the page, the copy of the view the batch was applied from (kept
under the address of before). Its tiles showed the batch sent, those labeled since selected, and its
checkboxes were the server's first drawing (a copy keeps the markup, not what was clicked), so every
tile the person had left out was ticked: "Label selected", before the page's repaint came back,
labeled them. The page is now loaded again: the view as it is now."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tests.batches.conftest import labels_of, oracle
from tests.helpers.guided import chromium_context, new_tab, require_chromium, run_job

TILES = "#label-form .guided-tile"

# the page as it is now: every tile drawn as its form sends it, the count says so, none of the
# items labeled now selected
AS_NOW = """([view, labeled]) => {
    const results = document.querySelector('#results');
    const tiles = [...document.querySelectorAll('#label-form .guided-tile')];
    const ticked = tiles.filter((t) => t.querySelector('input[name=selected]').checked);
    const count = document.querySelector('#label-form .selected-count');
    return document.readyState === 'complete' && !!results && results.dataset.repaint === view
        && tiles.length > 0 && count && count.textContent === String(ticked.length)
        && tiles.every((t) => t.classList.contains('selected') === ticked.includes(t))
        && !ticked.some((t) => labeled.includes(Number(t.dataset.id)));
}"""


async def _shown(tab: Any) -> list[list[Any]]:
    """Each tile: its item, drawn selected, ticked (sent), labeled; and the count shown."""
    return list(
        await tab.evaluate(
            "(s) => [...document.querySelectorAll(s)].map((t) => [Number(t.dataset.id), "
            "t.classList.contains('selected'), t.querySelector('input[name=selected]').checked, "
            "!!t.querySelector('.current')]).concat([[document.querySelector('.selected-count')"
            "?.textContent]])",
            TILES,
        )
    )


async def test_back_to_the_view_a_similarity_batch_was_applied_from_draws_it_as_it_is_now(live):
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model, (a, _b, _c) = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    query = ids[12]
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        # the results asked for again (htmx's repaint on its copy) wait until let go: a slow answer
        held, let_go = [], asyncio.Event()

        async def hold(route: Any) -> None:
            request = route.request
            if request.method == "GET" and "/similar?" in request.url and request.headers.get("hx-request"):
                held.append(request.url)
                await let_go.wait()
            with contextlib.suppress(Exception):  # the browser closed meanwhile
                await route.continue_()

        opened = f"/datasets/{dataset_id}/similar?item_id={query}&model_id={model}&per_page=24&label_id={a}"
        await tab.goto(opened)
        await tab.locator(TILES).first.wait_for()

        # page 2 and back to page 1, twice: two entries of the tab's history name page 1
        for link, page in (("next →", 2), ("← previous", 1), ("next →", 2), ("← previous", 1)):
            await tab.get_by_role("link", name=link).click()
            await expect(tab.locator(".guided-pager span")).to_have_text(f"page {page} of 2")
        view = await tab.evaluate("() => document.querySelector('#results').dataset.repaint")
        assert tab.url.endswith(view), (tab.url, view)

        # a batch of two, every other tile left out
        labeled = await labels_of(live)
        await tab.click("[data-select=none]")
        taken = [t[0] for t in (await _shown(tab))[:-1] if t[0] not in labeled and t[0] != query][:2]
        for item in taken:
            await tab.locator(f"#tile-{item} img").click()
        await tab.click("#label-batch")
        await expect(tab.locator(".notice")).to_contain_text("Labeled 2 of 2 selected items")
        assert not tab.url.endswith(view), "the address is still the view the batch was applied from"

        # Back to the first entry of page 1 (past page 2: Back held down), its repaint slow to come
        await tab.route("**/datasets/**", hold)
        now = sorted(await labels_of(live))
        assert set(taken) <= set(now)
        await tab.evaluate("() => history.go(-2)")
        try:
            await tab.wait_for_function(AS_NOW, arg=[view, now], timeout=10_000)
        except Exception:
            raise AssertionError(
                f"not the view as it is now (labeled {taken}; repaints held {held}): {await _shown(tab)}"
            ) from None
        assert tab.url.endswith(view), tab.url
        let_go.set()
        assert not errors, errors


async def test_back_to_a_view_htmx_kept_no_copy_of_loads_it_again(live):
    """htmx keeps copies of the last ten views; Back to one it has none of was fetched by htmx and
    put in the page with its scripts, which then ran twice: a tile clicked was toggled twice (it
    stayed selected, and was labeled at the next "Label selected")."""
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model, _classes = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[12]}&model_id={model}&per_page=24")
        first = await tab.locator(TILES).first.get_attribute("data-id")
        await tab.get_by_role("link", name="next →").click()
        await expect(tab.locator(".guided-pager span")).to_have_text("page 2 of 2")
        await tab.evaluate("() => sessionStorage.removeItem('htmx-history-cache')")  # none kept
        await tab.go_back(wait_until="commit")
        await expect(tab.locator(".guided-pager span")).to_have_text("page 1 of 2")
        await tab.wait_for_load_state("load")
        tile = tab.locator(f"#tile-{first}")
        await expect(tile).to_have_class("tile guided-tile selected")
        await tile.locator("img").click()
        await expect(tile).to_have_class("tile guided-tile")
        await expect(tab.locator("#label-form .selected-count")).to_have_text("17")
        assert not errors, errors
