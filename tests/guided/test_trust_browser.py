"""Real Chromium on the probability page (issue 19): an unfit classifier is never the default and
needs the override box; a batch over the confirmation size needs the box that states its
numbers; "f" leaves the flagged items out."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.helpers.guided import (
    API,
    add_class,
    chromium_context,
    folder_dataset,
    require_chromium,
    run_job,
    tag,
)
from tests.live import live_app

pytestmark = pytest.mark.browser


async def _trained(api: httpx.AsyncClient, dataset_id: int, algorithm: str) -> int:
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": algorithm})
    await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


async def _event_count(api: httpx.AsyncClient, dataset_id: int) -> int:
    return len((await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"])


async def test_unfit_model_and_big_batch_need_their_boxes_and_f_leaves_flagged_out(
    guided_settings, database, folder
):
    require_chromium()
    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            dataset_id, ids = await folder_dataset(api, folder, "trust-ds", 30)
            classes = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
            for i in range(12):
                await tag(api, dataset_id, [ids[i]], classes[i % 3])
            fit = await _trained(api, dataset_id, "test-oracle")
            unfit = await _trained(api, dataset_id, "test-one-class")  # the newest, yet never the default
            preview = (
                await api.get(
                    f"{API}/datasets/{dataset_id}/probability",
                    params={"model_id": unfit, "threshold": 0.5, "label_id": classes[0], "confirm_over": 5},
                )
            ).json()
            assert preview["count"] == 18 and preview["fitness"]["status"] == "unfit"
            assert preview["estimate"]["precision"] == round(4 / 12, 4)
            # the page leads with the calibrated figure where there is one (decision 0026)
            estimate = preview["estimate"]
            lead = "calibrated_" if estimate["calibrated_precision"] is not None else ""
            precision, wrong = estimate[f"{lead}precision"], estimate[f"{lead}expected_wrong"]
            flagged = preview["flagged_count"]
            assert 0 < flagged < 18

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/probability")
                assert await tab.locator("select[name=model_id]").input_value() == str(fit)

                await tab.goto(
                    f"/datasets/{dataset_id}/probability?model_id={unfit}&label={classes[0]}"
                    "&threshold=0.5&confirm_over=5"
                )
                assert "Unfit model" in await tab.locator("#model-fitness").inner_text()
                confirm = await tab.locator("#confirm-batch").inner_text()
                assert "label 18 items" in confirm
                assert f"estimated precision {100 * precision:.0f}%" in confirm
                assert f"about {wrong} wrong" in confirm
                before = await _event_count(api, dataset_id)

                await tab.click("#apply")  # neither box ticked: the browser holds the form back
                await asyncio.sleep(0.5)
                await tab.check("#override-unfit")
                await tab.click("#apply")  # the confirmation is still missing
                await asyncio.sleep(0.5)
                assert await _event_count(api, dataset_id) == before

                await tab.click("h1")  # focus leaves the form: keys go to the page
                await tab.keyboard.press("f")
                assert await tab.locator("#exclude-flagged").is_checked()
                assert f"label {18 - flagged} items" in await tab.locator("#confirm-batch").inner_text()
                await tab.check("#confirm-batch input")
                await tab.click("#apply")
                await tab.locator(".notice").wait_for()
                assert f"Labeled {18 - flagged} items" in await tab.locator(".notice").inner_text()
                assert not errors, errors

            event = (await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"][0]
            assert event["kind"] == "probability" and event["model_id"] == unfit
            assert event["parameters"]["override_unfit"] is True and event["parameters"]["confirmed"] is True
            assert event["parameters"]["excluded_flagged"] == flagged


async def test_the_page_shows_the_calibrated_estimate_where_the_labels_came_from_one_class(
    guided_settings, database, folder
):
    """Labels as a similarity page of class a makes them (eight a items, a b item the oracle calls
    a): the user picks class a and threshold 0.5 in the form, and the page shows, beside the plain
    share (8 of 9), the calibrated estimate the queue would promise, and the confirmation box
    names it; applying after these changes labels the one item the form now shows."""
    require_chromium()
    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            dataset_id, ids = await folder_dataset(api, folder, "skewed-ds", 30)
            a, b, c = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
            for i in (0, 3, 6, 9, 12, 15, 18, 21):
                await tag(api, dataset_id, [ids[i]], a)
            await tag(api, dataset_id, [ids[1], ids[24]], b)
            await tag(api, dataset_id, [ids[2]], c)
            model = await _trained(api, dataset_id, "test-oracle")
            preview = (
                await api.get(
                    f"{API}/datasets/{dataset_id}/probability",
                    params={"model_id": model, "threshold": 0.5, "label_id": a, "confirm_over": 0},
                )
            ).json()
            calibrated = preview["estimate"]["calibrated_precision"]
            assert calibrated is not None and calibrated < preview["estimate"]["precision"] - 0.2

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/probability")
                await tab.fill("input[name=confirm_over]", "0")
                await tab.fill("input[name=threshold]", "0.5")
                # the number's "change" comes when focus leaves it: leave it now, not with the
                # click on the confirmation box below (its answer would redraw the box unticked)
                await tab.press("#probability-view input[name=threshold]", "Tab")
                await tab.select_option("select[name=label]", str(a))  # "change": the results follow
                # each change above asks for the results, one after the other; the last counts
                plain = tab.locator("#batch-estimate", has_text="Of the 9 labeled held-out items above the")
                await plain.wait_for()
                # the same results may still be on their way once more (a change queued behind them):
                # a box ticked before they land is drawn again unticked
                await tab.wait_for_function(
                    "() => !document.querySelector('#probability-view.htmx-request, #results.htmx-swapping')"
                )
                line = plain.locator("#estimate-calibrated")
                assert f"{100 * calibrated:.0f}%" in await line.inner_text()
                confirm = await tab.locator("#confirm-batch").inner_text()
                assert (
                    f"estimated precision {100 * calibrated:.0f}%, about" in confirm
                    and "calibrated to these items" in confirm
                )
                await tab.check("#confirm-batch input")
                await tab.click("#apply")
                await tab.locator(".notice").wait_for()
                assert "Labeled 1 items" in await tab.locator(".notice").inner_text()
                assert not errors, errors
