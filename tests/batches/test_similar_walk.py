"""The similarity page as a new user walks it, in Chromium: "Find similar" on the label page starts
from the selection, the class starts on the query items' label, and after "Label selected" the
deselected outliers stay out: the next candidates come up and a second click never labels them."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.batches.conftest import labels_of, tag
from tests.helpers.guided import API, add_class, pca_model, run_job
from tests.html import all_of, attr, has_class, parse


async def _tile_ids(tab) -> list[int]:
    tiles = tab.locator("#label-form .guided-tile")
    return [int(await tiles.nth(i).get_attribute("data-id") or 0) for i in range(await tiles.count())]


async def test_find_similar_from_the_selection_then_label_twice_without_the_outliers(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    await pca_model(api, dataset_id)
    await add_class(api, dataset_id, "ring")
    other = await add_class(api, dataset_id, "other")
    queries = ids[:2]
    await tag(live, queries, other)

    await tab.goto(f"/datasets/{dataset_id}/label")
    await tab.click(f"#tile-{queries[0]} img")
    await tab.click(f"#tile-{queries[1]} img", modifiers=["Control"])
    link = tab.locator("#find-similar-link")
    assert await link.inner_text() == "Find similar to 2 selected"
    await link.click()
    await tab.wait_for_selector("#label-form .guided-tile")
    assert await tab.locator(".queries img").count() == 2
    # the class starts on the query items' label, not on the first class
    assert await tab.input_value("select[name=label_id]") == str(other)

    await tab.select_option("select[name=per_page]", "24")
    await tab.wait_for_function("() => document.querySelectorAll('#label-form .guided-tile').length === 24")
    first = await _tile_ids(tab)
    outliers = [i for i in first if i not in queries][-2:]
    for item_id in outliers:
        await tab.click(f"#tile-{item_id} img")
    assert await tab.locator(".selected-count").inner_text() == "20"  # 24 minus 2 labeled minus 2 outliers
    await tab.click("#label-batch")
    await tab.locator(".notice").filter(has_text="Next candidates").wait_for()
    assert "2 deselected item(s) left out: they will not be suggested again as" in (
        await tab.locator(".notice").inner_text()
    )

    second = await _tile_ids(tab)
    assert not set(outliers) & set(second), "rejected outliers came back"
    assert set(second) - set(queries) == set(ids) - set(first)  # the next candidates
    for item_id in second:
        selected = "selected" in (await tab.get_attribute(f"#tile-{item_id}", "class") or "")
        assert selected == (item_id not in queries)
    assert await tab.input_value("select[name=label_id]") == str(other)  # the class chosen stays

    await tab.click("#label-batch")
    await tab.locator(".notice").filter(has_text="Labeled 6 of 6").wait_for()
    labels = await labels_of(live)
    assert not any(i in labels for i in outliers)
    assert {i for i, v in labels.items() if v == [other]} == set(ids) - set(outliers)


async def test_a_class_deleted_meanwhile_labels_nothing_and_keeps_the_selection(live, tab):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    gone = await add_class(api, dataset_id, "gone")
    await add_class(api, dataset_id, "kept")
    await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[0]}&model_id={model}&per_page=24")
    await tab.wait_for_selector("#label-form .guided-tile")
    await tab.select_option("select[name=label_id]", str(gone))
    await tab.click(f"#tile-{(await _tile_ids(tab))[-1]} img")
    assert (await api.delete(f"/api/v1/classes/{gone}")).status_code in (200, 204)
    await tab.click("#label-batch")
    warning = tab.locator("#label-warning")
    await warning.wait_for()
    assert "Nothing was labeled" in await warning.inner_text()
    assert await tab.locator(".selected-count").inner_text() == "23"
    assert await labels_of(live) == {}


async def test_a_tile_of_another_class_is_labeled_in_one_key_and_left_out_of_the_batch(live, tab):
    """Point at a tile that belongs to another class and press that class's key: the item gets
    that class by hand (one manual event), its tile comes back deselected with the label shown, and
    "Label selected" labels the rest without touching it."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    made = {}
    for name, key in (("ring", "r"), ("other", "o")):
        answer = await api.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": key})
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()["id"]
    await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[0]}&model_id={model}&per_page=24")
    await tab.wait_for_selector("#label-form .guided-tile")
    await tab.select_option("select[name=label_id]", str(made["ring"]))
    assert "o" in await tab.locator("#class-keys").inner_text()
    shown = await _tile_ids(tab)
    odd = shown[-1]
    await tab.hover(f"#tile-{odd} img")
    await tab.keyboard.press("o")
    tile = tab.locator(f"#tile-{odd}")
    await tile.locator(".current").filter(has_text="other").wait_for()
    await expect(tile).not_to_have_class(re.compile(r"\bselected\b"))  # once htmx has settled it
    await expect(tab.locator(".selected-count")).to_have_text("23")
    assert await labels_of(live) == {odd: [made["other"]]}
    events = (await api.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]
    assert [e["kind"] for e in events] == ["manual"]

    await tab.click("#label-batch")
    await tab.locator(".notice").filter(has_text="Labeled 23 of 23").wait_for()
    labels = await labels_of(live)
    assert labels[odd] == [made["other"]]  # not overwritten by the batch
    assert {i for i, v in labels.items() if v == [made["ring"]]} == set(shown) - {odd}


async def test_an_unlabeled_query_makes_the_user_pick_the_class_before_labeling(live, tab):
    """ "Find similar" on an unlabeled item: the class list started on the first class, so "Label
    selected" labeled every selected tile as that class at one click. It starts on "choose a
    class" now, and the browser holds the form back until one is chosen."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    await pca_model(api, dataset_id)
    await add_class(api, dataset_id, "ring")
    other = await add_class(api, dataset_id, "other")
    await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[5]}&per_page=24")
    await tab.wait_for_selector("#label-form .guided-tile")
    assert await tab.input_value("select[name=label_id]") == ""
    await tab.click("#label-batch")  # no class yet: nothing is sent
    assert await tab.evaluate("() => document.querySelector('select[name=label_id]').validity.valueMissing")
    await tab.wait_for_timeout(300)
    assert await labels_of(live) == {}
    await tab.select_option("select[name=label_id]", str(other))
    await tab.click("#label-batch")
    await tab.locator(".notice").wait_for()
    labels = await labels_of(live)
    assert len(labels) == 24 and all(value == [other] for value in labels.values())


async def _flags_of(live, model: int, shown: list[int], label_id: int | str) -> set[int]:
    """The tiles ``/similar/flags`` flags for a class ("": none chosen)."""
    answer = await live["api"].get(
        f"/datasets/{live['dataset_id']}/similar/flags",
        params={"model_id": model, "shown_ids": ",".join(map(str, shown)), "label_id": label_id},
    )
    assert answer.status_code == 200, answer.text
    slots = "//*[starts-with(@id, 'flag-')][@hx-swap-oob='true']"
    badged = all_of(parse(answer.text), f"{slots}[span[{has_class('flag-badge')}]]")
    return {int(attr(slot, "id").removeprefix("flag-")) for slot in badged}


async def test_a_single_class_dataset_shows_the_flags_of_the_class_its_dropdown_shows(live, tab):
    """An unlabeled query on a dataset of one class: the dropdown shows that class (no "choose a
    class" for one choice) and "Label selected" labels with it, but the server drew the flags of no
    class (the distance alone), and guided.js took them for the first option's."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    only, gone = await add_class(api, dataset_id, "only"), await add_class(api, dataset_id, "gone")
    # the oracle's vectors need two classes to draw two groups of items (even, odd positions); the
    # labeled items of the one class left lie in both, so its flags are not the distance's alone
    await tag(live, ids[:4], only)
    await tag(live, [ids[5]], gone)  # a classifier needs two classes; deleting it unlabels the item
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
    model = job["model_id"]
    await run_job(api, {"kind": "infer", "model_id": model})
    assert (await api.delete(f"{API}/classes/{gone}")).status_code in (200, 204)

    flags_asked: list[str] = []
    tab.on("request", lambda r: flags_asked.append(r.url) if "/similar/flags?" in r.url else None)
    await tab.goto(f"/datasets/{dataset_id}/similar?item_id={ids[14]}&model_id={model}&per_page=24")
    await tab.wait_for_selector("#label-form .guided-tile")
    assert await tab.input_value("select[name=label_id]") == str(only)
    shown = await _tile_ids(tab)
    expected = await _flags_of(live, model, shown, only)
    assert expected != await _flags_of(live, model, shown, ""), "the class changes no flag: proves nothing"
    await tab.wait_for_load_state("networkidle")
    busy = ".htmx-request, .htmx-settling, .htmx-swapping"
    await tab.wait_for_function(f"() => !document.querySelector('{busy}')")
    drawn = await tab.locator("#label-form .guided-tile.flagged").evaluate_all(
        "(ts) => ts.map((t) => Number(t.dataset.id))"
    )
    assert set(drawn) == expected
    assert flags_asked == [], "the server drew another class's flags (guided.js asked for the right ones)"
