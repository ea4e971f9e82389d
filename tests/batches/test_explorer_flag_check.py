"""A class pressed in the explorer is judged by its own flags before it writes anything (issue:
three bulk paths in the pages can write hundreds of wrong labels silently). A mixed cluster boxed
and pressed as one class was labeled whole: "Check against" stayed on "no class", so only the
distance rule judged it. Now the press asks for the class's flags, shows them, and with any item
flagged asks in the page: label all, leave the flagged out (as "f"), or cancel.

The oracle's vectors put each class's items together; items 0..11 are labeled by its rule, so the
b and c items' labeled neighbours carry b and c: pressed as "a", they are flagged."""

from __future__ import annotations

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from tests.batches.conftest import labels_of, oracle, rejected
from tests.helpers.guided import box_over_the_explorer, run_job

FLASH_HAS = "(text) => document.getElementById('flash').textContent.includes(text)"


async def _explorer(live, tab) -> list[int]:
    model, classes = await oracle(live, 12)
    await run_job(live["api"], {"kind": "project", "model_id": model, "parameters": {"method": "pca"}})
    await tab.goto(f"/datasets/{live['dataset_id']}/explorer?model_id={model}")
    await tab.wait_for_selector("#explorer[data-ready='true']", timeout=30_000)
    await box_over_the_explorer(tab, 30)
    await tab.wait_for_selector("#selection-gallery:not([aria-busy])")
    assert await tab.input_value("#flag-class") == ""  # the distance rule only, as the page opens
    return classes


async def test_a_class_pressed_on_flagged_items_asks_and_leaves_them_out(live, tab):
    ids = live["ids"]
    a, _b, _c = await _explorer(live, tab)
    before = await labels_of(live)

    await tab.click(f"#label-buttons [data-label-id='{a}']")
    await tab.locator("#flag-confirm").wait_for(state="visible")
    text = await tab.inner_text("#flag-confirm-text")
    assert "20 of 30 selected items are flagged as unlike \u201ca\u201d" in text, text
    assert "nearest labeled items" in text  # the rule, in words
    assert await tab.input_value("#flag-class") == str(a)  # "Check against" now shows a's flags
    assert await tab.get_attribute("#explorer", "data-flagged") == "20"
    assert await tab.locator("#selection-gallery .flag-badge").count() > 0
    assert await labels_of(live) == before, "labels were written before the person answered"

    await tab.click("#flag-confirm-leave")
    await tab.wait_for_function(FLASH_HAS, arg="labeled a")
    assert "6 of 10 items labeled a" in await tab.inner_text("#flash")
    assert await tab.get_attribute("#explorer", "data-selected") == "10"
    assert not await tab.is_visible("#flag-confirm")
    labels = await labels_of(live)
    # only the oracle's a items (positions 0, 3, ...): 4 labeled before, 6 now; no b or c item got a
    assert sorted(i for i, v in labels.items() if v == [a]) == [ids[k] for k in range(0, 30, 3)]
    assert {i: v for i, v in labels.items() if v != [a]} == {i: v for i, v in before.items() if v != [a]}
    assert await rejected(live) == []  # the guardrails' doubt is no person's "not a" (as "f")


async def test_cancel_labels_nothing_and_a_clean_selection_labels_at_once(live, tab):
    ids = live["ids"]
    a, _b, _c = await _explorer(live, tab)
    before = await labels_of(live)

    await tab.click(f"#label-buttons [data-label-id='{a}']")
    await tab.locator("#flag-confirm").wait_for(state="visible")
    await tab.click("#flag-confirm-cancel")
    assert not await tab.is_visible("#flag-confirm")
    assert await tab.get_attribute("#explorer", "data-selected") == "30"
    assert await labels_of(live) == before

    # the flagged taken out by "f", and "Check against" back to no class: the next press asks for
    # a's flags again, finds none and labels at once
    await tab.click("#selection-panel h2")
    await tab.keyboard.press("f")
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.selected === '10'")
    await tab.select_option("#flag-class", "")
    await tab.wait_for_selector("#selection-gallery:not([aria-busy])")
    await tab.click(f"#label-buttons [data-label-id='{a}']")
    await tab.wait_for_function(FLASH_HAS, arg="labeled a")
    assert "6 of 10 items labeled a" in await tab.inner_text("#flash")
    assert not await tab.is_visible("#flag-confirm")
    assert await tab.input_value("#flag-class") == str(a)
    labels = await labels_of(live)
    assert sorted(i for i, v in labels.items() if v == [a]) == [ids[k] for k in range(0, 30, 3)]


async def test_a_second_press_after_the_flags_are_shown_labels_as_before(live, tab):
    a, _b, _c = await _explorer(live, tab)
    await tab.click(f"#label-buttons [data-label-id='{a}']")
    await tab.locator("#flag-confirm").wait_for(state="visible")
    await tab.click(f"#label-buttons [data-label-id='{a}']")  # seen: the person means it
    await tab.wait_for_function(FLASH_HAS, arg="labeled a")
    assert "18 of 30 items labeled a" in await tab.inner_text("#flash")
    assert sum(1 for v in (await labels_of(live)).values() if v == [a]) == 4 + 18


async def test_flags_already_shown_for_the_class_still_ask_before_labeling_flagged_items(live, tab):
    """ "Check against" left on a class (set by hand here, or by the last batch) drew the badges of a
    new box unasked, and one press wrote its flagged items: the press asks once per selection."""
    a, _b, _c = await _explorer(live, tab)
    before = await labels_of(live)
    await tab.select_option("#flag-class", str(a))
    await tab.wait_for_selector("#selection-gallery:not([aria-busy])")
    await tab.wait_for_function("() => document.querySelector('#explorer').dataset.flagged === '20'")

    await tab.click(f"#label-buttons [data-label-id='{a}']")
    await tab.locator("#flag-confirm").wait_for(state="visible")
    assert "20 of 30 selected items are flagged" in await tab.inner_text("#flag-confirm-text")
    assert await labels_of(live) == before, "flagged items written without a question"
    await tab.click("#flag-confirm-all")
    await tab.wait_for_function(FLASH_HAS, arg="labeled a")
    assert "18 of 30 items labeled a" in await tab.inner_text("#flash")
