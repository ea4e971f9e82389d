"""GraphQL's cost limit: nested pages multiply, aliases add up; refused before anything runs."""

from __future__ import annotations

from backend.api.graphql.cost import MAX_COST, document_cost
from backend.api.graphql.schema import get_schema
from tests.helpers.graphql import gql, gql_response

NESTED = "{ events(datasetId: 1, limit: 500) { events { tags(limit: 500) { itemId } } } }"


def _cost(query: str, variables: dict | None = None) -> int:
    from graphql import parse

    return document_cost(get_schema()._schema, parse(query), variables)


def test_cost_multiplies_nested_pages_and_reads_defaults_and_variables():
    assert _cost(NESTED) == 500 + 500 * 500
    assert _cost("{ events(datasetId: 1) { events { tags { itemId } } } }") == 50 + 50 * 100
    query = "query($n: Int!) { events(datasetId: 1, limit: $n) { total } }"
    assert _cost(query, {"n": 7}) == 7
    fragment = "fragment T on TagEvent { tags(limit: 10) { itemId } } "
    assert _cost(fragment + "{ events(datasetId: 1, limit: 3) { events { ...T } } }") == 3 + 30
    assert _cost("{ datasets { id } }") == 0
    assert _cost("{ projection(modelId: 1) { total } }") == 500  # counted at the page cap


async def test_a_too_costly_document_is_refused_with_its_figures(client):
    body = await gql_response(client, NESTED)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 250500, "max_cost": MAX_COST}
    aliased = (
        "{ "
        + " ".join(
            f"a{i}: events(datasetId: 1, limit: 500) {{ events {{ tags(limit: 20) {{ itemId }} }} }}"
            for i in range(25)
        )
        + " }"
    )
    [error] = (await gql_response(client, aliased))["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"  # 25 x (500 + 500 x 20)
    # One page over its cap is that field's own error, which names the limit.
    [error] = (await gql_response(client, "{ events(datasetId: 1, limit: 1000000) { total } }"))["errors"]
    assert error["extensions"]["code"] == "INVALID" and "limit" in error["message"]


async def test_ordinary_queries_are_within_the_cost(client):
    assert await gql(client, "{ datasets { id name } }") == {"datasets": []}
