"""Every route of the real app and every GraphQL mutation needs its role: walked, not listed.

The walk reads ``app.routes`` and the schema's Mutation type, so an endpoint added tomorrow is in
these tests without an edit; it gets the default role of its method unless it declares another.
"""

from __future__ import annotations

import re

import pytest

from backend.accounts.roles import (
    ADMIN,
    LABELER,
    MUTATION_ROLES,
    PUBLIC,
    ROUTE_ROLES,
    TRAINER,
    VIEWER,
    mutation_role,
    path_template,
    role_below,
    route_role,
)
from backend.api.graphql.schema import get_schema
from tests.helpers.accounts import csrf_headers

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _concrete(path: str) -> str:
    """A real URL for a route template: ids that do not exist, names that do not either."""
    return _PARAM.sub(lambda m: "987654" if m.group(2) == "int" else "no-such-thing", path)


def app_routes(app) -> list[tuple[str, str, str]]:
    """(method, path template, role needed) for every handler of the app but CORS preflights."""
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method == "OPTIONS":
                    continue
                rows.append((method, route.path, route_role(method, route.path, handler.opt)))
    return sorted(set(rows))


def mutation_fields() -> list[str]:
    mutation = get_schema()._schema.mutation_type
    assert mutation is not None
    return sorted(mutation.fields)


def _is_role_refusal(response, needed: str) -> bool:
    """A 403 from the role check (not from CSRF or a domain rule): it names the role."""
    return response.status_code == 403 and f"needs the {needed} role" in response.text


async def _call(client, method: str, url: str, headers: dict[str, str]):
    kwargs: dict = {"headers": headers, "follow_redirects": False}
    if method in WRITE_METHODS:
        kwargs["json"] = {}  # a body the handlers refuse (400) once the guard lets the call in
    return await client.request(method, url, **kwargs)


def test_the_walk_sees_the_app_and_the_known_elevated_endpoints(app):
    """Guards the walk itself: it must see every door and every declared role."""
    routes = app_routes(app)
    paths = {path_template(p) for _m, p, _r in routes}
    assert {"/api/v1/datasets", "/graphql", "/datasets/{dataset_id}/label/tag", "/signin"} <= paths
    declared = {(m, path_template(p)): r for m, p, r in routes}
    for key, role in ROUTE_ROLES.items():
        assert declared.get(key) == role, f"{key} is in ROUTE_ROLES but no such route exists"
    assert set(MUTATION_ROLES) <= set(mutation_fields())


def test_writes_default_to_labeler_and_reads_to_viewer():
    assert route_role("POST", "/api/v1/brand-new/{x:int}") == LABELER
    assert route_role("DELETE", "/brand-new") == LABELER
    assert route_role("GET", "/brand-new") == VIEWER
    assert route_role("POST", "/api/v1/jobs") == TRAINER
    assert route_role("POST", "/api/v1/datasets") == ADMIN
    assert mutation_role("brandNewMutation") == LABELER
    assert route_role("OPTIONS", "/anything") == PUBLIC


def test_the_inference_form_needs_a_trainer_at_both_its_addresses(app):
    """The model page's form posts to /models/N (it posted to /models/N/infer, still served): a
    write there is not left to the labeler default."""
    declared = {(m, path_template(p)): r for m, p, r in app_routes(app)}
    assert declared[("POST", "/models/{model_id}")] == TRAINER
    assert declared[("POST", "/models/{model_id}/infer")] == TRAINER


async def test_every_route_refuses_strangers_and_roles_below_its_own(app, client, accounts):
    csrf = await csrf_headers(client)  # pages' writes carry it, so the role check is what refuses
    routes = app_routes(app)
    assert len(routes) > 60
    checked = 0
    for method, path, needed in routes:
        if needed == PUBLIC:
            continue
        url = _concrete(path)
        page = not (path.startswith("/api/") or path.startswith("/graphql"))
        extra = csrf if page and method in WRITE_METHODS else {}

        anonymous = await _call(client, method, url, extra)
        if page:  # a browser is sent to the sign-in page
            assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin"), (
                method,
                path,
                anonymous.status_code,
            )
        else:
            assert anonymous.status_code == 401, (method, path, anonymous.status_code, anonymous.text[:200])

        weaker = role_below(needed)
        if weaker is not None:
            refused = await _call(client, method, url, {**extra, **accounts[weaker].headers})
            assert _is_role_refusal(refused, needed), (
                method,
                path,
                weaker,
                refused.status_code,
                refused.text[:300],
            )

        allowed = await _call(client, method, url, {**extra, **accounts[needed].headers})
        assert allowed.status_code != 401 and not _is_role_refusal(allowed, needed), (
            method,
            path,
            needed,
            allowed.status_code,
            allowed.text[:300],
        )
        assert allowed.status_code < 500, (method, path, allowed.status_code, allowed.text[:300])
        checked += 1
    assert checked > 50


async def test_viewers_are_refused_every_write(app, client, accounts):
    """The issue's rule in one line each: no REST or page write is open to a viewer."""
    csrf = await csrf_headers(client)
    for method, path, needed in app_routes(app):
        if method not in WRITE_METHODS or needed in (PUBLIC, VIEWER):
            continue
        extra = csrf if not path.startswith(("/api/", "/graphql")) else {}
        response = await _call(client, method, _concrete(path), {**extra, **accounts["viewer"].headers})
        assert _is_role_refusal(response, needed), (method, path, response.status_code)


async def _gql(client, query: str, headers: dict[str, str]):
    return await client.post("/graphql", json={"query": query}, headers=headers)


@pytest.mark.parametrize("field", mutation_fields())
async def test_every_mutation_needs_its_role(client, accounts, field):
    needed = mutation_role(field)
    query = f"mutation {{ {field} }}"  # refused by role before validation looks at arguments
    anonymous = await _gql(client, query, {})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for role in ("viewer", "labeler", "trainer", "admin"):
        response = await _gql(client, query, accounts[role].headers)
        body = response.json()
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        if role_rank(role) < role_rank(needed):
            assert codes == ["FORBIDDEN"], (field, role, body)
            assert response.status_code == 403 and body.get("data") is None  # refused whole: not a 200
        else:
            assert "FORBIDDEN" not in codes and codes, (field, role, body)  # refused later: no arguments
            assert response.status_code == 200  # invalid arguments: a GraphQL error, not an access one


def role_rank(role: str) -> int:
    return ["viewer", "labeler", "trainer", "admin"].index(role)


async def test_mutations_hidden_in_fragments_and_aliases_are_checked_too(client, accounts):
    viewer = accounts["viewer"].headers
    sneaky = [
        "mutation { x: deleteDataset(id: 1) }",
        "mutation { ... on Mutation { deleteDataset(id: 1) } }",
        "fragment F on Mutation { deleteDataset(id: 1) } mutation { ...F }",
    ]
    for query in sneaky:
        body = (await _gql(client, query, viewer)).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], (query, body)
    two = "query Q { datasets { id } } mutation M { deleteDataset(id: 1) }"
    chosen = await client.post("/graphql", json={"query": two, "operationName": "M"}, headers=viewer)
    assert [e["extensions"]["code"] for e in chosen.json()["errors"]] == ["FORBIDDEN"]
    labeler = accounts["labeler"].headers
    body = (await _gql(client, "mutation { deleteDataset(id: 1) }", labeler)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # admin only


async def test_queries_need_a_viewer(client, accounts):
    assert (await _gql(client, "{ datasets { id } }", {})).status_code == 401
    body = (await _gql(client, "{ datasets { id } }", accounts["viewer"].headers)).json()
    assert body == {"data": {"datasets": []}}
