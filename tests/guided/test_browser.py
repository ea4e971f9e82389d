"""Real Chromium: from an item, find similar items, deselect two outliers and a range, label the
batch."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.guided import API, add_class, chromium_context, folder_dataset, pca_model, require_chromium
from tests.live import live_app

pytestmark = pytest.mark.browser


async def test_find_similar_deselect_outliers_and_label_the_batch(guided_settings, database, folder):
    require_chromium()
    with live_app(guided_settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            dataset_id, ids = await folder_dataset(api, folder, "browser-ds", 30)
            model_id = await pca_model(api, dataset_id)
            ring = await add_class(api, dataset_id, "ring")

            async with chromium_context(url) as context:
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda exc: errors.append(str(exc)))
                await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[0]}&per_page=24")
                tiles = tab.locator("#label-form .guided-tile")
                await tiles.first.wait_for()
                assert await tiles.count() == 24
                assert await tab.locator(".selected-count").inner_text() == "24"
                shown = [int(await tiles.nth(i).get_attribute("data-id") or 0) for i in range(24)]
                assert shown[0] == ids[0]
                assert await tiles.first.locator(".score").inner_text() == "1.000"

                await tab.click("[data-select=none]")
                assert await tab.locator(".selected-count").inner_text() == "0"
                await tab.click("[data-select=all]")
                outliers = shown[-2:]
                for item_id in outliers:
                    await tab.click(f"#tile-{item_id} img")
                assert await tab.locator(".selected-count").inner_text() == "22"
                # a range: click the first tile of it, Shift-click its last
                ranged = shown[10:14]
                await tab.click(f"#tile-{ranged[0]} img")
                await tab.click(f"#tile-{ranged[-1]} img", modifiers=["Shift"])
                assert await tab.locator(".selected-count").inner_text() == "18"
                for item_id in ranged:
                    assert "selected" not in (await tab.get_attribute(f"#tile-{item_id}", "class") or "")
                await tab.select_option("select[name=label_id]", str(ring))
                await tab.click("#label-batch")
                await tab.locator(".notice").wait_for()
                assert "Labeled 18 of 18 selected items" in await tab.locator(".notice").inner_text()
                assert not errors, errors

            event = (await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"][0]
            assert event["kind"] == "similarity" and event["model_id"] == model_id
            assert event["parameters"]["query_items"] == [ids[0]]
            assert (event["parameters"]["shown"], event["parameters"]["accepted"]) == (24, 18)
            labels = {r["item_id"] for r in (await api.get(f"{API}/datasets/{dataset_id}/labels")).json()}
            assert labels == set(shown) - set(outliers) - set(ranged)
