"""Every GraphQL error has a machine-readable code; deep, alias-heavy and oversized requests are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from graphql import GraphQLError
from litestar.testing import AsyncTestClient

from backend.api.graphql.errors import classify
from backend.errors import NotFound
from backend.settings import Settings
from backend.storage.database import Database
from tests.helpers.graphql import (
    GRAPHQL,
    add_class,
    create_dataset,
    gql,
    gql_error,
    gql_response,
    item_ids,
    tag,
)


@asynccontextmanager
async def client_on(
    settings: Settings, database: Database, *, run_jobs: bool = True, **changes: Any
) -> AsyncIterator[AsyncTestClient]:
    """The real app on changed settings. It opens its own engine on the test database (asyncpg
    connections cannot cross to the test client's loop); ``database`` keeps the tables cleaned."""
    from backend.app import create_app

    app = create_app(settings.model_copy(update=changes), run_jobs=run_jobs)
    async with AsyncTestClient(app=app) as client:
        yield client


DEEP = "{ datasets { classes { id } } }"  # depth 2: the top-level field is depth 0
DEEPER = "query($d: Int!) { events(datasetId: $d) { events { tags { itemId } } } }"  # depth 3


async def test_a_query_deeper_than_the_setting_is_refused_before_it_runs(settings, database, folder: Path):
    async with client_on(settings, database, graphql_max_depth=2) as client:
        assert (await gql(client, DEEP))["datasets"] == []
        error = await gql_error(client, DEEPER, {"d": 1}, code="QUERY_TOO_DEEP", fragments=("depth of 2",))
        assert error["extensions"]["max_depth"] == 2
        # introspection is not counted, so tools can still read the schema
        assert await gql(
            client, "{ __schema { types { name fields { name type { name ofType { name } } } } } }"
        )


async def test_the_default_depth_limit_refuses_absurd_nesting(client, settings):
    depth = settings.graphql_max_depth + 1
    query = "{ " + "datasets { " * depth + "id" + " }" * depth + " }"
    body = await gql_response(client, query)
    assert body.get("data") is None
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert "QUERY_TOO_DEEP" in codes, body


async def test_too_many_aliases_are_refused(client):
    many = " ".join(f"a{i}: datasets {{ id }}" for i in range(40))
    error = await gql_error(client, "{ " + many + " }", code="TOO_MANY_ALIASES")
    assert error["extensions"]["max_aliases"] == 30
    assert await gql(client, "{ " + " ".join(f"a{i}: datasets {{ id }}" for i in range(5)) + " }")


async def test_small_page_cap_applies_to_every_paged_field(settings, database, folder: Path):
    async with client_on(settings, database) as setup:
        dataset = (await create_dataset(setup, folder, count=5))["dataset"]
        ids = await item_ids(setup, dataset["id"])
        cat = await add_class(setup, dataset["id"], "cat")
        event = await tag(setup, dataset["id"], ids, cat["id"])
    async with client_on(settings, database, max_page_size=3) as client:
        d = dataset["id"]
        items = "query($d: Int!, $l: Int!) { items(datasetId: $d, limit: $l) { items { id } } }"
        assert len((await gql(client, items, {"d": d, "l": 3}))["items"]["items"]) == 3
        error = await gql_error(client, items, {"d": d, "l": 4}, code="INVALID")
        assert error["extensions"]["max_limit"] == 3
        events = "query($d: Int!) { events(datasetId: $d, limit: 4) { total } }"
        assert (await gql_error(client, events, {"d": d}, code="INVALID"))["extensions"]["max_limit"] == 3
        tags = "query($e: Int!, $l: Int!) { event(id: $e) { tags(limit: $l) { itemId } } }"
        assert len((await gql(client, tags, {"e": event["id"], "l": 3}))["event"]["tags"]) == 3
        await gql_error(client, tags, {"e": event["id"], "l": 4}, code="INVALID", fragments=("at most 3",))
        await gql_error(client, "{ jobs(limit: 4) { total } }", code="INVALID")


async def test_parse_and_validation_errors_carry_codes(client):
    await gql_error(client, "{ datasets { id }", code="GRAPHQL_PARSE_FAILED")
    await gql_error(
        client, "{ datasets { nosuchfield } }", code="GRAPHQL_VALIDATION_FAILED", fragments=("nosuchfield",)
    )
    await gql_error(client, '{ dataset(id: "one") { id } }', code="GRAPHQL_VALIDATION_FAILED")
    await gql_error(
        client, "query($d: Int!) { dataset(id: $d) { id } }", {"d": "x"}, code="GRAPHQL_VALIDATION_FAILED"
    )


async def test_a_failing_field_names_its_path_and_code(client, folder: Path):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    query = f"{{ ok: dataset(id: {dataset['id']}) {{ name }} missing: item(id: 999999) {{ id }} }}"
    body = await gql_response(client, query)
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["missing"], "NOT_FOUND")]
    assert body["data"] is None  # 'item' is non-null: its error nulls the whole answer


async def test_an_unreachable_database_is_reported_as_such_without_internals(
    settings, database, tmp_path: Path
):
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    url = f"sqlite+aiosqlite:///{missing}"
    async with client_on(settings, database, run_jobs=False, database_url=url) as client:  # no startup query
        error = await gql_error(
            client, "{ datasets { id } }", code="DATABASE_UNAVAILABLE", fragments=("unavailable",)
        )
        assert "sqlite" not in error["message"].lower() and str(missing) not in str(error)


async def test_graphql_ide_is_not_served_from_a_cdn(client):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "cdn" not in response.text.lower() and "unpkg" not in response.text.lower()


async def test_requests_graphql_cannot_read_are_refused_in_the_graphql_error_shape(client):
    json_type = {"content-type": "application/json"}
    bad_json = await client.post("/graphql", content=b"{not json", headers=json_type)
    no_query = await client.post("/graphql", json={"variables": {}})
    get_mutation = await client.get("/graphql", params={"query": "mutation { deleteDataset(id: 1) }"})
    for response, fragment in ((bad_json, "json"), (no_query, "no graphql query"), (get_mutation, "get")):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/json")
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST" and fragment in error["message"].lower()
    via_get = await client.get("/graphql", params={"query": "{ datasets { id } }"})
    assert via_get.json() == {"data": {"datasets": []}}


def test_an_error_a_resolver_did_not_mean_is_logged_and_answered_without_internals(caplog):
    error = GraphQLError("secret path /srv/x.py", path=["datasets"], original_error=KeyError("secret"))
    classify(error)
    assert error.extensions == {"code": "INTERNAL"}
    assert "secret" not in error.message and "logged" in error.message
    assert any(record.exc_info for record in caplog.records if record.name == "labelwise.graphql")
    refused = GraphQLError("no", path=["dataset"], original_error=NotFound("dataset 7 does not exist", id=7))
    classify(refused)
    assert refused.extensions == {"code": "NOT_FOUND", "id": 7} and refused.message == "no"


CLASSES = "query($d: Int!) { classes(datasetId: $d) { name } }"


async def test_a_document_of_several_operations_needs_the_name_of_the_one_to_run(client, folder: Path):
    """GraphQL runs a document of several operations only with ``operationName`` (the spec: a
    request error). It ran the first one in silence: a script sending a file of a mutation and a
    query, meaning the query, labeled items."""
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    document = (
        'mutation AddClass($d: Int!) { createClass(datasetId: $d, name: "twice") { id } } '
        "query Classes($d: Int!) { classes(datasetId: $d) { name } }"
    )
    refused = await client.post(GRAPHQL, json={"query": document, "variables": {"d": dataset["id"]}})
    errors = refused.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["GRAPHQL_VALIDATION_FAILED"], errors
    assert "operationName" in errors[0]["message"] and "2 operations" in errors[0]["message"]
    assert (
        await gql(client, "query($d: Int!) { classes(datasetId: $d) { name } }", {"d": dataset["id"]})
    ) == {"classes": []}  # nothing ran
    named = await client.post(
        GRAPHQL, json={"query": document, "variables": {"d": dataset["id"]}, "operationName": "Classes"}
    )
    assert named.json() == {"data": {"classes": []}}
    added = await client.post(
        GRAPHQL, json={"query": document, "variables": {"d": dataset["id"]}, "operationName": "AddClass"}
    )
    assert added.json()["data"]["createClass"]["id"]
    # validated and remembered once named: still refused without the name
    again = await client.post(GRAPHQL, json={"query": document, "variables": {"d": dataset["id"]}})
    assert [e["extensions"]["code"] for e in again.json()["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert [c["name"] for c in (await gql(client, CLASSES, {"d": dataset["id"]}))["classes"]] == ["twice"]


def test_a_statement_the_database_refused_is_not_called_an_outage():
    """DATABASE_ERROR (a constraint, a bug: trying again will not mend it) and DATABASE_UNAVAILABLE
    (wait and try again) read differently, in GraphQL and REST alike; both said 'unavailable'."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from backend.api.errors import database_error_handler

    refused = IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))
    down = OperationalError("SELECT 1", {}, Exception("unable to open database file"))
    answers = {}
    for exc in (refused, down):
        error = GraphQLError("x", path=["createClass"], original_error=exc)
        classify(error)
        body = database_error_handler(None, exc).content  # type: ignore[arg-type]
        assert (body["code"], body["detail"]) == (error.extensions["code"], error.message)
        assert "INSERT" not in error.message and "SELECT" not in error.message
        answers[error.extensions["code"]] = error.message
    assert set(answers) == {"DATABASE_ERROR", "DATABASE_UNAVAILABLE"}
    assert "unavailable" in answers["DATABASE_UNAVAILABLE"] and "try again" in answers["DATABASE_UNAVAILABLE"]
    assert "unavailable" not in answers["DATABASE_ERROR"] and "refused" in answers["DATABASE_ERROR"]
