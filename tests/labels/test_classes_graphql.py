"""Label classes through GraphQL: create, rename, recolor, re-key, delete; refusals change nothing."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.graphql import add_class, create_dataset, gql, gql_error, item_ids, snapshot, tag

CREATE = """
mutation($d: Int!, $name: String!, $color: String, $hotkey: String) {
  createClass(datasetId: $d, name: $name, color: $color, hotkey: $hotkey) { id name color hotkey }
}
"""


async def test_classes_are_created_listed_and_read(client, folder: Path):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", color="#FF0000", hotkey="C")
    dog = await add_class(client, dataset["id"], "dog")
    assert (cat["color"], cat["hotkey"], cat["position"]) == ("#ff0000", "c", 0)
    assert dog["color"].startswith("#") and dog["hotkey"] is None and dog["position"] == 1
    listed = await gql(client, "query($d: Int!) { classes(datasetId: $d) { id name } }", {"d": dataset["id"]})
    assert listed["classes"] == [{"id": cat["id"], "name": "cat"}, {"id": dog["id"], "name": "dog"}]
    one = await gql(client, "query($id: Int!) { labelClass(id: $id) { name datasetId } }", {"id": dog["id"]})
    assert one["labelClass"] == {"name": "dog", "datasetId": dataset["id"]}


async def test_update_class_leaves_out_what_is_not_given_and_null_hotkey_removes_it(client, folder: Path):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", hotkey="c")
    renamed = await gql(
        client,
        'mutation($id: Int!) { updateClass(id: $id, name: "kitten") { name color hotkey } }',
        {"id": cat["id"]},
    )
    assert renamed["updateClass"] == {"name": "kitten", "color": cat["color"], "hotkey": "c"}
    rekeyed = await gql(
        client,
        'mutation($id: Int!) { updateClass(id: $id, hotkey: "k", color: "#00ff00") { hotkey color } }',
        {"id": cat["id"]},
    )
    assert rekeyed["updateClass"] == {"hotkey": "k", "color": "#00ff00"}
    cleared = await gql(
        client,
        "mutation($id: Int!) { updateClass(id: $id, hotkey: null) { hotkey name } }",
        {"id": cat["id"]},
    )
    assert cleared["updateClass"] == {"hotkey": None, "name": "kitten"}


async def test_bad_class_input_is_refused_with_a_code_and_changes_nothing(client, folder: Path):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", hotkey="c")
    before = await snapshot(client)
    d = dataset["id"]
    await gql_error(
        client, CREATE, {"d": d, "name": "x", "color": "red"}, code="INVALID", fragments=("color",)
    )
    await gql_error(
        client, CREATE, {"d": d, "name": "x", "hotkey": "ab"}, code="INVALID", fragments=("hotkey",)
    )
    await gql_error(
        client, CREATE, {"d": d, "name": "x", "hotkey": "z"}, code="INVALID", fragments=("reserved",)
    )
    await gql_error(client, CREATE, {"d": d, "name": "CAT"}, code="CONFLICT", fragments=("already exists",))
    await gql_error(
        client, CREATE, {"d": d, "name": "other", "hotkey": "c"}, code="CONFLICT", fragments=("hotkey",)
    )
    await gql_error(client, CREATE, {"d": d, "name": "   "}, code="INVALID")
    await gql_error(client, CREATE, {"d": 999999, "name": "x"}, code="NOT_FOUND")
    await gql_error(
        client,
        'mutation($id: Int!) { updateClass(id: $id, color: "#12") { id } }',
        {"id": cat["id"]},
        code="INVALID",
    )
    await gql_error(client, 'mutation { updateClass(id: 999999, name: "x") { id } }', code="NOT_FOUND")
    await gql_error(client, "{ labelClass(id: 999999) { id } }", code="NOT_FOUND")
    await gql_error(client, "mutation { deleteClass(id: 999999) { deletedClassId } }", code="NOT_FOUND")
    assert await snapshot(client) == before


async def test_deleting_a_class_unlabels_its_items_by_one_recorded_event(client, folder: Path):
    dataset = (await create_dataset(client, folder))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat = await add_class(client, dataset["id"], "cat")
    empty = await add_class(client, dataset["id"], "empty")
    await tag(client, dataset["id"], ids[:2], cat["id"])
    deleted = await gql(
        client,
        "mutation($id: Int!) { deleteClass(id: $id) { deletedClassId unlabelEventId } }",
        {"id": cat["id"]},
        tagger="bob",
    )
    event_id = deleted["deleteClass"]["unlabelEventId"]
    assert deleted["deleteClass"]["deletedClassId"] == cat["id"] and event_id
    event = await gql(
        client, "query($id: Int!) { event(id: $id) { kind tagger tagCount } }", {"id": event_id}
    )
    assert event["event"] == {"kind": "review", "tagger": "bob", "tagCount": 2}
    labels = await gql(client, "query($d: Int!) { labels(datasetId: $d) { itemId } }", {"d": dataset["id"]})
    assert labels["labels"] == []
    none = await gql(
        client, "mutation($id: Int!) { deleteClass(id: $id) { unlabelEventId } }", {"id": empty["id"]}
    )
    assert none["deleteClass"]["unlabelEventId"] is None
    await gql_error(
        client, "query($id: Int!) { labelClass(id: $id) { id } }", {"id": cat["id"]}, code="NOT_FOUND"
    )
