"""A Next actions batch after one of its tiles was labeled in place, in Chromium: a tile clicked out,
another tile pointed at and given another class's key (the page invites it), then an item opened and
Back (loaded again, and from the back-forward cache), or a reload. The key of the batch names the
newest event it was made after, so that label put it out of date: the page said "This suggestion
is out of date" and the batch and the tile left out were gone. The batch comes back as it was,
the tile labeled drawn with its label and left out, the tile clicked out still out; Accept labels
the rest."""

from __future__ import annotations

from typing import Any

from tests.batches.conftest import labels_of, oracle, rejected
from tests.helpers.guided import API, chromium_context, go_back, mark_page, new_tab, require_chromium

TILES = "#label-form .guided-tile"
BATCHES = ("similarity_batch", "probability_batch")
# each tile: id, drawn selected, ticked (what the form sends), clicked out by hand, labels shown
SHOWN = """(s) => [...document.querySelectorAll(s)].map((t) => [Number(t.dataset.id),
    t.classList.contains('selected'), t.querySelector('input[name=selected]').checked,
    !!t.dataset.handOut, [...t.querySelectorAll('.current i')].map((i) => i.textContent)])"""


async def _as_left(tab: Any, shown: list[int], hand: int, fixed: int, name: str) -> None:
    """The batch's tiles as the person left them: all there, ``hand`` clicked out, ``fixed``
    labeled ``name`` and left out, every other one selected (drawn as its form sends it)."""
    from playwright.async_api import expect

    await expect(tab.locator("#next-stale")).to_have_count(0)
    want = [
        [i, i not in (hand, fixed), i not in (hand, fixed), i == hand, [name] if i == fixed else []]
        for i in shown
    ]
    check = "([s, want]) => JSON.stringify((" + SHOWN + ")(s)) === JSON.stringify(want)"
    try:
        await tab.wait_for_function(check, arg=[TILES, want], timeout=15_000)
    except Exception:
        raise AssertionError(f"not the batch as left: {await tab.evaluate(SHOWN, TILES)}") from None
    await expect(tab.locator(".selected-count")).to_have_text(str(len(shown) - 2))


async def test_a_next_actions_batch_labeled_in_place_is_kept_on_back_and_reload(live):
    require_chromium()
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    _model, classes = await oracle(live, 12)
    for label_id, key in zip(classes, "123", strict=True):  # the class keys a batch page shows
        made = await live["api"].patch(f"{API}/classes/{label_id}", json={"hotkey": key})
        assert made.status_code == 200, made.text
    for cached in (False, True):
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)
            await tab.goto(f"/datasets/{dataset_id}/next")
            rows = tab.locator("#next-main .suggestion").filter(has=tab.locator("a.button"))
            kinds = [await row.get_attribute("data-kind") for row in await rows.all()]
            await rows.nth(next(k for k, kind in enumerate(kinds) if kind in BATCHES)).locator("a").click()
            await tab.wait_for_url("**/next/open?key=**")
            await tab.locator(TILES).first.wait_for()
            shown = [t[0] for t in await tab.evaluate(SHOWN, TILES)]
            assert len(shown) >= 4, shown
            label = int(await tab.locator("#label-form input[name=label_id]").input_value())
            other = next(c for c in classes if c != label)
            name = "abc"[classes.index(other)]
            hand, fixed, opened = shown[1], shown[2], shown[3]

            await tab.locator(f"#tile-{hand} img").click()  # clicked out
            await tab.hover(f"#tile-{fixed} img")  # pointed at, its class's key
            await tab.keyboard.press(str(classes.index(other) + 1))
            await expect(tab.locator(f"#tile-{fixed} .current")).to_have_text(name)
            await _as_left(tab, shown, hand, fixed, name)

            await mark_page(tab)
            await tab.locator(f"#tile-{opened} a.open").click()
            await tab.wait_for_url(f"**/items/{opened}?back=**")
            await go_back(tab, cached)
            await _as_left(tab, shown, hand, fixed, name)
            await tab.reload()
            await _as_left(tab, shown, hand, fixed, name)

            if cached:
                continue
            await tab.click("#label-batch")
            taken = [i for i in shown if i not in (hand, fixed)]
            await expect(tab.locator("#next-notice")).to_contain_text(f"Labeled {len(taken)} item(s)")
            labels = await labels_of(live)
            assert {i for i in shown if labels.get(i) == [label]} == set(taken)
            assert labels[fixed] == [other] and hand not in labels
            assert await rejected(live) == [(hand, label)]
            assert not errors, errors
