"""Tag events: recording, materialised labels, undo/redo, history and replay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.datasets.items import list_items
from backend.datasets.service import set_multi_label
from backend.errors import Conflict, Invalid, NotFound
from backend.labels import classes, events, history
from backend.labels.events import TagChange, TagRequest
from backend.labels.progress import dataset_progress
from tests.helpers.labels import assert_consistent, cat_dog_dataset


async def test_tagging_materialises_labels_and_progress(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:3], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[2:4], dog.id))
    labels = await history.current_labels(session, dataset.id)
    assert labels == {ids[0]: {cat.id}, ids[1]: {cat.id}, ids[2]: {dog.id}, ids[3]: {dog.id}}
    progress = await dataset_progress(session, dataset.id)
    assert (progress.total, progress.labeled) == (6, 4)
    assert {c.label.name: c.count for c in progress.classes} == {"cat": 2, "dog": 2}
    await assert_consistent(session, dataset.id)


async def test_single_label_dataset_replaces_label_and_multi_label_adds(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], cat.id, op="add"))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], dog.id, op="add"))
    assert (await history.current_labels(session, dataset.id))[ids[0]] == {dog.id}
    await set_multi_label(session, dataset.id, True)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], cat.id, op="add"))
    assert (await history.current_labels(session, dataset.id))[ids[0]] == {cat.id, dog.id}
    with pytest.raises(Conflict):
        await set_multi_label(session, dataset.id, False)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], cat.id, op="remove"))
    assert (await history.current_labels(session, dataset.id))[ids[0]] == {dog.id}
    await assert_consistent(session, dataset.id)


async def test_unlabel_clears_the_item(session, settings, folder):
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], None, op="clear"))
    assert await history.current_labels(session, dataset.id) == {ids[1]: {cat.id}}


async def test_tag_event_with_unknown_item_is_refused_and_changes_nothing(session, settings, folder):
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    with pytest.raises(NotFound) as err:
        await events.record_event(session, TagRequest(dataset.id, "ann", [ids[0], 999_999], cat.id))
    assert err.value.details["unknown_items"] == [999_999]
    assert await history.current_labels(session, dataset.id) == {}
    assert (await history.list_events(session, dataset.id)).total == 0


async def test_tag_event_with_class_of_other_dataset_is_refused(session, settings, folder, data_root):
    dataset, ids, _, _ = await cat_dog_dataset(session, settings, folder)
    _other, _, other_cat, _ = await cat_dog_dataset(session, settings, data_root / "other-ds")
    with pytest.raises(NotFound):
        await events.record_event(session, TagRequest(dataset.id, "ann", ids[:1], other_cat.id))


@pytest.mark.parametrize(
    "request_kw",
    [{"kind": "bogus"}, {"op": "flip"}, {"item_ids": []}, {"tagger": "  "}],
)
async def test_invalid_tag_requests_are_refused(session, settings, folder, request_kw):
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    base = {"dataset_id": dataset.id, "tagger": "ann", "item_ids": ids[:1], "label_id": cat.id}
    with pytest.raises(Invalid):
        await events.record_event(session, TagRequest(**{**base, **request_kw}))


async def test_undo_restores_previous_labels_and_redo_reapplies(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    second = await events.record_event(session, TagRequest(dataset.id, "ann", ids[1:3], dog.id))
    undoable = await events.last_undoable_event(session, dataset.id, "ann")
    assert undoable is not None and undoable.id == second.id
    undo = await events.undo_event(session, second.id, "ann")
    assert undo.kind == "undo" and undo.undoes_event_id == second.id
    assert await history.current_labels(session, dataset.id) == {ids[0]: {cat.id}, ids[1]: {cat.id}}
    with pytest.raises(Conflict):
        await events.undo_event(session, second.id, "ann")
    redo = await events.last_redoable_event(session, dataset.id, "ann")
    assert redo is not None and redo.id == undo.id
    await events.undo_event(session, redo.id, "ann")
    assert await history.current_labels(session, dataset.id) == {
        ids[0]: {cat.id},
        ids[1]: {dog.id},
        ids[2]: {dog.id},
    }
    assert await events.last_redoable_event(session, dataset.id, "ann") is None
    await assert_consistent(session, dataset.id)


async def test_ctrl_z_passes_over_an_event_that_changed_nothing(session, settings, folder):
    """A double submit records a second, empty-handed event; undo-last takes back the real one."""
    dataset, ids, cat, _ = await cat_dog_dataset(session, settings, folder)
    first = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    repeat = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    assert repeat.id != first.id  # the click is on record
    target = await events.last_undoable_event(session, dataset.id, "ann")
    assert target is not None and target.id == first.id
    undo = await events.undo_last(session, dataset.id, "ann")
    assert undo.undoes_event_id == first.id
    assert await history.current_labels(session, dataset.id) == {}
    await assert_consistent(session, dataset.id)


async def test_undo_leaves_items_changed_since_and_reports_them(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    first = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[:1], dog.id))
    undo = await events.undo_event(session, first.id, "ann")
    assert undo.parameters["skipped_items"] == [ids[0]]
    assert await history.current_labels(session, dataset.id) == {ids[0]: {dog.id}}
    await assert_consistent(session, dataset.id)


async def test_labels_as_of_and_by_tagger_are_rebuilt_from_events(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    first = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[1:3], dog.id))
    as_of = await history.labels_as_of(session, dataset.id, first.created_at)
    assert as_of == {ids[0]: {cat.id}, ids[1]: {cat.id}}
    assert await history.labels_as_of(session, dataset.id, first.created_at - timedelta(seconds=1)) == {}
    assert await history.labels_by_tagger(session, dataset.id, "bob") == {
        ids[1]: {dog.id},
        ids[2]: {dog.id},
    }
    page = await history.list_events(session, dataset.id, tagger="ann")
    assert [e.id for e in page.events] == [first.id]
    hist = await history.item_history(session, ids[1])
    assert [event.tagger for event, _ in hist] == ["ann", "bob"]


async def test_mixed_changes_in_one_event(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    event = await events.record_changes(
        session,
        dataset.id,
        tagger="imp",
        kind="import",
        changes=[TagChange(ids[0], "set", cat.id), TagChange(ids[1], "set", dog.id)],
    )
    assert event.tag_count == 2
    assert await history.current_labels(session, dataset.id) == {ids[0]: {cat.id}, ids[1]: {dog.id}}


async def test_deleting_a_class_unlabels_its_items_through_an_event(session, settings, folder):
    dataset, ids, cat, _dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:3], cat.id))
    assert await classes.class_item_count(session, cat.id) == 3
    event = await classes.delete_class(session, cat.id, "ann")
    assert event is not None and event.kind == "review" and event.tag_count == 3
    assert await history.current_labels(session, dataset.id) == {}
    assert [c.name for c in await classes.list_classes(session, dataset.id)] == ["dog"]
    # the name is free again; the old class stays in the history
    again = await classes.create_class(session, dataset.id, "cat")
    assert again.id != cat.id
    await assert_consistent(session, dataset.id)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": ""}, Invalid),
        ({"name": "x", "color": "red"}, Invalid),
        ({"name": "x", "hotkey": "ab"}, Invalid),
        ({"name": "x", "hotkey": "?"}, Invalid),
        ({"name": "CAT"}, Conflict),
        ({"name": "x", "hotkey": "c"}, Conflict),
    ],
)
async def test_bad_class_definitions_are_refused(session, settings, folder, kwargs, error):
    dataset, _, _, _ = await cat_dog_dataset(session, settings, folder)
    with pytest.raises(error):
        await classes.create_class(session, dataset.id, **kwargs)
    assert len(await classes.list_classes(session, dataset.id)) == 2


async def test_item_filters_and_label_sort(session, settings, folder):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[4:5], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[1:2], dog.id))
    unlabeled = await list_items(session, dataset.id, filter="unlabeled")
    assert unlabeled.total == 4
    only_dog = await list_items(session, dataset.id, label_id=dog.id)
    assert [e.item.id for e in only_dog.items] == [ids[1]]
    by_label = await list_items(session, dataset.id, sort="label")
    assert [e.item.id for e in by_label.items][:2] == [ids[4], ids[1]]
    with pytest.raises(Invalid):
        await list_items(session, dataset.id, limit=10_000)
