"""Issue 19's remaining page paths in Chromium, on the test oracle's real jobs: the label-error
review answers the first suspect with one key ("r" relabels it with the suggested class, "k"
keeps it), and on the similarity page "f" deselects the flagged tiles so "Label selected" skips
them."""

from __future__ import annotations

from playwright.async_api import expect

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, oracle, tag
from tests.factories import image_folder
from tests.helpers.browser import SHOWN
from tests.helpers.guided import API, add_class, run_job


async def test_review_keys_relabel_then_keep_the_first_suspect(live, tab):
    ids = live["ids"]
    model, classes = await oracle(live, 24, wrong=(3, 7))
    await tab.goto(f"/datasets/{live['dataset_id']}/review?model_id={model}")
    first = tab.locator("#suspects .suspect").first
    top = int(await first.get_attribute("data-id") or 0)
    assert top in (ids[3], ids[7])
    await tab.click("h1")
    await tab.keyboard.press("r")  # relabel with the suggested (the oracle's) class
    await tab.wait_for_function(f"() => !document.getElementById('suspect-{top}')")
    position = ids.index(top)
    assert (await labels_of(live))[top] == [classes[position % 3]]

    second = int(await tab.locator("#suspects .suspect").first.get_attribute("data-id") or 0)
    before = (await labels_of(live)).get(second)
    await tab.click("h1")
    await tab.keyboard.press("k")  # keep: the label stays, the suspect leaves the list
    await tab.wait_for_function(f"() => !document.getElementById('suspect-{second}')")
    assert (await labels_of(live)).get(second) == before
    events = (await live["api"].get(f"{API}/datasets/{live['dataset_id']}/events")).json()["events"]
    answers = [e for e in events if e["kind"] == "review"]
    assert sorted(e["parameters"]["action"] for e in answers) == ["keep", "relabel"]


async def test_f_on_the_similarity_page_deselects_the_flagged_tiles(live, tab):
    ids = live["ids"]
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "build-index", "model_id": model})
    query = ids[14]  # unlabeled, class c by the oracle's rule
    await tab.goto(
        f"/datasets/{live['dataset_id']}/similar?item_id={query}&model_id={model}&per_page=48&label_id={classes[2]}"
    )
    await tab.wait_for_selector("#label-form .guided-tile")
    flagged = tab.locator("#label-form .guided-tile.flagged")
    count = await flagged.count()
    assert count > 0 and "Press f" in await tab.inner_text("#flag-rule")
    flagged_ids = [int(await flagged.nth(i).get_attribute("data-id") or 0) for i in range(count)]
    assert ids[-1] in flagged_ids  # the oracle's far item
    selected_before = int(await tab.locator(".selected-count").first.inner_text())
    await tab.click("h1")
    await tab.keyboard.press("f")
    for item_id in flagged_ids:
        assert "selected" not in (await tab.get_attribute(f"#tile-{item_id}", "class") or "").split()
    after = int(await tab.locator(".selected-count").first.inner_text())
    assert after < selected_before
    await tab.click("#label-batch")
    await tab.locator(".notice").wait_for()
    unlabeled_flagged = [i for i in flagged_ids if ids.index(i) >= 12]
    assert unlabeled_flagged and not set(unlabeled_flagged) & set(await labels_of(live))


async def test_review_buttons_show_under_each_suspect_without_hovering_and_a_click_answers(live, tab):
    """The review's keep / relabel buttons sat in the gallery tile's caption: invisible until the
    pointer rested on the tile, one clipped line over the image. A person who does not know the
    keys saw no way to answer."""
    ids = live["ids"]
    model, classes = await oracle(live, 24, wrong=(3, 7))
    await tab.goto(f"/datasets/{live['dataset_id']}/review?model_id={model}")
    suspects = tab.locator("#suspects .suspect")
    count = await suspects.count()
    assert count >= 2
    await tab.mouse.move(0, 0)  # no tile hovered
    buttons = "#suspects .suspect:nth-child(-n+4) .review-actions :is(button, a)"
    assert await tab.evaluate(SHOWN, buttons) == await tab.locator(buttons).count() > 0

    top = int(await suspects.first.get_attribute("data-id") or 0)
    # a suspect without a suggested class can still be given any class: its item view opens
    link = await suspects.first.locator("a", has_text="open").get_attribute("href")
    assert link == f"/items/{top}?review=model_id%3D{model}"  # the review it comes back to
    await suspects.first.locator("[data-review=relabel]").click()
    await tab.wait_for_function(f"() => !document.getElementById('suspect-{top}')")
    assert (await labels_of(live))[top] == [classes[ids.index(top) % 3]]


async def _tile_ids(tab, state: str) -> list[str]:
    return await tab.locator(f"#label-form .guided-tile{state}").evaluate_all("ts => ts.map(t => t.id)")


async def test_picking_the_class_for_an_unlabeled_query_redraws_the_flags_and_keeps_the_choices(live, tab):
    """The flags of a similarity page depend on the class (a tile whose nearest labeled item
    carries another class): from an unlabeled query the page starts without one, and picking it
    left the tiles unflagged, so "f" deselected nothing. Picking it brings that class's flags; the
    tiles stay as the person left them."""
    ids = live["ids"]
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "build-index", "model_id": model})
    await tab.goto(f"/datasets/{live['dataset_id']}/similar?item_id={ids[14]}&model_id={model}&per_page=48")
    await tab.wait_for_selector("#label-form .guided-tile")
    assert await tab.input_value("select[name=label_id]") == ""
    before = set(await _tile_ids(tab, ".flagged"))
    tiles = await _tile_ids(tab, ".selected")
    unflagged = [t for t in tiles if t not in before]
    await tab.click(f"#{unflagged[0]} img")  # the person leaves one out before picking the class
    assert "selected" not in (await tab.get_attribute(f"#{unflagged[0]}", "class") or "").split()
    async with tab.expect_response(lambda r: "/similar/flags?" in r.url):
        await tab.select_option("select[name=label_id]", str(classes[2]))
    await tab.wait_for_function(  # the badges swapped in and settled
        f"() => document.querySelectorAll('#label-form .guided-tile.flagged').length > {len(before)}"
        " && !document.querySelector('.htmx-settling, .htmx-swapping')"
    )
    after = set(await _tile_ids(tab, ".flagged"))
    assert after - before, (before, after)  # tiles among another class's labeled items
    assert "Press f" in await tab.inner_text("#flag-rule")
    assert "selected" not in (await tab.get_attribute(f"#{unflagged[0]}", "class") or "").split()
    assert await tab.input_value("select[name=label_id]") == str(classes[2])
    still = set(await _tile_ids(tab, ".selected"))
    assert still == set(tiles) - {unflagged[0]}
    await tab.click("h1")
    await tab.keyboard.press("f")  # now "f" leaves them out
    assert not set(await _tile_ids(tab, ".selected")) & after


async def test_an_unfit_classifier_is_no_review_default_and_its_suspects_show_only_when_asked(live, tab):
    """With only an unfit classifier the review page picked it: "r" overwrote a right label with
    its one class. Now the page names it as unfit and shows no suspect, so no key answers one; asked
    for anyway, its suspects show with "unfit model" beside every relabel button."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    classes = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
    for k, label in enumerate(classes):
        await tag(live, ids[4 * k : 4 * k + 4], label)
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-one-class"})
    await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
    before = await labels_of(live)

    await tab.goto(f"/datasets/{dataset_id}/review")
    await expect(tab.locator("#unfit-models li")).to_have_count(1)
    assert "no better than always answering one class" in await tab.inner_text("#unfit-models")
    await expect(tab.locator("#suspects .suspect")).to_have_count(0)
    await tab.click("h1")
    await tab.keyboard.press("r")
    await tab.keyboard.press("k")
    await tab.locator("#unfit-models a").click()
    await expect(tab.locator("#suspects .suspect").first).to_be_visible()
    assert await labels_of(live) == before  # no key answered a suspect of the unfit model
    assert tab.url.endswith(f"/review?model_id={job['model_id']}&override_unfit=1")
    await expect(tab.locator("#model-fitness")).to_contain_text("Unfit model:")
    count = await tab.locator("#suspects .suspect").count()
    relabels = await tab.locator("#suspects .suspect [data-review=relabel]").count()
    assert relabels > 0
    marks = "#suspects .suspect .review-actions .unfit-mark"
    assert await tab.locator(marks).count() == count
    assert await tab.evaluate(SHOWN, "#suspects .suspect:nth-child(-n+4) .review-actions .unfit-mark") == min(
        4, count
    )

    top = int(await tab.locator("#suspects .suspect").first.get_attribute("data-id") or 0)
    await tab.click("h1")
    await tab.keyboard.press("k")  # asked for, the keys answer; the next suspects keep the override
    await expect(tab.locator(f"#suspect-{top}")).to_have_count(0)
    await expect(tab.locator(marks).first).to_be_visible()


async def test_the_review_says_which_suspects_it_shows_and_pages_through_the_rest(live, tab, folder):
    """The page said "38 suspected wrong labels" and showed 24, with no pager: the other 14 could
    not be reached. It says which it shows and pages through the rest; an answer on a later page
    stays on it."""
    api = live["api"]
    made = await api.post(
        f"{API}/datasets",
        json={
            "name": "many suspects",
            "sources": [str(image_folder(folder.with_name(folder.name + "_many"), 60))],
        },
    )
    assert made.status_code == 201, made.text
    dataset_id = made.json()["dataset"]["id"]
    items = (await api.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()["items"]
    ids = [i["id"] for i in items]
    classes = [await add_class(api, dataset_id, name) for name in ("a", "b", "c")]
    by_class: dict[int, list[int]] = {}
    for i in range(59):  # every other item labeled against the oracle's class
        by_class.setdefault(classes[(i % 3 + (i + 1) % 2) % 3], []).append(ids[i])
    for label, members in by_class.items():
        tagged = await api.post(
            f"{API}/datasets/{dataset_id}/tags", json={"item_ids": members, "label_id": label}
        )
        assert tagged.status_code == 201, tagged.text
    job = await run_job(api, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-oracle"})
    await run_job(api, {"kind": "infer", "model_id": job["model_id"]})
    listed = await api.get(
        f"{API}/datasets/{dataset_id}/label-suspects", params={"model_id": job["model_id"], "limit": 100}
    )
    everyone = [s["item_id"] for s in listed.json()["suspects"]]
    total = len(everyone)
    assert 24 < total <= 48 and listed.json()["fitness"]["status"] == "fit"

    async def shown() -> list[int]:
        return [
            int(i)
            for i in await tab.locator("#suspects .suspect").evaluate_all("ts => ts.map(t => t.dataset.id)")
        ]

    await tab.goto(f"/datasets/{dataset_id}/review")
    assert await tab.inner_text("#suspect-count") == str(total)
    assert await tab.inner_text("#suspect-range") == f"showing 1-24 of {total}"
    assert await shown() == everyone[:24]
    await expect(tab.locator("#suspects .guided-pager")).to_contain_text("page 1 of 2")
    await tab.locator("#suspects .guided-pager a", has_text="next").click()
    await expect(tab.locator("#suspect-range")).to_have_text(f"showing 25-{total} of {total}")
    assert await shown() == everyone[24:]
    assert tab.url.endswith(f"/review?model_id={job['model_id']}&page=2")

    kept = everyone[24]
    await tab.click("h1")
    await tab.keyboard.press("k")  # an answer on page 2 draws page 2 again
    await expect(tab.locator(f"#suspect-{kept}")).to_have_count(0)
    # (a reviewed item leaves the neighbours of the others too: a few more may drop out)
    listed = await api.get(
        f"{API}/datasets/{dataset_id}/label-suspects", params={"model_id": job["model_id"], "limit": 100}
    )
    now = [s["item_id"] for s in listed.json()["suspects"]]
    assert kept not in now and len(now) > 24
    await expect(tab.locator("#suspect-range")).to_have_text(f"showing 25-{len(now)} of {len(now)}")
    assert await shown() == now[24:]
    await tab.locator("#suspects .guided-pager a", has_text="previous").click()
    await expect(tab.locator("#suspect-range")).to_have_text(f"showing 1-24 of {len(now)}")
    assert await shown() == now[:24]


async def test_r_on_a_suspect_without_a_suggested_class_says_so_and_focuses_its_open_link(live, tab):
    """The hint promises that "r" relabels the first suspect; on one without a suggested class (no
    "-> class" button) it relabeled the first suspect further down that had one, another item than
    the one the keys answer. Now it says so on the first suspect's tile, labels nothing, and puts
    the focus on its "open" link: Enter opens the item view, where any class can be given."""
    ids = live["ids"]
    model, _ = await oracle(live, 24, wrong=(6, 9, 12, 15))
    await tab.goto(f"/datasets/{live['dataset_id']}/review?model_id={model}")
    first = tab.locator("#suspects .suspect").first
    top = int(await first.get_attribute("data-id") or 0)
    assert top == ids[15]
    await expect(first.locator("[data-review=relabel]")).to_have_count(0)  # ids[15]: its neighbours agree
    assert await tab.locator("#suspects .suspect [data-review=relabel]").count() > 0  # others have one
    before = await labels_of(live)
    await tab.click("h1")
    await tab.keyboard.press("r")
    note = first.locator(".no-suggestion")
    await expect(note).to_be_visible()
    await expect(note).to_contain_text("No suggested class")
    await expect(first.locator("a", has_text="open")).to_be_focused()
    assert await labels_of(live) == before
    events = (await live["api"].get(f"{API}/datasets/{live['dataset_id']}/events")).json()["events"]
    assert not [e for e in events if e["kind"] == "review"]
    await tab.keyboard.press("r")  # again: still one note
    await expect(first.locator(".no-suggestion")).to_have_count(1)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url(f"**/items/{top}*")


async def test_an_item_opened_from_the_review_goes_back_to_it_after_a_class_key(live, tab):
    """The review's "open" gave the item view of the gallery: "back to the gallery", and a class key
    opened the gallery's next item (the review's first suspects are on the gallery's first page).
    Opened from the review, its back link says so and returns there, on the review's page, and a
    class key labels the item and goes back to the review, where it is no longer a suspect."""
    ids = live["ids"]
    model, classes = await oracle(live, 24, wrong=(6, 9, 12, 15))
    await tab.goto(f"/datasets/{live['dataset_id']}/review?model_id={model}")
    top = int(await tab.locator("#suspects .suspect").first.get_attribute("data-id") or 0)
    await tab.locator(f"#suspect-{top} a", has_text="open").click()
    await tab.wait_for_url(f"**/items/{top}?*")
    back = tab.locator("#item-back")
    await expect(back).to_have_text("\u2039 back to the review")
    review = f"/datasets/{live['dataset_id']}/review?model_id={model}"
    assert await back.get_attribute("href") == review
    await expect(tab.locator("#item-next")).to_have_count(0)  # no gallery order here
    await expect(tab.locator("#advance")).to_be_checked()
    right = classes[ids.index(top) % 3]
    await tab.locator(f".item-label-btn[data-label='{right}']").click()
    await tab.wait_for_url(f"**{review}")
    await expect(tab.locator("#suspects .suspect").first).to_be_visible()
    await expect(tab.locator(f"#suspect-{top}")).to_have_count(0)
    assert (await labels_of(live))[top] == [right]
