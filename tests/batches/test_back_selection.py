"""The tiles a person left out of a batch stay out after Back to the page and after a reload, in
Chromium (guided.js keeps them per batch in sessionStorage): the pages answer with no-store and are
drawn again from the server, every tile selected, and one more click labeled the outliers taken out.
Which tiles were clicked out by hand (a rejection, decision 0015) survives too; a batch applied
forgets them, and another batch (query, class, threshold) never inherits them."""

from __future__ import annotations

from typing import Any

from tests.batches.conftest import labels_of, oracle, rejected
from tests.helpers.guided import chromium_context, new_tab, require_chromium, run_job

SIMILAR_TILES = "#label-form .guided-tile"
PROBABILITY_TILES = "#probability-gallery .guided-tile"

# each tile: id, drawn selected, ticked (what the form sends), clicked out by hand
TILES = """(s) => [...document.querySelectorAll(s)].map((t) => [Number(t.dataset.id),
    t.classList.contains('selected'), t.querySelector('input[name=selected]').checked,
    !!t.dataset.handOut])"""


async def _tiles(tab: Any, selector: str) -> list[list[Any]]:
    await tab.locator(selector).first.wait_for()
    return list(await tab.evaluate(TILES, selector))


async def _left_out(tab: Any, selector: str) -> tuple[set[int], set[int]]:
    """The tiles left out of the batch and those of them clicked out by hand; each tile drawn as its
    form sends it."""
    shown = await _tiles(tab, selector)
    assert all(drawn == sent for _i, drawn, sent, _h in shown), f"tiles drawn otherwise than sent: {shown}"
    out = {i for i, drawn, _s, _h in shown if not drawn}
    return out, {i for i, _d, _s, hand in shown if i in out and hand}


async def _hand_field(tab: Any, form: str) -> str:
    return str(await tab.locator(f"{form} input[name=hand_deselected]").input_value())


async def _leave_out(tab: Any, selector: str) -> tuple[int, int, int, list[int]]:
    """One tile clicked out (by hand), the next one taken out by a Shift-click range (in bulk), and a
    third to open in the item view; the tiles shown. Not the first: a similarity page's query item
    (no rejection)."""
    shown = [i for i, *_rest in await _tiles(tab, selector)]
    assert len(shown) >= 5 and await _left_out(tab, selector) == (set(), set()), shown
    hand, bulk, opened = shown[1], shown[2], shown[4]
    await tab.locator(f"#tile-{hand} img").click()
    await tab.locator(f"#tile-{bulk} img").click(modifiers=["Shift"])
    assert await _left_out(tab, selector) == ({hand, bulk}, {hand})
    return hand, bulk, opened, shown


async def _reloaded(tab: Any) -> bool:
    return not await tab.evaluate("() => window.notReloaded === true")


async def test_tiles_left_out_of_a_similarity_batch_stay_out_after_back_and_are_not_labeled(live):
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model, (a, _b, _c) = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    similar = (
        f"/datasets/{dataset_id}/similar?item_id={ids[12]}&model_id={model}&label_id={a}"
        "&exclude_labeled=1&per_page=24"
    )
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(similar)
        hand, bulk, opened, shown = await _leave_out(tab, SIMILAR_TILES)
        assert await _hand_field(tab, "#label-form") == str(hand)
        await tab.evaluate("() => { window.notReloaded = true; }")

        # a closer look at an item, and Back: the page is loaded again from the server
        await tab.locator(f"#tile-{opened} a.open").click()
        await tab.wait_for_url(f"**/items/{opened}?back=**")
        await tab.go_back()
        assert await _reloaded(tab), "not loaded again: the test proves nothing"
        assert await _left_out(tab, SIMILAR_TILES) == ({hand, bulk}, {hand})
        assert await _hand_field(tab, "#label-form") == str(hand)
        await expect(tab.locator("#label-form .selected-count")).to_have_text(str(len(shown) - 2))

        await tab.click("#label-batch")
        taken = [i for i in shown if i not in (hand, bulk)]
        await expect(tab.locator(".notice")).to_contain_text(f"Labeled {len(taken)} of {len(taken)} selected")
        labels = await labels_of(live)
        assert {i for i in shown if labels.get(i) == [a]} == set(taken)
        assert await rejected(live) == [(hand, a)]  # the tile taken out in bulk is no rejection

        # the batch applied forgets what was kept: opened again, the bulk tile starts selected (the
        # query item, labeled now, deselected); the address is the next candidates' since the answer
        await tab.goto(similar)
        out, _by_hand = await _left_out(tab, SIMILAR_TILES)
        assert bulk in {i for i, *_rest in await _tiles(tab, SIMILAR_TILES)}
        assert bulk not in out and out <= set(await labels_of(live)), out
        assert not errors, errors


async def test_tiles_left_out_of_a_probability_batch_stay_out_after_back_and_a_reload(live):
    require_chromium()
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    model, (a, _b, _c) = await oracle(live, 12)
    probability = (
        f"/datasets/{dataset_id}/probability?model_id={model}&label={a}&threshold=0.5&confirm_over=100"
    )
    async with chromium_context(live["url"], back_forward_cache=True) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(probability)
        hand, bulk, opened, shown = await _leave_out(tab, PROBABILITY_TILES)
        assert await _hand_field(tab, "#probability-gallery") == str(hand)
        await expect(tab.locator("#apply")).to_have_text(f"Label these {len(shown) - 2} items")
        await tab.evaluate(
            "() => { window.notReloaded = true; document.getElementById('results').dataset.left = '1'; }"
        )

        # Back from the item view: the page kept whole (back-forward cache), its batch drawn again
        await tab.locator(f"#tile-{opened} a.open").click()
        await tab.wait_for_url(f"**/items/{opened}?back=**")
        await tab.go_back(wait_until="commit")
        assert not await _reloaded(tab), "not the back-forward cache's page: the test proves nothing"
        await tab.wait_for_selector("#results:not([data-left])", state="attached")
        assert await _left_out(tab, PROBABILITY_TILES) == ({hand, bulk}, {hand})
        assert await _hand_field(tab, "#probability-gallery") == str(hand)

        # and loaded again
        await tab.reload()
        assert await _left_out(tab, PROBABILITY_TILES) == ({hand, bulk}, {hand})
        assert await _hand_field(tab, "#probability-gallery") == str(hand)
        await expect(tab.locator("#apply")).to_have_text(f"Label these {len(shown) - 2} items")

        await tab.click("#apply")
        taken = [i for i in shown if i not in (hand, bulk)]
        await expect(tab.locator(".notice")).to_contain_text(f"Labeled {len(taken)} items")
        labels = await labels_of(live)
        assert {i for i in shown if labels.get(i) == [a]} == set(taken)
        assert await rejected(live) == [(hand, a)]
        # the same batch drawn after it forgot what was kept: the bulk tile is offered, selected
        assert [(i, drawn) for i, drawn, *_rest in await _tiles(tab, PROBABILITY_TILES)] == [(bulk, True)]
        await tab.reload()
        assert [(i, drawn) for i, drawn, *_rest in await _tiles(tab, PROBABILITY_TILES)] == [(bulk, True)]
        assert not errors, errors


async def test_tiles_left_out_of_a_next_actions_batch_stay_out_after_back(live):
    require_chromium()
    from playwright.async_api import expect

    await oracle(live, 12)
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)
        await tab.goto(f"/datasets/{live['dataset_id']}/next")
        rows = tab.locator("#next-main .suggestion").filter(has=tab.locator("a.button"))
        kinds = [await row.get_attribute("data-kind") for row in await rows.all()]
        batch = next(k for k, kind in enumerate(kinds) if kind in ("similarity_batch", "probability_batch"))
        await rows.nth(batch).locator("a").click()
        await tab.wait_for_url("**/next/open?key=**")
        hand, bulk, opened, shown = await _leave_out(tab, SIMILAR_TILES)
        label = int(await tab.locator("#label-form input[name=label_id]").input_value())

        await tab.locator(f"#tile-{opened} a.open").click()
        await tab.wait_for_url(f"**/items/{opened}?back=**")
        await tab.go_back()
        assert await _left_out(tab, SIMILAR_TILES) == ({hand, bulk}, {hand})
        assert await _hand_field(tab, "#label-form") == str(hand)

        await tab.click("#label-batch")
        taken = [i for i in shown if i not in (hand, bulk)]
        await expect(tab.locator("#next-notice")).to_contain_text(f"Labeled {len(taken)} item(s)")
        labels = await labels_of(live)
        assert {i for i in shown if labels.get(i) == [label]} == set(taken)
        assert await rejected(live) == [(hand, label)]
        assert not errors, errors


async def test_another_batch_starts_fully_selected(live):
    """Another query, class or threshold is another batch: every tile starts selected. The batch
    left comes back as it was left (the similarity page's class picked on the page too)."""
    require_chromium()

    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model, (a, b, _c) = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    similar = f"/datasets/{dataset_id}/similar?model_id={model}&exclude_labeled=1&per_page=24"
    first = f"{similar}&item_id={ids[12]}&label_id={a}"
    probability = f"/datasets/{dataset_id}/probability?model_id={model}&confirm_over=100"
    async with chromium_context(live["url"]) as context:
        errors: list[str] = []
        tab = await new_tab(context, errors)

        await tab.goto(first)
        hand, bulk, _opened, _shown = await _leave_out(tab, SIMILAR_TILES)
        await tab.select_option("#label-form select[name=label_id]", str(b))  # the class changed on the page
        other_class, other_query = f"&item_id={ids[12]}&label_id={b}", f"&item_id={ids[15]}&label_id={a}"
        for other in (f"{similar}{other_class}", f"{similar}{other_query}"):
            await tab.goto(other)
            tiles = await _tiles(tab, SIMILAR_TILES)
            assert {hand, bulk} <= {i for i, *_rest in tiles}, "the same items: the test proves nothing"
            assert await _left_out(tab, SIMILAR_TILES) == (set(), set()), other
            assert await _hand_field(tab, "#label-form") == ""
        await tab.goto(first)
        assert await _left_out(tab, SIMILAR_TILES) == ({hand, bulk}, {hand})
        assert await tab.locator("#label-form select[name=label_id]").input_value() == str(b)

        await tab.goto(f"{probability}&label={a}&threshold=0.5")
        hand, bulk, _opened, _shown = await _leave_out(tab, PROBABILITY_TILES)
        for other in (f"{probability}&label={a}&threshold=0.6", f"{probability}&label=all&threshold=0.5"):
            await tab.goto(other)
            tiles = await _tiles(tab, PROBABILITY_TILES)
            assert {hand, bulk} <= {i for i, *_rest in tiles}, "the same items: the test proves nothing"
            assert await _left_out(tab, PROBABILITY_TILES) == (set(), set()), other
        await tab.goto(f"{probability}&label={b}&threshold=0.5")
        assert await _left_out(tab, PROBABILITY_TILES) == (set(), set())
        await tab.goto(f"{probability}&label={a}&threshold=0.5")
        assert await _left_out(tab, PROBABILITY_TILES) == ({hand, bulk}, {hand})
        assert not errors, errors
