"""Labeling through GraphQL: tag, untag, undo, redo, progress, events, labels as of / by tagger, history."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers.graphql import TAG, add_class, create_dataset, gql, gql_error, item_ids, snapshot, tag

LABELS = """
query($d: Int!, $asOf: DateTime, $tagger: String) {
  labels(datasetId: $d, asOf: $asOf, tagger: $tagger) { itemId labelIds }
}
"""
EVENTS = """
query($d: Int!, $tagger: String, $kind: String, $since: DateTime, $until: DateTime, $offset: Int! = 0,
      $limit: Int! = 50) {
  events(datasetId: $d, tagger: $tagger, kind: $kind, since: $since, until: $until, offset: $offset,
         limit: $limit) {
    total offset limit events { id kind tagger }
  }
}
"""
UNDO_LAST = "mutation($d: Int!) { undoLast(datasetId: $d) { id kind undoesEventId parameters } }"
REDO_LAST = "mutation($d: Int!) { redoLast(datasetId: $d) { id kind undoesEventId } }"


async def _labeled(client, folder: Path, *, multi_label: bool = False) -> tuple[int, list[int], int, int]:
    dataset = (await create_dataset(client, folder, count=6, multi_label=multi_label))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat = await add_class(client, dataset["id"], "cat")
    dog = await add_class(client, dataset["id"], "dog")
    return dataset["id"], ids, cat["id"], dog["id"]


async def _labels(client, dataset_id: int, **variables) -> dict[int, list[int]]:
    rows = (await gql(client, LABELS, {"d": dataset_id, **variables}))["labels"]
    return {row["itemId"]: row["labelIds"] for row in rows}


async def test_tag_records_one_event_with_the_callers_tagger(client, folder: Path):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    event = await tag(client, dataset_id, ids[:3] + ids[:1], cat, tagger="alice", params={"note": "first"})
    assert (event["tagger"], event["kind"], event["tagCount"]) == ("alice", "manual", 3)
    assert event["parameters"] == {"note": "first"}
    assert await _labels(client, dataset_id) == {i: [cat] for i in ids[:3]}
    default = await tag(client, dataset_id, ids[3:4], cat)
    assert default["tagger"] == "tester"  # the server's tagger when the caller names none
    tags = await gql(
        client,
        "query($id: Int!) { event(id: $id) { tags(offset: 1, limit: 1) { itemId op labelId } } }",
        {"id": event["id"]},
    )
    assert tags["event"]["tags"] == [{"itemId": ids[1], "op": "set", "labelId": cat}]


async def test_multi_label_add_remove_and_untag(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder, multi_label=True)
    await tag(client, dataset_id, ids[:2], cat, op="ADD")
    await tag(client, dataset_id, ids[:1], dog, op="ADD")
    assert await _labels(client, dataset_id) == {ids[0]: [cat, dog], ids[1]: [cat]}
    await tag(client, dataset_id, ids[:1], cat, op="REMOVE")
    assert await _labels(client, dataset_id) == {ids[0]: [dog], ids[1]: [cat]}
    untag = """mutation($d: Int!, $ids: [Int!]!, $l: Int) {
                 untag(datasetId: $d, itemIds: $ids, labelId: $l) { tagCount }
               }"""
    await gql(client, untag, {"d": dataset_id, "ids": ids[:2], "l": cat})
    assert await _labels(client, dataset_id) == {ids[0]: [dog]}
    await gql(client, untag, {"d": dataset_id, "ids": ids[:1]})
    assert await _labels(client, dataset_id) == {}


async def test_bad_tags_are_refused_with_a_code_and_change_nothing(client, folder: Path, data_root: Path):
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    other = (await create_dataset(client, data_root / f"{folder.name}-other", count=2))["dataset"]
    other_class = await add_class(client, other["id"], "elsewhere")
    await tag(client, dataset_id, ids[:1], cat)
    before = await snapshot(client)
    error = await gql_error(
        client,
        TAG,
        {"d": dataset_id, "ids": [ids[1], 987654], "label": cat},
        code="NOT_FOUND",
        fragments=("987654",),
    )
    assert error["extensions"]["unknown_items"] == [987654]
    await gql_error(
        client, TAG, {"d": dataset_id, "ids": ids[:1], "label": other_class["id"]}, code="NOT_FOUND"
    )
    await gql_error(client, TAG, {"d": dataset_id, "ids": [], "label": cat}, code="INVALID")
    await gql_error(client, TAG, {"d": dataset_id, "ids": ids[:1], "op": "REMOVE"}, code="INVALID")
    await gql_error(client, TAG, {"d": 999999, "ids": ids[:1], "label": cat}, code="NOT_FOUND")
    await gql_error(
        client, TAG, {"d": dataset_id, "ids": ids[:1], "label": cat, "params": [1, 2]}, code="INVALID"
    )
    await gql_error(
        client, TAG, {"d": dataset_id, "ids": ids[:1], "label": cat}, code="INVALID", tagger="bad<name>"
    )
    assert await snapshot(client) == before


async def test_undo_event_restores_labels_and_a_second_undo_is_a_conflict(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    await tag(client, dataset_id, ids[:2], cat)
    second = await tag(client, dataset_id, ids[:2], dog)
    undo = "mutation($e: Int!) { undoEvent(eventId: $e) { kind undoesEventId tagCount } }"
    undone = (await gql(client, undo, {"e": second["id"]}))["undoEvent"]
    assert undone == {"kind": "undo", "undoesEventId": second["id"], "tagCount": 2}
    assert await _labels(client, dataset_id) == {ids[0]: [cat], ids[1]: [cat]}
    await gql_error(client, undo, {"e": second["id"]}, code="CONFLICT", fragments=("already undone",))
    await gql_error(client, undo, {"e": 999999}, code="NOT_FOUND")


async def test_undo_last_and_redo_last_act_on_the_callers_own_work(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    mine = await tag(client, dataset_id, ids[:2], cat, tagger="ann")
    await tag(client, dataset_id, ids[2:3], dog, tagger="bob")
    undone = (await gql(client, UNDO_LAST, {"d": dataset_id}, tagger="ann"))["undoLast"]
    assert undone["undoesEventId"] == mine["id"] and undone["parameters"]["undo_depth"] == 1
    assert await _labels(client, dataset_id) == {ids[2]: [dog]}  # bob's work stays
    await gql_error(
        client, UNDO_LAST, {"d": dataset_id}, code="CONFLICT", fragments=("nothing to undo",), tagger="ann"
    )
    redone = (await gql(client, REDO_LAST, {"d": dataset_id}, tagger="ann"))["redoLast"]
    assert redone["undoesEventId"] == undone["id"]
    assert await _labels(client, dataset_id) == {ids[0]: [cat], ids[1]: [cat], ids[2]: [dog]}
    await gql_error(
        client, REDO_LAST, {"d": dataset_id}, code="CONFLICT", fragments=("nothing to redo",), tagger="ann"
    )
    await gql_error(client, UNDO_LAST, {"d": 999999}, code="NOT_FOUND", tagger="ann")


async def test_events_are_listed_newest_first_and_filtered_by_tagger_kind_and_time(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    first = await tag(client, dataset_id, ids[:2], cat, tagger="ann")
    second = await tag(client, dataset_id, ids[2:3], dog, tagger="bob", kind="REVIEW")

    async def page(**variables) -> dict:
        return (await gql(client, EVENTS, {"d": dataset_id, **variables}))["events"]

    everything = await page()
    assert [e["id"] for e in everything["events"]] == [second["id"], first["id"]] and everything["total"] == 2
    assert [e["id"] for e in (await page(tagger="bob"))["events"]] == [second["id"]]
    assert (await page(kind="manual"))["total"] == 1
    one = await page(limit=1, offset=1)
    assert [e["id"] for e in one["events"]] == [first["id"]] and (one["total"], one["limit"]) == (2, 1)
    later = datetime.fromisoformat(second["createdAt"]) + timedelta(seconds=1)
    naive = later.replace(tzinfo=None).isoformat()  # no zone: taken as UTC
    assert (await page(since=naive))["total"] == 0
    assert (await page(until=naive))["total"] == 2
    assert (await page(since=first["createdAt"], until=first["createdAt"]))["total"] == 1
    await gql_error(
        client, EVENTS, {"d": dataset_id, "since": naive, "until": first["createdAt"]}, code="INVALID"
    )
    await gql_error(client, EVENTS, {"d": dataset_id, "since": "yesterday"}, code="GRAPHQL_VALIDATION_FAILED")
    taggers = await gql(client, "query($d: Int!) { taggers(datasetId: $d) }", {"d": dataset_id})
    assert taggers["taggers"] == ["ann", "bob"]


async def test_labels_as_of_a_time_and_by_tagger_are_rebuilt_from_events(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    first = await tag(client, dataset_id, ids[:2], cat, tagger="ann")
    await tag(client, dataset_id, ids[1:3], dog, tagger="bob")
    assert await _labels(client, dataset_id) == {ids[0]: [cat], ids[1]: [dog], ids[2]: [dog]}
    assert await _labels(client, dataset_id, asOf=first["createdAt"]) == {ids[0]: [cat], ids[1]: [cat]}
    long_ago = (datetime.fromisoformat(first["createdAt"]) - timedelta(days=1)).isoformat()
    assert await _labels(client, dataset_id, asOf=long_ago) == {}
    assert await _labels(client, dataset_id, tagger="bob") == {ids[1]: [dog], ids[2]: [dog]}
    assert await _labels(client, dataset_id, tagger="nobody") == {}
    await gql_error(
        client,
        LABELS,
        {"d": dataset_id, "asOf": first["createdAt"], "tagger": "ann"},
        code="INVALID",
        fragments=("not both",),
    )
    await gql_error(client, LABELS, {"d": 999999, "tagger": "x"}, code="NOT_FOUND")


async def test_item_history_lists_every_event_that_touched_the_item(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    first = await tag(client, dataset_id, ids[:2], cat, tagger="ann")
    second = await tag(client, dataset_id, ids[1:2], dog, tagger="bob")
    query = "query($i: Int!) { itemHistory(itemId: $i) { op labelId event { id tagger } } }"
    history = (await gql(client, query, {"i": ids[1]}))["itemHistory"]
    assert history == [
        {"op": "set", "labelId": cat, "event": {"id": first["id"], "tagger": "ann"}},
        {"op": "set", "labelId": dog, "event": {"id": second["id"], "tagger": "bob"}},
    ]
    assert (await gql(client, query, {"i": ids[5]}))["itemHistory"] == []
    await gql_error(client, query, {"i": 999999}, code="NOT_FOUND")


async def test_progress_counts_labeled_items_and_items_per_class(client, folder: Path):
    dataset_id, ids, cat, dog = await _labeled(client, folder)
    await tag(client, dataset_id, ids[:3], cat)
    await tag(client, dataset_id, ids[3:4], dog)
    query = """query($d: Int!) {
                 progress(datasetId: $d) { total labeled unlabeled fraction classes { id name count } }
               }"""
    progress = (await gql(client, query, {"d": dataset_id}))["progress"]
    assert (progress["total"], progress["labeled"], progress["unlabeled"]) == (6, 4, 2)
    assert abs(progress["fraction"] - 4 / 6) < 1e-9
    assert progress["classes"] == [
        {"id": cat, "name": "cat", "count": 3},
        {"id": dog, "name": "dog", "count": 1},
    ]
    await gql_error(client, query, {"d": 999999}, code="NOT_FOUND")


async def test_a_client_cannot_forge_a_model_made_event(client, folder: Path):
    """The tag mutation records manual/import/review events without a model; the batch mutations
    (labelSimilar, applyProbability) are the only way to an event naming a model."""
    dataset_id, ids, cat, _ = await _labeled(client, folder)
    for kind in ("SIMILARITY", "PROBABILITY"):
        await gql_error(
            client,
            TAG,
            {"d": dataset_id, "ids": ids[:2], "label": cat, "kind": kind, "params": {"threshold": 0.99}},
            code="INVALID",
            fragments=("batch endpoints",),
        )
    forged = TAG.replace("parameters: $params)", "parameters: $params, modelId: 424242)")
    await gql_error(
        client, forged, {"d": dataset_id, "ids": ids[:2], "label": cat}, code="INVALID", fragments=("model",)
    )
    assert await _labels(client, dataset_id) == {}
