"""The explorer as a new user walks it, in Chromium: a box over every point labels only the unlabeled
ones unless "overwrite" is ticked; the selection gallery pages through every selected item and an
item taken out of it is not labeled; "Run clustering" submits with the form's defaults."""

from __future__ import annotations

from tests.batches.conftest import labels_of, tag
from tests.guided.conftest import add_class, pca_model, run_job


async def _box_over_everything(tab) -> None:
    box = await tab.locator("#overlay").bounding_box()
    await tab.mouse.move(box["x"] + 1, box["y"] + 1)
    await tab.mouse.down()
    await tab.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] - 1, steps=8)
    await tab.mouse.up()
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '30'")


async def _projected(live) -> int:
    model = await pca_model(live["api"], live["dataset_id"])
    await run_job(live["api"], {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    return model


async def test_box_selection_leaves_labeled_items_alone_pages_and_deselects(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await _projected(live)
    a, b = await add_class(api, dataset_id, "A"), await add_class(api, dataset_id, "B")
    await tag(live, ids[:5], a)

    await tab.goto(f"/datasets/{dataset_id}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    await _box_over_everything(tab)
    gallery = tab.locator("#selection-gallery figure")
    await tab.wait_for_function("() => document.querySelectorAll('#selection-gallery figure').length === 24")
    assert await tab.inner_text("#gallery-range") == "1\u201324 of 30"
    await tab.click("#gallery-next")
    await tab.wait_for_function("() => document.querySelectorAll('#selection-gallery figure').length === 6")
    taken_out = int(await gallery.first.get_attribute("data-item-id") or 0)
    await gallery.first.locator("button.deselect").click()
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '29'")
    assert await tab.inner_text("#gallery-range") == "25\u201329 of 29"  # the page stays where it was

    await tab.click(f"#label-buttons [data-label-id='{b}']")
    await tab.wait_for_function("() => document.getElementById('flash').textContent.includes('labeled B')")
    flash = await tab.inner_text("#flash")
    expect_b = len(set(ids[5:]) - {taken_out})
    assert f"{expect_b} of 29 items labeled B" in flash, flash
    assert "already labeled were left" in flash
    labels = await labels_of(live)
    assert all(labels[i] == [a] for i in ids[:5]), "labeled items were overwritten"
    assert taken_out not in labels or taken_out in ids[:5]
    assert sum(1 for v in labels.values() if v == [b]) == expect_b

    await _box_over_everything(tab)
    await tab.check("#overwrite")
    await tab.click(f"#label-buttons [data-label-id='{b}']")
    await tab.wait_for_function(
        "() => document.getElementById('flash').textContent.includes('of 30 items labeled B')"
    )
    assert all(v == [b] for v in (await labels_of(live)).values()) and len(await labels_of(live)) == 30


async def test_run_clustering_submits_with_the_forms_defaults(live, tab):
    model = await _projected(live)
    await tab.goto(f"/datasets/{live['dataset_id']}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    await tab.click("summary:has-text('Clustering')")
    for method in ("dbscan", "kmeans"):
        await tab.select_option("#cluster-form select[name=method]", method)
        await tab.click("#cluster-form button[type=submit]")
        await tab.wait_for_function(
            "() => document.getElementById('job-status').textContent.includes('succeeded')", timeout=60_000
        )
        await tab.evaluate("() => { document.getElementById('job-status').textContent = ''; }")
    listed = await live["api"].get("/api/v1/jobs", params={"model_id": model, "kind": "cluster"})
    jobs = listed.json()["jobs"]
    assert sorted(j["parameters"]["method"] for j in jobs) == ["dbscan", "kmeans"]
    assert {j["parameters"]["eps"] for j in jobs} == {0.1}
