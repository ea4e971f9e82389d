"""Datasets through GraphQL: create, read with nested fields, update, extend, rescan, delete; refusals."""

from __future__ import annotations

from pathlib import Path

from backend.api.graphql.controller import refused_status
from tests.factories import write_png
from tests.helpers.graphql import CREATE_DATASET, create_dataset, gql, gql_error, snapshot

DATASET = """
query($id: Int!) {
  dataset(id: $id) {
    id name multiLabel itemCount labeledCount unreadableCount createdAt
    sources { id kind uri position hasApiKey scannedAt }
    classes { id name }
    progress { total labeled unlabeled fraction }
  }
}
"""


async def test_create_dataset_scans_its_folder_and_reads_back_with_nested_fields(client, folder: Path):
    created = await create_dataset(client, folder, count=5, corrupt=1)
    assert created["scan"] == {"added": 6, "unreadable": 1, "missing": 0, "restored": 0}
    dataset = created["dataset"]
    assert dataset["name"] == f"ds-{folder.name}"
    assert (dataset["itemCount"], dataset["labeledCount"], dataset["unreadableCount"]) == (6, 0, 1)

    read = (await gql(client, DATASET, {"id": dataset["id"]}))["dataset"]
    assert read["sources"] == [
        {
            "id": read["sources"][0]["id"],
            "kind": "folder",
            "uri": str(folder),
            "position": 0,
            "hasApiKey": False,
            "scannedAt": read["sources"][0]["scannedAt"],
        }
    ]
    assert read["classes"] == []
    assert read["progress"] == {"total": 6, "labeled": 0, "unlabeled": 6, "fraction": 0.0}
    listed = (await gql(client, "{ datasets { id name itemCount } }"))["datasets"]
    assert listed == [{"id": dataset["id"], "name": dataset["name"], "itemCount": 6}]


async def test_update_dataset_renames_and_switches_multi_label(client, folder: Path):
    dataset = (await create_dataset(client, folder))["dataset"]
    updated = await gql(
        client,
        """mutation($id: Int!, $n: String!) {
             updateDataset(id: $id, name: $n, multiLabel: true) { name multiLabel }
           }""",
        {"id": dataset["id"], "n": "  renamed  "},
    )
    assert updated["updateDataset"] == {"name": "renamed", "multiLabel": True}


async def test_rename_to_a_taken_name_is_a_conflict_and_changes_nothing(client, data_root: Path):
    first = (await create_dataset(client, data_root / "one"))["dataset"]
    second = (await create_dataset(client, data_root / "two"))["dataset"]
    before = await snapshot(client)
    await gql_error(
        client,
        "mutation($id: Int!, $n: String!) { updateDataset(id: $id, name: $n, multiLabel: true) { id } }",
        {"id": second["id"], "n": first["name"]},
        code="CONFLICT",
        fragments=("already exists",),
    )
    assert await snapshot(client) == before


async def test_folder_outside_the_data_roots_is_forbidden_and_nothing_is_created(client, tmp_path: Path):
    outside = tmp_path / "outside"
    write_png(outside / "a.png")
    before = await snapshot(client)
    await gql_error(
        client,
        CREATE_DATASET,
        {"input": {"name": "sneaky", "sources": [str(outside)]}},
        code="FORBIDDEN",
    )
    assert await snapshot(client) == before


async def test_a_refused_operation_answers_403_but_partial_data_stays_200(client, data_root, tmp_path: Path):
    outside, inside = tmp_path / "outside", data_root / "inside"
    write_png(outside / "a.png")
    write_png(inside / "a.png")
    create = "createDataset(input: {name: $n, sources: [$s]}) { dataset { id } }"
    refused = await client.post(
        "/graphql",
        json={
            "query": f"mutation($n: String!, $s: String!) {{ {create} }}",
            "variables": {"n": "x", "s": str(outside)},
        },
    )
    assert refused.status_code == 403 and refused.json()["data"] is None
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    first = await client.post(
        "/graphql",
        json={
            "query": f"mutation($n: String!, $s: String!) {{ {create} }}",
            "variables": {"n": "x", "s": str(inside)},
        },
    )
    assert first.status_code == 200 and first.json()["data"]["createDataset"]["dataset"]["id"]
    # refused for another reason than access (a name taken): a GraphQL error with a 200, as before
    again = await client.post(
        "/graphql",
        json={
            "query": f"mutation($n: String!, $s: String!) {{ {create} }}",
            "variables": {"n": "x", "s": str(inside)},
        },
    )
    assert again.status_code == 200 and again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    mixed = {"data": None, "errors": [{"extensions": {"code": c}} for c in ("FORBIDDEN", "CONFLICT")]}
    assert refused_status(mixed) is None
    # some data came back: the refusals ride along in errors with a 200
    partial = {"data": {"datasets": []}, "errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]}
    assert refused_status(partial) is None
    assert refused_status({**partial, "data": None}) == 403


async def test_unknown_dataset_ids_are_not_found(client):
    error = await gql_error(client, DATASET, {"id": 999999}, code="NOT_FOUND", fragments=("999999",))
    assert error["path"] == ["dataset"]
    for mutation in (
        "mutation { deleteDataset(id: 999999) }",
        "mutation { rescanDataset(id: 999999) { added } }",
        'mutation { updateDataset(id: 999999, name: "x") { id } }',
    ):
        await gql_error(client, mutation, code="NOT_FOUND")


async def test_add_source_rescan_and_delete(client, folder: Path, data_root: Path):
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    extra = data_root / f"{folder.name}-extra"
    write_png(extra / "x.png", seed=50)
    added = await gql(
        client,
        "mutation($d: Int!, $s: String!) { addSource(datasetId: $d, source: $s) { added unreadable } }",
        {"d": dataset["id"], "s": str(extra)},
    )
    assert added["addSource"] == {"added": 1, "unreadable": 0}
    await gql_error(
        client,
        "mutation($d: Int!, $s: String!) { addSource(datasetId: $d, source: $s) { added } }",
        {"d": dataset["id"], "s": str(extra)},
        code="CONFLICT",
    )

    write_png(folder / "new.png", seed=60)
    (folder / "img_000.png").unlink()
    rescan = await gql(
        client, "mutation($d: Int!) { rescanDataset(id: $d) { added missing } }", {"d": dataset["id"]}
    )
    assert rescan["rescanDataset"] == {"added": 1, "missing": 1}

    deleted = await gql(client, "mutation($d: Int!) { deleteDataset(id: $d) }", {"d": dataset["id"]})
    assert deleted["deleteDataset"] == dataset["id"]
    assert (await gql(client, "{ datasets { id } }"))["datasets"] == []
    assert (folder / "new.png").exists()  # files are never touched


async def test_sibling_fields_reading_the_database_at_once_share_the_session_safely(client, data_root: Path):
    """GraphQL resolves siblings concurrently; one session must still run one statement at a time."""
    for name in ("c1", "c2", "c3"):
        dataset = (await create_dataset(client, data_root / name, count=2))["dataset"]
        await gql(
            client,
            'mutation($d: Int!) { createClass(datasetId: $d, name: "x") { id } }',
            {"d": dataset["id"]},
        )
    query = """{
      a: datasets { id sources { id } classes { id } progress { total labeled } }
      b: datasets { id sources { uri } classes { name } progress { unlabeled } }
      c: datasets { name itemCount }
    }"""
    for _ in range(3):
        data = await gql(client, query)
        assert len(data["a"]) == len(data["b"]) == len(data["c"]) == 3
        assert all(d["progress"] == {"total": 2, "labeled": 0} and len(d["classes"]) == 1 for d in data["a"])
