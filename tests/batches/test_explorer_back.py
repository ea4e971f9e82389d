"""The explorer's box selection, less the items clicked out of its gallery, stays after Back from an
item opened in the gallery and after a reload, in Chromium (explorer.js keeps it per projection in
this tab's sessionStorage): the page is loaded again from the server, and it drew nothing selected,
so the person's selection was lost. What was clicked out stays out and is still recorded as rejected
when the selection is labeled; a selection labeled is forgotten, another projection of the model
does not inherit one, and one the tab cannot keep leaves none of before to put back."""

from __future__ import annotations

from typing import Any

from tests.batches.conftest import labels_of, rejected
from tests.helpers.guided import API, add_class, box_over_the_explorer, go_back, mark_page, pca_model, run_job

READY = "#explorer[data-ready='true']"

# the gallery's tiles once its answer is drawn; null while one is asked for
GALLERY = """() => {
  const gallery = document.getElementById("selection-gallery");
  if (gallery.getAttribute("aria-busy")) return null;
  return [...gallery.querySelectorAll("figure.guided-tile")].map((t) => Number(t.dataset.id));
}"""


async def _gallery(tab: Any, count: int) -> list[int]:
    """The ids of the gallery's tiles, once it shows ``count`` of them."""
    handle = await tab.wait_for_function(
        f"() => {{ const shown = ({GALLERY})(); return shown && shown.length === {count} && shown; }}"
    )
    return list(await handle.json_value())


async def _selected(tab: Any) -> str | None:
    return await tab.get_attribute("#explorer", "data-selected")


async def _kept_as_left(tab: Any, taken_out: int) -> None:
    """The selection as it was left: 29 of the 30 items, the gallery on its second page, without the
    item clicked out of it."""
    await tab.wait_for_selector(READY, timeout=30_000)
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '29'")
    shown = await _gallery(tab, 5)
    assert taken_out not in shown, shown
    assert await tab.inner_text("#gallery-range") == "25\u201329 of 29"
    assert await tab.inner_text("#selection-count") == "29"


async def test_the_explorer_selection_and_its_deselections_stay_after_back_and_a_reload(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    await run_job(api, {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    b = await add_class(api, dataset_id, "B")
    page = f"/datasets/{dataset_id}/explorer?model_id={model}"

    await tab.goto(page)
    await tab.wait_for_selector(READY, timeout=30_000)
    await box_over_the_explorer(tab, 30)
    await _gallery(tab, 24)
    await tab.click("#gallery-next")
    taken_out, opened, *_rest = await _gallery(tab, 6)
    await tab.locator(f"#tile-{taken_out} img").click()  # taken out by hand: "not B"
    await _kept_as_left(tab, taken_out)

    # a closer look at an item, and Back: the page is loaded again from the server
    await mark_page(tab)
    await tab.locator(f"#tile-{opened} a.open").click()
    await tab.wait_for_url(f"**/items/{opened}?back=**")
    await go_back(tab, cached=False)
    await _kept_as_left(tab, taken_out)
    await tab.reload()
    await _kept_as_left(tab, taken_out)

    await tab.click(f"#label-buttons [data-label-id='{b}']")
    await tab.wait_for_function("() => document.getElementById('flash').textContent.includes('labeled B')")
    assert "29 of 29 items labeled B" in await tab.inner_text("#flash")
    labels = await labels_of(live)
    assert labels == {i: [b] for i in ids if i != taken_out}
    assert await rejected(live) == [(taken_out, b)]  # the item clicked out before Back
    events = (await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]
    assert [e["parameters"]["selection"]["mode"] for e in events if e["kind"] == "explorer"] == ["box"]

    # labeled: forgotten, the page loaded again has nothing selected
    await tab.reload()
    await tab.wait_for_selector(READY, timeout=30_000)
    assert await _selected(tab) is None and await tab.inner_text("#selection-count") == "0"

    # a selection of this projection is not put back on another one of the model
    await box_over_the_explorer(tab, 30)
    parameters = {"method": "pca", "dimensions": 3}
    await run_job(api, {"kind": "project", "model_id": model, "parameters": parameters})
    await tab.reload()
    await tab.wait_for_selector(READY, timeout=30_000)
    assert await tab.input_value("#project-form select[name=dimensions]") == "3"  # the newest drawn
    assert await _selected(tab) is None and await tab.inner_text("#selection-count") == "0"

    # a selection the tab cannot keep (its storage full) leaves none of before to put back
    await box_over_the_explorer(tab, 30)
    first = (await _gallery(tab, 24))[0]
    full = "() => { throw new DOMException('full', 'QuotaExceededError'); }"
    await tab.evaluate(f"() => {{ Storage.prototype.setItem = {full}; }}")
    await tab.locator(f"#tile-{first} img").click()
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '29'")
    await tab.reload()
    await tab.wait_for_selector(READY, timeout=30_000)
    assert await _selected(tab) is None, "the selection of before the one not kept was put back"
