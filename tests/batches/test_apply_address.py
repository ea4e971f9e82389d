"""After a batch is applied, the browser's address is the view the page now shows, in Chromium: the
similarity page's answer (the next candidates, the batch just decided on out of the ranking) kept the
address of the first ranking, so a reload or Back drew that ranking again and the tiles left out of
the applied page came back selected; a Next actions batch accepted kept the address of the batch,
out of date once accepted. And the similarity page's guardrail flags are those of the class its
dropdown shows after Back (the browser, or the page's kept state, may put back a class picked on
the page: the server drew the flags of the class the address names)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.batches.conftest import labels_of, oracle
from tests.helpers.guided import chromium_context, go_back, mark_page, new_tab, require_chromium, run_job

TILES = "#label-form .guided-tile"
BOTH_WAYS = (False, True)  # Back to a page loaded again, then to the back-forward cache's page


async def _selection(tab: Any) -> tuple[list[int], set[int]]:
    """The tiles shown, in order, and those selected (each drawn as its form sends it)."""
    await tab.locator(TILES).first.wait_for()
    shown = await tab.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((t) => [Number(t.dataset.id), "
        "t.classList.contains('selected'), t.querySelector('input[name=selected]').checked])",
        TILES,
    )
    assert all(drawn == sent for _i, drawn, sent in shown), f"tiles drawn otherwise than sent: {shown}"
    return [i for i, *_rest in shown], {i for i, drawn, _sent in shown if drawn}


async def _view(tab: Any) -> str:
    """The view the results show (their data-repaint), as an address."""
    return str(
        await tab.evaluate("() => new URL(document.querySelector('#results').dataset.repaint, location).href")
    )


async def test_the_address_after_a_similarity_batch_is_the_view_shown_on_reload_back_and_forward(live):
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model, (a, _b, _c) = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    for cached, query in zip(BOTH_WAYS, (ids[12], ids[25]), strict=True):
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)
            await tab.goto(f"/items/{query}")  # where "find similar" starts
            opened = f"/datasets/{dataset_id}/similar?item_id={query}&model_id={model}&per_page=24"
            await tab.goto(opened)

            # a batch of two, of the class picked on the page (the query is unlabeled); every other
            # tile left out in bulk ("Select none")
            first, _selected = await _selection(tab)
            labeled = await labels_of(live)
            async with tab.expect_response(lambda r: "/similar/flags?" in r.url):
                await tab.select_option("#label-form select[name=label_id]", str(a))
            await tab.click("[data-select=none]")
            taken = [i for i in first if i not in labeled and i != query][:2]
            for item in taken:
                await tab.locator(f"#tile-{item} img").click()
            await tab.click("#label-batch")
            await expect(tab.locator(".notice")).to_contain_text("Labeled 2 of 2 selected items")

            # the address is the next candidates' view
            applied = await _view(tab)
            assert "done=" in applied and tab.url == applied, (tab.url, applied)
            shown, selected = await _selection(tab)
            assert not set(shown) & set(first) - {query}, "the batch decided on is out of the ranking"
            assert selected, "no tile to leave out: the test proves nothing"
            # its tiles open their item with the way back to this view, not to the one sent from
            href = await tab.locator(f"#tile-{shown[0]} a.open").get_attribute("href")
            view = urlsplit(applied)
            assert parse_qs(urlsplit(href or "").query)["back"] == [f"{view.path}?{view.query}"], href

            # on the applied page, every tile left out in bulk
            await tab.click("[data-select=none]")
            assert await _selection(tab) == (shown, set())

            await tab.reload()
            assert tab.url == applied
            assert await _selection(tab) == (shown, set()), "not the view left"

            # a closer look at an item, Back, Forward and Back again: the same view, as left
            await mark_page(tab)
            looked_at = shown[-1]
            await tab.locator(f"#tile-{looked_at} a.open").click()
            await tab.wait_for_url(f"**/items/{looked_at}?back=**")
            await go_back(tab, cached)
            assert tab.url == applied
            await expect(tab.locator("#label-form .selected-count")).to_have_text("0")
            assert await _selection(tab) == (shown, set())
            await tab.go_forward(wait_until="commit")  # the item view may come from the cache: no load
            await tab.wait_for_url(f"**/items/{looked_at}?back=**", wait_until="commit")
            # the item view drawn (loaded or restored) before the next Back: a Back sent while the
            # browser still swaps the page in finds no active page to go back from
            await tab.locator(f"#item-view[data-item='{looked_at}']").wait_for()
            # loaded again, or from the back-forward cache (Chromium mostly keeps a page that fetched
            # a no-store answer out of it, not always): the same view, as left, either way
            await tab.go_back(wait_until="commit")
            await tab.wait_for_url(applied, wait_until="commit")
            assert tab.url == applied
            assert await _selection(tab) == (shown, set())

            # the first ranking was replaced: Back leaves the page for where it was opened
            await tab.go_back(wait_until="commit")
            await tab.wait_for_url(f"**/items/{query}", wait_until="commit")

            # the batch applied was forgotten (its key is that of the address it was sent from):
            # opened again, its tiles start as the server draws them
            await tab.goto(opened)
            shown, selected = await _selection(tab)
            assert shown == first
            assert selected == {i for i in first if i not in await labels_of(live)}
            assert not errors, errors


async def test_the_address_after_a_next_actions_batch_is_accepted_is_the_queue(live):
    require_chromium()
    from playwright.async_api import expect

    await oracle(live, 12)
    queue = f"{live['url']}/datasets/{live['dataset_id']}/next"
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(queue)
        rows = tab.locator("#next-main .suggestion").filter(has=tab.locator("a.button"))
        kinds = [await row.get_attribute("data-kind") for row in await rows.all()]
        batch = next(k for k, kind in enumerate(kinds) if kind in ("similarity_batch", "probability_batch"))
        await rows.nth(batch).locator("a").click()
        await tab.wait_for_url("**/next/open?key=**")
        await tab.locator(TILES).first.wait_for()
        await tab.click("#label-batch")
        await expect(tab.locator("#next-notice")).to_contain_text("Labeled")
        assert tab.url == queue

        await tab.reload()  # the queue as it is now, not the batch accepted ("out of date")
        await expect(tab.locator("#suggestions")).to_be_visible()
        await expect(tab.locator("#next-stale")).to_have_count(0)
        await tab.go_back()
        assert tab.url == queue
        await expect(tab.locator("#next-stale")).to_have_count(0)
        assert not errors, errors


async def _flagged(tab: Any) -> set[int]:
    """The tiles marked flagged once the badges are settled (a class's flags are swapped in)."""
    await tab.wait_for_load_state("networkidle")
    busy = ".htmx-request, .htmx-settling, .htmx-swapping"
    await tab.wait_for_function(f"() => !document.querySelector('{busy}')")
    return set(
        await tab.locator(f"{TILES}.flagged").evaluate_all("(ts) => ts.map((t) => Number(t.dataset.id))")
    )


async def test_after_back_the_similarity_page_shows_the_flags_of_the_class_its_dropdown_shows(live):
    """From an unlabeled query the page opens without a class; the person picks one (the page asks
    for its flags; the address does not change). Back to the page loaded again, and a reload, draw
    the flags of no class: the dropdown, put back to the class picked, must bring that class's."""
    require_chromium()

    ids = live["ids"]
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "build-index", "model_id": model})
    picked = str(classes[2])
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(f"/datasets/{live['dataset_id']}/similar?item_id={ids[14]}&model_id={model}")
        drawn = await _flagged(tab)
        async with tab.expect_response(lambda r: "/similar/flags?" in r.url):
            await tab.select_option("select[name=label_id]", picked)
        flags = await _flagged(tab)
        assert flags != drawn, "the class changes no flag: the test proves nothing"

        opened = (await _selection(tab))[0][3]
        await tab.locator(f"#tile-{opened} a.open").click()
        await tab.wait_for_url(f"**/items/{opened}?back=**")
        await tab.go_back()
        assert await tab.input_value("select[name=label_id]") == picked
        assert await _flagged(tab) == flags

        await tab.reload()
        assert await tab.input_value("select[name=label_id]") == picked
        assert await _flagged(tab) == flags
        assert not errors, errors
