"""A filter naming a value that does not exist is refused (INVALID, naming the values there are),
at REST and GraphQL alike: an events kind, a model state or kind, an items class. They listed
nothing in silence, where a job state was refused."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from tests.helpers.graphql import gql, gql_error
from tests.helpers.rest import API, add_class, assert_error, create_dataset


async def test_unknown_event_kind_model_state_and_kind_are_refused(client: AsyncTestClient, folder: Path):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    d = dataset["id"]
    assert_error(
        await client.get(f"{API}/datasets/{d}/events", params={"kind": "zzz"}), 400, "INVALID", "manual"
    )
    assert_error(await client.get(f"{API}/models", params={"state": "zzz"}), 400, "INVALID", "ready")
    assert_error(await client.get(f"{API}/models", params={"kind": "zzz"}), 400, "INVALID", "classifier")
    await gql_error(
        client,
        'query($d: Int!) { events(datasetId: $d, kind: "zzz") { total } }',
        {"d": d},
        code="INVALID",
        fragments=("zzz", "manual"),
    )
    await gql_error(client, '{ models(state: "zzz") { id } }', code="INVALID", fragments=("zzz", "ready"))
    await gql_error(client, '{ models(kind: "zzz") { id } }', code="INVALID", fragments=("classifier",))
    # the values there are still filter
    assert (await client.get(f"{API}/datasets/{d}/events", params={"kind": "manual"})).status_code == 200
    assert (await client.get(f"{API}/models", params={"state": "ready", "kind": "classifier"})).json() == []
    assert (await gql(client, '{ models(state: "ready") { id } }'))["models"] == []


async def test_items_of_an_unknown_class_are_refused_naming_the_datasets_classes(
    client: AsyncTestClient, folder: Path
):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    ring = await add_class(client, dataset["id"], "ring")
    other_folder = folder.parent / f"{folder.name}_other"
    other_folder.mkdir()
    other = (await create_dataset(client, other_folder, count=2))["dataset"]
    foreign = await add_class(client, other["id"], "halo")
    url = f"{API}/datasets/{dataset['id']}/items"
    for label_id in (999999, foreign["id"]):
        error = assert_error(await client.get(url, params={"label_id": label_id}), 400, "INVALID", "ring")
        assert str(label_id) in error["message"]
        await gql_error(
            client,
            "query($d: Int!, $l: Int) { items(datasetId: $d, labelId: $l) { total } }",
            {"d": dataset["id"], "l": label_id},
            code="INVALID",
            fragments=(str(label_id), "ring"),
        )
    assert (await client.get(url, params={"label_id": ring["id"]})).json()["total"] == 0
