"""Back to a page where batches are applied, in Chromium, shows the items and counts as they are now:
the browser's stored copy of the page (a normal Back) and its back-forward cache (the page kept
whole, as a person's browser does) both showed the tiles, labels and counts of when the page was
left, offering items labeled since as selectable and asking to confirm counts no longer true. Each
walk goes Back both ways: the similarity and probability pages, the Next actions pages (and the
label page's panel), the review page and the item view, the explorer."""

from __future__ import annotations

import re
from typing import Any

from tests.batches.conftest import labels_of, oracle, tag
from tests.helpers.guided import (
    API,
    box_over_the_explorer,
    chromium_context,
    go_back,
    mark_page,
    new_tab,
    pca_model,
    require_chromium,
    run_job,
)

BATCHES = ("similarity_batch", "probability_batch")
BOTH_WAYS = (False, True)  # Back from the browser's stored copy, then from its back-forward cache


async def _expect_tiles_as_now(tab: Any, live: dict[str, Any], selector: str, *, some: bool = True) -> None:
    """Every tile shown (``selector``) marks its item's labels as they are now, and none of the items
    labeled now is selected for the batch (the server leaves them out: the page must not offer them)."""
    names = {int(c["id"]): c["name"] for c in await _classes(live)}
    now = {
        str(item): sorted(names[label] for label in labels)
        for item, labels in (await labels_of(live)).items()
    }
    check = """([selector, now, some]) => {
        const tiles = [...document.querySelectorAll(selector)];
        const wrong = tiles.filter((t) => {
            const shown = [...t.querySelectorAll('.current i')].map((i) => i.textContent).sort();
            const labels = now[t.dataset.id] || [];
            return shown.join() !== labels.join() || (labels.length > 0 && t.classList.contains('selected'));
        });
        return (tiles.length > 0 || !some) && wrong.length === 0;
    }"""
    try:
        await tab.wait_for_function(check, arg=[selector, now, some], timeout=15_000)
    except Exception:  # say which tiles are wrong
        shown = await tab.evaluate(
            "(s) => [...document.querySelectorAll(s)].map((t) => [t.dataset.id, t.className, "
            "[...t.querySelectorAll('.current i')].map((i) => i.textContent)])",
            selector,
        )
        raise AssertionError(f"tiles not as they are now ({now}): {shown}") from None


async def _classes(live: dict[str, Any]) -> list[dict[str, Any]]:
    return list((await live["api"].get(f"{API}/datasets/{live['dataset_id']}/classes")).json())


async def _selected_ids(tab: Any, selector: str) -> list[int]:
    """The tiles shown selected; each is what its form sends (a tile drawn selected whose checkbox
    the browser had put back unticked was left out of the batch)."""
    shown = await tab.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((t) => "
        "[t.dataset.id, t.classList.contains('selected'), t.querySelector('input[name=selected]').checked])",
        selector,
    )
    assert all(drawn == sent for _i, drawn, sent in shown), f"tiles drawn otherwise than sent: {shown}"
    return [int(i) for i, drawn, _sent in shown if drawn]


async def _ids(tab: Any, selector: str) -> list[str]:
    return list(await tab.locator(selector).evaluate_all("(ts) => ts.map((t) => t.dataset.id)"))


async def _unlabeled_tiles(tab: Any, live: dict[str, Any], selector: str) -> list[int]:
    labeled = await labels_of(live)
    return [int(i) for i in await _ids(tab, selector) if int(i) not in labeled]


async def test_back_to_the_similarity_and_probability_pages_shows_the_candidates_as_they_are_now(live):
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id = live["api"], live["dataset_id"]
    model, classes = await oracle(live, 12)
    await run_job(api, {"kind": "build-index", "model_id": model})
    a, b, c = classes
    similar = f"/datasets/{dataset_id}/similar?item_id={live['ids'][0]}&model_id={model}&per_page=24"
    rule = {"model_id": model, "threshold": 0.5, "confirm_over": 3}
    probability = (
        f"/datasets/{dataset_id}/probability?model_id={model}&label=all&threshold=0.5&confirm_over=3"
    )
    for cached in BOTH_WAYS:
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)

            # a similarity batch of two; the next candidates come
            await tab.goto(similar)
            tiles = "#label-form .guided-tile"
            await tab.locator(tiles).first.wait_for()
            await tab.click("[data-select=none]")
            for item in (await _unlabeled_tiles(tab, live, tiles))[:2]:
                await tab.locator(f"#tile-{item} img").click()
            await tab.click("#label-batch")
            await expect(tab.locator(".notice")).to_contain_text("Labeled 2 of 2 selected items")
            offered = [int(i) for i in await _ids(tab, tiles)][:2]
            assert len(offered) == 2
            await mark_page(tab)

            # the probability page: one tile left out by hand
            await tab.goto(probability)
            gallery = "#probability-gallery .guided-tile"
            await tab.locator(gallery).first.wait_for()
            shown = [int(i) for i in await _ids(tab, gallery) if int(i) not in offered]
            assert len(shown) >= 2, shown
            left_out, taken = shown[:2]
            await tab.locator(f"#tile-{left_out} img").click()
            await tab.check("#confirm-batch input")
            await mark_page(tab)

            # labels written elsewhere meanwhile: two of the similarity page's candidates, one of these
            await tab.goto(f"/datasets/{dataset_id}/history")
            labels = await labels_of(live)
            for item in offered:  # labeled, or labeled again
                await tag(live, [item], c if labels.get(item) == [b] else b)
            await tag(live, [taken], a)

            await go_back(tab, cached, reloaded=False)
            now = await api.get(f"{API}/datasets/{dataset_id}/probability", params=rule)
            count = now.json()["count"]
            await expect(tab.locator("#probability-count")).to_have_text(str(count))
            await expect(tab.locator(f"#probability-gallery #tile-{taken}")).to_have_count(0)
            # the tile left out by hand stays out, the page kept or loaded again (guided.js keeps it)
            await expect(tab.locator("#apply")).to_have_text(f"Label these {count - 1} items")
            assert left_out not in await _selected_ids(tab, gallery)
            await expect(tab.locator("#confirm-batch input")).not_to_be_checked()  # asked again

            await go_back(tab, cached, reloaded=False)
            await _expect_tiles_as_now(tab, live, tiles)
            if cached:  # the candidates after the batch, two of them labeled meanwhile
                assert set(offered) <= {int(i) for i in await _ids(tab, tiles)}
            await expect(tab.locator(".selected-count")).to_have_text(
                str(len(await _selected_ids(tab, tiles)))
            )
            assert not errors, errors


async def _expect_the_queue_as_now(tab: Any, live: dict[str, Any]) -> None:
    """The Next actions list (the page's, or the label page's panel) with the counts of now: the
    items still unlabeled, and what "auto-label these and stop" asks to confirm."""
    from playwright.async_api import expect

    unlabeled = len(live["ids"]) - len(await labels_of(live))
    await expect(tab.locator("#next-main #stopping strong").first).to_have_text(str(unlabeled))
    estimate = (await live["api"].get(f"{API}/datasets/{live['dataset_id']}/stopping-estimate")).json()
    if estimate.get("auto_label_count"):
        count = estimate["auto_label_count"]
        asked = (
            f"^Label {count} of the {unlabeled} unlabeled items, "
            if count < unlabeled
            else f"^Label all {count} unlabeled items "
        )
        await expect(tab.locator("#auto-label-rest")).to_have_attribute("hx-confirm", re.compile(asked))


async def _open_a_batch(tab: Any) -> None:
    """The first batch the Next actions list shows, opened."""
    rows = tab.locator("#next-main .suggestion").filter(has=tab.locator("a.button"))
    kinds = [await row.get_attribute("data-kind") for row in await rows.all()]
    await rows.nth(next(k for k, kind in enumerate(kinds) if kind in BATCHES)).locator("a").click()
    await tab.wait_for_url("**/next/open?key=**")
    await tab.locator("#label-form .guided-tile").first.wait_for()


async def test_back_to_the_next_actions_pages_shows_the_batch_and_the_queue_as_they_are_now(live):
    require_chromium()
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    _model, classes = await oracle(live, 12)
    tiles = "#label-form .guided-tile"
    for cached in BOTH_WAYS:
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)

            # a batch opened; one of its items looked at and labeled (there, or by someone else)
            await tab.goto(f"/datasets/{dataset_id}/next")
            await _open_a_batch(tab)
            await mark_page(tab)
            looked_at = (await _selected_ids(tab, tiles))[0]
            await tab.locator(f"#tile-{looked_at} a.open").click()
            await tab.wait_for_url(f"**/items/{looked_at}?back=**")
            await tag(live, [looked_at], classes[1])
            await go_back(tab, cached, reloaded=False)
            await _expect_tiles_as_now(tab, live, tiles, some=False)
            await expect(tab.locator("#next-stale")).to_be_visible()  # the batch is not the queue's now
            await _expect_the_queue_as_now(tab, live)

            # a batch accepted; labels written elsewhere meanwhile
            await _open_a_batch(tab)
            await tab.click("#label-batch")
            await expect(tab.locator("#next-notice")).to_contain_text("Labeled")
            await mark_page(tab)
            await tab.goto(f"/datasets/{dataset_id}/history")
            labeled = await labels_of(live)
            await tag(live, [i for i in live["ids"] if i not in labeled][:2], classes[2])
            await go_back(tab, cached, reloaded=False)
            await expect(tab.locator(tiles)).to_have_count(0)
            await _expect_the_queue_as_now(tab, live)

            # the label page's Next actions panel (loaded after the page, so loaded again on Back)
            await tab.goto(f"/datasets/{dataset_id}/label")
            await _expect_the_queue_as_now(tab, live)
            await mark_page(tab)
            await tab.goto(f"/datasets/{dataset_id}/history")
            labeled = await labels_of(live)
            await tag(live, [i for i in live["ids"] if i not in labeled][:1], classes[0])
            await go_back(tab, cached, reloaded=False)
            await _expect_the_queue_as_now(tab, live)
            assert not errors, errors


async def test_back_to_the_review_and_the_item_view_shows_the_labels_as_they_are_now(live):
    require_chromium()
    from playwright.async_api import expect

    dataset_id = live["dataset_id"]
    # two suspects a walk, and one left for the second walk's Back to show (the item labeled in the
    # item view leaves the list: a label since the model's training is none of its suspects)
    model, classes = await oracle(live, 24, wrong=(3, 7, 10, 14, 17))
    names = {label: name for label, name in zip(classes, ("a", "b", "c"), strict=True)}
    for cached in BOTH_WAYS:
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)

            # the first suspect kept; the next one opened in the item view and labeled there
            await tab.goto(f"/datasets/{dataset_id}/review?model_id={model}")
            suspects = tab.locator("#suspects .suspect")
            kept = int(await suspects.first.get_attribute("data-id") or 0)
            await tab.click("h1")
            await tab.keyboard.press("k")
            await expect(tab.locator(f"#suspect-{kept}")).to_have_count(0)
            item = int(await suspects.first.get_attribute("data-id") or 0)
            await mark_page(tab)
            await tab.locator(f"#suspect-{item} a.button").click()
            await tab.wait_for_url(f"**/items/{item}?review=*")  # opened from the review
            await tab.uncheck("#advance")  # stay on the item
            (before,) = (await labels_of(live))[item]
            there, elsewhere = [label for label in classes if label != before]
            await tab.click(f".item-label-btn[data-label='{there}']")
            await expect(tab.locator("#item-labels .badge")).to_have_text([names[there]])
            await mark_page(tab)

            # someone else labels it again meanwhile
            await tab.click("#find-similar")
            await tab.wait_for_url("**/similar?**")
            event = await tag(live, [item], elsewhere)
            await go_back(tab, cached, reloaded=False)
            await expect(tab.locator("#item-labels .badge")).to_have_text([names[elsewhere]])
            await expect(tab.locator("#history tr").first).to_contain_text(f"#{event['id']}")

            await go_back(tab, cached, reloaded=False)
            await expect(tab.locator(f"#suspect-{kept}")).to_have_count(0)
            await expect(tab.locator(f"#suspect-{item}")).to_have_count(0)
            # the repaint lands after Back returns: wait for every suspect to show its label of now
            current = {str(i): names[labels[0]] for i, labels in (await labels_of(live)).items() if labels}
            await tab.wait_for_function(
                """(now) => {
                  const ts = [...document.querySelectorAll('#suspects .suspect')];
                  const shows = (t) => t.querySelector('.current i').textContent;
                  return ts.length > 0 && ts.every((t) => now[t.dataset.id] === shows(t));
                }""",
                arg=current,
                timeout=15_000,
            )
            assert not errors, errors


async def test_back_to_the_explorer_shows_the_labels_as_they_are_now(live):
    """The explorer draws the labels its points came with (colours, the label event its batch names
    as seen): loaded again on Back, it took the points of before from the browser's stored copy; kept
    in the back-forward cache, its selection's gallery and statistics were those of before too."""
    require_chromium()
    from playwright.async_api import expect

    api, dataset_id = live["api"], live["dataset_id"]
    model = await pca_model(api, dataset_id)
    await run_job(api, {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    response = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "A"})
    label = response.json()["id"]
    gallery = "#selection-gallery .guided-tile"
    for cached in BOTH_WAYS:
        async with chromium_context(live["url"], back_forward_cache=cached) as context:
            errors: list[str] = []
            tab = await new_tab(context, errors)
            await tab.goto(f"/datasets/{dataset_id}/explorer?model_id={model}")
            await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
            await box_over_the_explorer(tab, 30)
            await expect(tab.locator(gallery)).to_have_count(24)
            shown = [int(i) for i in await _ids(tab, gallery) if int(i) not in await labels_of(live)]
            await mark_page(tab)

            await tab.goto(f"/datasets/{dataset_id}/history")
            event = await tag(live, shown[:2], label)
            await go_back(tab, cached, reloaded=False)
            await expect(tab.locator("#explorer")).to_have_attribute("data-labels-event", str(event["id"]))
            if cached:  # the selection kept: its tiles and statistics as they are now
                for item in shown[:2]:
                    await expect(tab.locator(f"#selection-gallery #tile-{item} .current")).to_have_text("A")
                labeled = len(await labels_of(live))
                await expect(tab.locator("#selection-stats")).to_contain_text(f"A {labeled}")
            assert not errors, errors
