"""The explorer as a new user walks it, in Chromium: a box over every point labels only the unlabeled
ones unless "overwrite" is ticked; the selection gallery pages through every selected item and an
item taken out of it is not labeled; the batch guardrails badge an outlier of the selection and "f"
takes it out; a class pressed on a selection with items flagged for it asks before labeling; "Run
clustering" submits with the form's defaults."""

from __future__ import annotations

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, rejected, tag
from tests.helpers.guided import API, add_class, box_over_the_explorer, pca_model, run_job


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
    await box_over_the_explorer(tab, 30)
    gallery = tab.locator("#selection-gallery figure.guided-tile")
    await tab.wait_for_function("() => document.querySelectorAll('#selection-gallery figure').length === 24")
    assert await tab.inner_text("#gallery-range") == "1\u201324 of 30"
    await tab.click("#gallery-next")
    await tab.wait_for_function("() => document.querySelectorAll('#selection-gallery figure').length === 6")
    taken_out = int(await gallery.first.get_attribute("data-id") or 0)
    await gallery.first.locator("img").click()  # a click on a tile takes it out of the selection
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
    # taken out by hand: recorded as "not B" (decision 0015), so B's later batches leave it out
    assert await rejected(live) == [(taken_out, b)]

    await box_over_the_explorer(tab, 30)
    await tab.check("#overwrite")
    await tab.click(f"#label-buttons [data-label-id='{b}']")
    # "Check against" stayed on B: a new box with items flagged as unlike B asks first, once
    await tab.locator("#flag-confirm").wait_for(state="visible")
    assert "selected items are flagged as unlike" in await tab.inner_text("#flag-confirm-text")
    await tab.click("#flag-confirm-all")
    await tab.wait_for_function(
        "() => document.getElementById('flash').textContent.includes('of 30 items labeled B')"
    )
    assert all(v == [b] for v in (await labels_of(live)).values()) and len(await labels_of(live)) == 30
    assert await rejected(live) == []  # labeled B on purpose since: the rejection is cleared


async def test_the_selection_badges_its_outlier_and_f_takes_it_out_of_the_batch(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    classes = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(live, [ids[i]], classes[i % 3])
    model = (await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"}))[
        "model_id"
    ]
    await run_job(api, {"kind": "infer", "model_id": model})
    await run_job(api, {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    flags = await api.post(
        f"{API}/datasets/{dataset_id}/batch-flags", json={"model_id": model, "item_ids": ids}
    )
    outliers = [f["item_id"] for f in flags.json()["flags"]]
    assert len(outliers) == 1  # the oracle's vectors put the last item far from every other
    outlier = outliers[0]

    await tab.goto(f"/datasets/{dataset_id}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    await box_over_the_explorer(tab, 30)
    # the gallery of the whole selection, not one drawn for the box while it was dragged
    await tab.wait_for_selector("#selection-gallery:not([aria-busy])")
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.flagged === '1'")
    rule = await tab.inner_text("#flag-rule")
    assert "1 flagged" in rule and "MAD" in rule and "Press f" in rule
    if not await tab.locator(f"#tile-{outlier}").count():  # the outlier may sit on the next page
        await tab.click("#gallery-next")
    badge = tab.locator(f"#tile-{outlier} .flag-badge")
    await badge.wait_for()
    assert "far from the batch" in (await badge.get_attribute("title") or "")

    await tab.click("#selection-panel h2")  # keys go to the page, not to a form field
    await tab.keyboard.press("f")
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '29'")
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.flagged === '0'")
    await tab.click(f"#label-buttons [data-label-id='{classes[0]}']")
    # the press asks for a's flags first: the b and c items' labeled neighbours carry b and c, so
    # the page asks before labeling; "label all" writes the 29 left as they stand
    await tab.locator("#flag-confirm").wait_for(state="visible")
    assert "19 of 29 selected items are flagged as unlike" in await tab.inner_text("#flag-confirm-text")
    await tab.click("#flag-confirm-all")
    await tab.wait_for_function("() => document.getElementById('flash').textContent.includes('labeled a')")
    labels = await labels_of(live)
    assert outlier not in labels, "the flagged item was labeled after f took it out"
    assert await rejected(live) == []  # the guardrails' doubt is no person's "not a"
    assert sum(1 for v in labels.values() if v == [classes[0]]) == 4 + 29 - 12


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
