"""GraphQL helpers shared by the tests: queries, error checks, datasets and labels made through GraphQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import insert

from backend.storage.tables import Item, Source
from tests.factories import image_folder

GRAPHQL = "/graphql"


async def gql_response(
    client: AsyncTestClient, query: str, variables: dict[str, Any] | None = None, tagger: str | None = None
) -> dict[str, Any]:
    headers = {"X-Labelwise-Tagger": tagger} if tagger else {}
    response = await client.post(
        GRAPHQL, json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert "data" in body or "errors" in body, body
    return body


async def gql(
    client: AsyncTestClient, query: str, variables: dict[str, Any] | None = None, tagger: str | None = None
) -> dict[str, Any]:
    """The operation's data; fails the test on any error."""
    body = await gql_response(client, query, variables, tagger)
    assert not body.get("errors"), body["errors"]
    return body["data"]


async def gql_error(
    client: AsyncTestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str,
    fragments: tuple[str, ...] = (),
    tagger: str | None = None,
) -> dict[str, Any]:
    """The operation failed with exactly one error of this code whose message holds the fragments."""
    body = await gql_response(client, query, variables, tagger)
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    error = errors[0]
    assert error["extensions"]["code"] == code, error
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), error
    return error


CREATE_DATASET = """
mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) {
    dataset { id name multiLabel itemCount labeledCount unreadableCount }
    scan { added unreadable missing restored }
  }
}
"""


async def create_dataset(
    client: AsyncTestClient, folder: Path, count: int = 6, *, multi_label: bool = False, corrupt: int = 0
) -> dict[str, Any]:
    """A dataset of ``count`` generated PNGs made through the createDataset mutation."""
    image_folder(folder, count=count, corrupt=corrupt)
    data = await gql(
        client,
        CREATE_DATASET,
        {"input": {"name": f"ds-{folder.name}", "sources": [str(folder)], "multiLabel": multi_label}},
    )
    return data["createDataset"]


async def item_ids(client: AsyncTestClient, dataset_id: int) -> list[int]:
    data = await gql(
        client, "query($d: Int!) { items(datasetId: $d, limit: 500) { items { id } } }", {"d": dataset_id}
    )
    return [item["id"] for item in data["items"]["items"]]


async def add_class(client: AsyncTestClient, dataset_id: int, name: str, **fields: Any) -> dict[str, Any]:
    data = await gql(
        client,
        """mutation($d: Int!, $name: String!, $color: String, $hotkey: String) {
             createClass(datasetId: $d, name: $name, color: $color, hotkey: $hotkey) {
               id datasetId name color hotkey position
             }
           }""",
        {"d": dataset_id, "name": name, **fields},
    )
    return data["createClass"]


TAG = """
mutation($d: Int!, $ids: [Int!]!, $label: Int, $op: TagOp! = SET, $kind: TagKind! = MANUAL, $params: JSON) {
  tag(datasetId: $d, itemIds: $ids, labelId: $label, op: $op, kind: $kind, parameters: $params) {
    id datasetId tagger kind tagCount parameters undoesEventId createdAt
  }
}
"""


async def tag(
    client: AsyncTestClient,
    dataset_id: int,
    ids: list[int],
    label_id: int | None,
    tagger: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    data = await gql(client, TAG, {"d": dataset_id, "ids": ids, "label": label_id, **more}, tagger=tagger)
    return data["tag"]


SNAPSHOT = """
query {
  datasets {
    id name multiLabel itemCount labeledCount unreadableCount updatedAt
    sources { id kind uri position hasApiKey }
    classes { id name color hotkey position }
    progress { total labeled unlabeled classes { id count } }
  }
}
"""


async def snapshot(client: AsyncTestClient) -> dict[str, Any]:
    """Everything a refused mutation must leave as it was: datasets, classes, labels, events."""
    state: dict[str, Any] = await gql(client, SNAPSHOT)
    for dataset in state["datasets"]:
        more = await gql(
            client,
            """query($d: Int!) {
                 labels(datasetId: $d) { itemId labelIds }
                 events(datasetId: $d, limit: 500) { total events { id kind tagCount } }
               }""",
            {"d": dataset["id"]},
        )
        state[str(dataset["id"])] = more
    return state


async def _add_items(database, dataset_id: int, count: int) -> None:
    """Items inserted directly (no image files): enough rows for the cost, made in a second."""
    async with database.session() as session:
        source_id = (
            await session.execute(
                insert(Source).values(dataset_id=dataset_id, kind="folder", uri="/x").returning(Source.id)
            )
        ).scalar_one()
        rows = [
            {"dataset_id": dataset_id, "source_id": source_id, "uri": f"{i}.png", "position": i}
            for i in range(count)
        ]
        for start in range(0, count, 20_000):
            await session.execute(insert(Item), rows[start : start + 20_000])
        await session.commit()
