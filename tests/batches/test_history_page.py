"""The history page in Chromium: from a model page, revoke what the model labeled (later work by
someone else stays), then redo it from the event list."""

from __future__ import annotations

from tests.batches.conftest import labels_of, model_batch, tag
from tests.helpers.guided import add_class, pca_model


async def test_revoke_a_models_labels_from_its_page_then_put_them_back(live, tab, database):
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    a, b = await add_class(api, dataset_id, "A"), await add_class(api, dataset_id, "B")
    await tag(live, ids[:3], a)
    await model_batch(database, dataset_id, ids[:10], b, "probability", model)
    await tag(live, [ids[3]], a, tagger="bob")

    await tab.goto(f"/models/{model}")
    await tab.click("#revoke-model-link")
    await tab.wait_for_selector("#revoke-model")
    assert await tab.input_value("#revoke-model select[name=model_id]") == str(model)
    await tab.click("#revoke-model button")
    notice = tab.locator("#history-notice")
    await notice.wait_for()
    text = await notice.inner_text()
    assert "Revoked the labels of 9 item(s) from 1 event(s)" in text, text
    assert "1 item(s) relabeled since" in text
    labels = await labels_of(live)
    assert labels == {ids[0]: [a], ids[1]: [a], ids[2]: [a], ids[3]: [a]}

    first = tab.locator("#events tbody tr").first
    assert "revoked model" in await first.inner_text()
    await first.locator("button.undo-event").click()
    await tab.locator("#history-notice").filter(has_text="Undid event").wait_for()
    labels = await labels_of(live)
    assert all(labels[i] == [b] for i in ids[4:10]) and labels[ids[3]] == [a]


async def test_after_undo_revoke_the_model_is_offered_again_and_revoked_again(live, tab, database):
    """The labels "Undo revoke" put back are still the model's: the revoke form offers it again, and
    a second revoke takes them back (a person's label made after the undo stays)."""
    api, dataset_id, ids = live["api"], live["dataset_id"], live["ids"]
    model = await pca_model(api, dataset_id)
    a, b = await add_class(api, dataset_id, "A"), await add_class(api, dataset_id, "B")
    await model_batch(database, dataset_id, ids[:10], b, "similarity", model)

    await tab.goto(f"/datasets/{dataset_id}/history")
    await tab.click("#revoke-model button")
    await tab.locator("#history-notice").filter(has_text="Revoked the labels of 10 item(s)").wait_for()
    assert await tab.locator("#revoke-model option").count() == 0
    assert "nothing left to revoke" in await tab.inner_text("#no-labeling-model")

    await tab.locator("#events tbody tr").first.get_by_role("button", name="Undo revoke").click()
    await tab.locator("#history-notice").filter(has_text="Undid event").wait_for()
    option = tab.locator(f"#revoke-model option[value='{model}']")
    assert "10 item(s) from 1 event(s)" in await option.inner_text()
    assert await tab.is_enabled("#revoke-model button")

    await tag(live, [ids[0]], a, tagger="bob")  # Bob's label, after the undo: it stays
    await tab.goto(f"/datasets/{dataset_id}/history")
    assert "9 item(s) from 1 event(s)" in await option.inner_text()
    await tab.click("#revoke-model button")
    notice = tab.locator("#history-notice").filter(has_text="Revoked the labels of 9 item(s)")
    await notice.wait_for()
    assert "1 item(s) relabeled since" in await notice.inner_text()
    assert await labels_of(live) == {ids[0]: [a]}
