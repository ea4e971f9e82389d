"""A projection or clustering run on the explorer page empties its selection, and the page shows it
empty at once, in Chromium: the count, ``data-selected``, the statistics, the heat maps and the
selection gallery read as before (the old selection, which a person could still act on) until the
next selection was drawn."""

from __future__ import annotations

from typing import Any

from tests.helpers.guided import box_over_the_explorer, pca_model, run_job

READY = "#explorer[data-ready='true']"

SHOWN = """() => ({
  selected: document.querySelector("#explorer").dataset.selected,
  count: document.getElementById("selection-count").textContent,
  tiles: document.querySelectorAll("#selection-gallery .guided-tile").length,
  range: document.getElementById("gallery-range").textContent,
  stats: document.getElementById("selection-stats").textContent,
  heatmaps: !document.getElementById("heatmaps").hidden,
})"""

NOTHING = {"selected": "0", "count": "0", "tiles": 0, "range": "", "stats": "", "heatmaps": False}


async def _select_all(tab: Any) -> None:
    """Every point, with its gallery, statistics and heat maps drawn."""
    await box_over_the_explorer(tab, 30)
    await tab.wait_for_selector("#selection-gallery:not([aria-busy]) .guided-tile")
    await tab.wait_for_selector("#heatmaps:not([hidden])")
    shown = await tab.evaluate(SHOWN)
    assert shown["selected"] == shown["count"] == "30" and shown["tiles"] == 24, shown
    assert "Labels" in shown["stats"], shown


async def test_a_job_run_on_the_explorer_shows_its_selection_emptied_at_once(live, tab):
    api, dataset_id = live["api"], live["dataset_id"]
    model = await pca_model(api, dataset_id)
    first = await run_job(api, {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    await tab.goto(f"/datasets/{dataset_id}/explorer?model_id={model}")
    await tab.wait_for_selector(READY, timeout=30_000)

    # a clustering: the same points, now coloured by cluster
    await _select_all(tab)
    await tab.click("#cluster-form >> xpath=.. >> summary")
    await tab.fill("#cluster-form input[name=k]", "3")
    await tab.click("#cluster-form button[type=submit]")
    await tab.locator("#legend", has_text="cluster 0").wait_for(timeout=60_000)
    assert await tab.evaluate(SHOWN) == NOTHING

    # a projection: other points
    await _select_all(tab)
    await tab.select_option("#project-form select[name=dimensions]", "3")
    await tab.click("#project-form button[type=submit]")
    await tab.wait_for_function(
        f"() => !['', '{first['id']}'].includes(document.querySelector('#explorer').dataset.projectionJob)",
        timeout=60_000,
    )
    assert await tab.evaluate(SHOWN) == NOTHING
