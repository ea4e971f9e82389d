"""Rejections ("not this class"): recorded with a batch, cleared by a later label of that class or
an undo of the batch (and back on redo), and the filters the batches use."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from backend.errors import Invalid, NotFound
from backend.labels import events, rejections, revoke
from backend.labels.batches import record_batch
from backend.labels.events import TagRequest
from tests.helpers.labels import assert_consistent, cat_dog_dataset


async def _active(session, dataset_id):  # type: ignore[no-untyped-def]
    total, rows = await rejections.list_rejections(session, dataset_id)
    assert total == len(rows)
    return {(r.item_id, r.label_id) for r in rows}


def _batch(dataset_id: int, items: list[int], label_id: int) -> TagRequest:
    return TagRequest(dataset_id, "ann", items, label_id, op="set", kind="similarity", model_id=1)


async def test_a_batch_records_its_left_out_items_and_a_label_of_that_class_clears_them(
    session, settings, folder
):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", [ids[5]], dog.id))
    outcome = await record_batch(
        session, _batch(dataset.id, ids[:2], cat.id), rejected_item_ids=[ids[2], ids[3], ids[5]]
    )
    # ids[5] holds a label: nothing said about it, it is not a candidate anyway
    assert outcome.rejected == 2 and outcome.event.parameters["rejected"] == 2
    assert await _active(session, dataset.id) == {(ids[2], cat.id), (ids[3], cat.id)}
    assert await rejections.rejected_items(session, dataset.id, cat.id) == {ids[2], ids[3]}
    assert await rejections.rejected_items(session, dataset.id, dog.id) == set()

    # the same item left out again: one rejection, not two
    await record_batch(session, _batch(dataset.id, [ids[4]], cat.id), rejected_item_ids=[ids[2]])
    assert len(await _active(session, dataset.id)) == 2

    # labeling ids[3] dog says nothing about cat; labeling ids[2] cat clears its rejection
    await events.record_event(session, TagRequest(dataset.id, "bob", [ids[3]], dog.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", [ids[2]], cat.id))
    assert await _active(session, dataset.id) == {(ids[3], cat.id)}
    await assert_consistent(session, dataset.id)


async def test_undo_clears_the_batchs_rejections_and_redo_brings_them_back(session, settings, folder):
    dataset, ids, cat, _dog = await cat_dog_dataset(session, settings, folder)
    outcome = await record_batch(session, _batch(dataset.id, ids[:2], cat.id), rejected_item_ids=[ids[2]])
    undo = await events.undo_event(session, outcome.event.id, "ann")
    assert await _active(session, dataset.id) == set()
    await events.undo_event(session, undo.id, "ann")  # redo
    assert await _active(session, dataset.id) == {(ids[2], cat.id)}

    # a label that cleared a rejection, undone: the rejection is back
    label = await events.record_event(session, TagRequest(dataset.id, "bob", [ids[2]], cat.id))
    assert await _active(session, dataset.id) == set()
    await events.undo_event(session, label.id, "bob")
    assert await _active(session, dataset.id) == {(ids[2], cat.id)}

    # revoking the batch kind takes its rejections back too: a fresh batch's, and the first one's,
    # whose labels the redo put back (undone and redone, it is in force again)
    await record_batch(session, _batch(dataset.id, [ids[4]], cat.id), rejected_item_ids=[ids[5]])
    assert await _active(session, dataset.id) == {(ids[2], cat.id), (ids[5], cat.id)}
    result = await revoke.revoke_labels(session, dataset.id, tagger="ann", kind="similarity")
    assert (result.revoked, result.event_count) == (3, 2)
    assert await events.current_state(session, ids) == {}
    assert await _active(session, dataset.id) == set()


async def test_bad_rejections_are_refused_and_nothing_is_labeled(session, settings, folder):
    dataset, ids, cat, _dog = await cat_dog_dataset(session, settings, folder)
    with pytest.raises(Invalid, match="both kept and rejected"):
        await record_batch(session, _batch(dataset.id, ids[:2], cat.id), rejected_item_ids=[ids[1]])
    with pytest.raises(NotFound, match="not in dataset"):
        await record_batch(session, _batch(dataset.id, ids[:2], cat.id), rejected_item_ids=[10**9])
    assert await events.current_state(session, ids) == {}
    assert await _active(session, dataset.id) == set()
    with pytest.raises(NotFound):
        await rejections.list_rejections(session, 10**9)
    with pytest.raises(Invalid, match="over the page size cap: at most 500") as refused:
        await rejections.list_rejections(session, dataset.id, limit=501, max_limit=500)
    assert refused.value.details == {"max_limit": 500}


def test_the_filters_leave_out_only_the_rejected_pairs():
    ids = np.array([10, 11, 12], np.int64)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)
    rejected = {5: {10}, 6: {10, 12}}  # class ids of the two columns: 5, 6
    masked = rejections.mask_scores(ids, probs, [5, 6], rejected)
    assert masked[0].tolist() == [0.0, 0.0] and masked[2].tolist() == pytest.approx([0.6, 0.0])
    assert masked[1].tolist() == pytest.approx([0.2, 0.8]) and probs[0, 0] == pytest.approx(0.9)
    assert rejections.mask_scores(ids, probs, [5, 6], {}) is probs
    # arg-max rows: item 10's top class (5) is rejected; item 12's top class (5) is not
    assert rejections.top_not_rejected(ids, probs, [5, 6], rejected).tolist() == [False, True, True]
    candidates = [SimpleNamespace(item_id=10, label_id=6), SimpleNamespace(item_id=11, label_id=5)]
    kept = rejections.drop_rejected(candidates, rejected)
    assert [c.item_id for c in kept] == [11]
    assert rejections.not_rejected(ids, {11}).tolist() == [True, False, True]
