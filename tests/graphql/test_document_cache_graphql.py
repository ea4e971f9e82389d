"""Documents are parsed and validated once per text, yet the cost limit still reads each request's
variables: a document that passed with a small dataset is refused with a large one."""

from __future__ import annotations

from pathlib import Path

from backend.api.graphql import documents
from backend.api.graphql.cost import MAX_COST
from tests.helpers.graphql import _add_items, create_dataset, gql, gql_error

FIVE = "query($d: Int!) { " + " ".join(f"a{i}: labels(datasetId: $d) {{ itemId }}" for i in range(5)) + " }"


async def test_a_remembered_document_is_still_costed_per_request(client, database, folder: Path):
    documents.clear()
    small = int((await create_dataset(client, folder / "small", count=2))["dataset"]["id"])
    large = int((await create_dataset(client, folder / "large", count=2))["dataset"]["id"])
    await _add_items(database, large, 50_000)
    assert await gql(client, FIVE, {"d": small}) == {f"a{i}": [] for i in range(5)}
    assert FIVE in documents._PARSED and any(key[1] == FIVE for key in documents._VALID)
    error = await gql_error(client, FIVE, {"d": large}, code="QUERY_TOO_COSTLY", fragments=("labels",))
    assert error["extensions"]["cost"] == 5 * 50_002 > MAX_COST


async def test_invalid_documents_are_never_remembered_as_valid(client):
    documents.clear()
    wrong = "{ datasets { id nosuchfield } }"
    for _ in range(2):
        await gql_error(client, wrong, code="GRAPHQL_VALIDATION_FAILED", fragments=("nosuchfield",))
    assert not any(key[1] == wrong for key in documents._VALID)
