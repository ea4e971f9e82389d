"""The explorer in Chromium, as laid out and loaded: the selection gallery's rule and hint are whole
lines above a grid of tiles; a fresh explorer logs no console error before any projection exists;
the projection form shows how the drawn projection was made."""

from __future__ import annotations

from typing import Any

import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import oracle
from tests.helpers.guided import box_over_the_explorer, pca_model, run_job
from tests.helpers.jobs import FIRST_UMAP_SECONDS

GALLERY_BOXES = """() => {
  const gallery = document.getElementById("selection-gallery");
  const style = getComputedStyle(gallery);
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {top: r.top, width: r.width, height: r.height};
  };
  return {
    inner: gallery.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
    rule: box(document.getElementById("flag-rule")),
    hint: box(document.getElementById("flag-class-note")),
    tiles: [...gallery.querySelectorAll(".guided-tile")].map(box),
    badges: [...gallery.querySelectorAll(".guided-tile .current")].map(box),
  };
}"""


def console_errors(tab) -> list[str]:
    """The page's console errors from now on (a failed request is one: Chromium logs it)."""
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


async def test_the_selection_gallerys_rule_and_hint_are_lines_above_a_grid_of_tiles(live, tab):
    model, _ = await oracle(live, 12)
    await run_job(live["api"], {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    await tab.goto(f"/datasets/{live['dataset_id']}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    await box_over_the_explorer(tab, 30)
    await tab.wait_for_selector("#selection-gallery:not([aria-busy]) #flag-rule")
    found: dict[str, Any] = await tab.evaluate(GALLERY_BOXES)

    for line in ("rule", "hint"):  # whole lines, not one grid cell with a word a line
        assert found[line]["width"] >= found["inner"] - 1, (line, found)
    tiles = found["tiles"]
    assert len(tiles) == 24
    first_row = [t for t in tiles if abs(t["top"] - tiles[0]["top"]) < 1]
    assert len(first_row) >= 3, tiles[:6]  # several tiles a row, each row sharing its top
    assert tiles[0]["top"] >= found["hint"]["top"] + found["hint"]["height"], found
    assert all(t["width"] >= 64 for t in tiles)
    # the labeled items' class badge is a small tag, not a block over half the tile
    assert found["badges"] and all(b["height"] < tiles[0]["height"] / 4 for b in found["badges"]), found


async def test_a_fresh_explorer_asks_for_no_missing_projection_and_shows_the_method_drawn(live, tab):
    model = await pca_model(live["api"], live["dataset_id"])
    errors = console_errors(tab)
    page = f"/datasets/{live['dataset_id']}/explorer?model_id={model}"
    await tab.goto(page)
    await tab.locator("#plot-message", has_text="Run projection").wait_for()
    await tab.wait_for_load_state("networkidle")
    assert errors == [], errors

    await run_job(
        live["api"],
        {"kind": "project", "model_id": model, "parameters": {"method": "pca", "dimensions": 3}},
    )
    await tab.goto(page)
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    assert await tab.input_value("#project-form select[name=dimensions]") == "3"
    assert await tab.input_value("#project-form select[name=method]") == "pca"
    assert errors == [], errors


@pytest.mark.ml
async def test_the_method_select_shows_umap_for_a_umap_projection(live, tab):
    model = await pca_model(live["api"], live["dataset_id"])
    # UMAP, the form's other method: PCA, its default, was what the select said over a UMAP projection
    parameters = {"method": "umap", "n_neighbors": 5}
    body = {"kind": "project", "model_id": model, "parameters": parameters}
    await run_job(live["api"], body, timeout=FIRST_UMAP_SECONDS)  # the first UMAP in the process
    await tab.goto(f"/datasets/{live['dataset_id']}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    assert await tab.input_value("#project-form select[name=method]") == "umap"
