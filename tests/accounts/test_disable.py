"""Disabling a user and admins' listing and revoking of anyone's tokens, through every door.

Issue 22: there was no way to disable a user, nor for an admin to list another user's tokens.
A disabled user's browser session and tokens must stop working at once, at every door.
"""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from backend.accounts import service
from backend.api.access import SESSION_COOKIE
from tests.helpers.accounts import PASSWORD, csrf_headers

API = "/api/v1"
ME = "{ users { name } }"


async def _sign_in(client, name: str, password: str) -> str:
    """Signs the client's browser in as ``name``; returns the session cookie.

    One client per test: the app's PostgreSQL connections belong to its event loop, and a second
    test client would run the app on another one.
    """
    headers = await csrf_headers(client)
    form = {"name": name, "password": password, "next": "/datasets"}
    response = await client.post("/signin", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies.get(SESSION_COOKIE)


def _browser_is(client, cookie: str) -> None:
    client.cookies.delete(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")


async def _doors(client, cookie: str, token: str) -> dict[str, int]:
    """What each door answers the user now: REST and GraphQL with the token, a page with the cookie."""
    bearer = {"Authorization": f"Bearer {token}"}
    rest = await client.get(f"{API}/me", headers=bearer)
    graphql = await client.post("/graphql", json={"query": "{ datasets { id } }"}, headers=bearer)
    _browser_is(client, cookie)
    page = await client.get("/datasets", follow_redirects=False)
    return {"rest": rest.status_code, "graphql": graphql.status_code, "page": page.status_code}


@pytest.mark.parametrize("door", ["rest", "graphql", "page"])
async def test_a_disabled_user_is_refused_at_every_door_at_once(client, accounts, session, door):
    await service.add_user(session, "dora", "labeler", PASSWORD)
    dora = await service.get_user(session, "dora")
    assert dora.id is not None
    _row, token = await service.create_token(session, dora.id, "notebook")
    browser = await _sign_in(client, "dora", PASSWORD)
    assert await _doors(client, browser, token) == {"rest": 200, "graphql": 200, "page": 200}
    admin = accounts["admin"].headers
    if door == "rest":
        done = await client.post(f"{API}/users/dora/disable", headers=admin)
        assert done.status_code == 200 and done.json()["active"] is False, done.text
    elif door == "graphql":
        query = 'mutation { disableUser(name: "dora") { name active } }'
        done = await client.post("/graphql", json={"query": query}, headers=admin)
        assert done.json() == {"data": {"disableUser": {"name": "dora", "active": False}}}
    else:
        _browser_is(client, await _sign_in(client, accounts["admin"].name, PASSWORD))
        headers = {**await csrf_headers(client), "HX-Request": "true"}
        done = await client.post("/admin/users/dora/disable", headers=headers)
        assert done.status_code == 200 and "dora is disabled" in done.text
    assert await _doors(client, browser, token) == {"rest": 401, "graphql": 401, "page": 303}
    again = await client.post(
        "/signin",
        data={"name": "dora", "password": PASSWORD, "next": "/"},
        headers=await csrf_headers(client),
        follow_redirects=False,
    )
    assert again.status_code == 401 and client.cookies.get(SESSION_COOKIE) == browser  # no new session

    enabled = await client.post(f"{API}/users/dora/enable", headers=admin)
    assert enabled.json()["active"] is True
    after = await _doors(client, browser, token)
    assert after["rest"] == 200 and after["graphql"] == 200  # the kept token works again
    assert after["page"] == 303  # the session ended for good: sign in again


async def test_only_admins_disable_and_the_last_admin_stays(client, accounts):
    for role in ("viewer", "labeler", "trainer"):
        headers = accounts[role].headers
        rest = await client.post(f"{API}/users/labeler-user/disable", headers=headers)
        assert rest.status_code == 403, role
        query = 'mutation { disableUser(name: "labeler-user") { active } }'
        gql = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert gql["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
        assert (await client.get("/admin/users", headers=headers)).status_code == 403, role
    last = await client.post(f"{API}/users/admin-user/disable", headers=accounts["admin"].headers)
    assert last.status_code == 409 and "last admin" in last.text
    missing = await client.post(f"{API}/users/nobody/disable", headers=accounts["admin"].headers)
    assert missing.status_code == 404


async def test_admins_list_and_revoke_anyones_tokens_through_rest_graphql_and_pages(client, accounts):
    admin = accounts["admin"].headers
    labeler = accounts["labeler"]
    bearer = labeler.headers
    listed = await client.get(f"{API}/users/labeler-user/tokens", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [(t["user"], t["label"]) for t in listed.json()] == [("labeler-user", "tests")]
    assert labeler.token not in listed.text and listed.json()[0]["prefix"] == labeler.token[:8]
    query = '{ apiTokens(user: "labeler-user") { id user prefix revokedAt } }'
    gql = (await client.post("/graphql", json={"query": query}, headers=admin)).json()
    assert gql["data"]["apiTokens"][0]["prefix"] == labeler.token[:8] and labeler.token not in str(gql)
    everyone = (
        await client.post("/graphql", json={"query": "{ apiTokens(all: true) { user } }"}, headers=admin)
    ).json()
    assert {t["user"] for t in everyone["data"]["apiTokens"]} == {a.name for a in accounts.values()}
    # Non-admins see their own tokens only.
    own = (await client.post("/graphql", json={"query": "{ apiTokens { user } }"}, headers=bearer)).json()
    assert own["data"]["apiTokens"] == [{"user": "labeler-user"}]
    query_other = '{ apiTokens(user: "admin-user") { prefix } }'
    other = (await client.post("/graphql", json={"query": query_other}, headers=bearer)).json()
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await client.get(f"{API}/users/admin-user/tokens", headers=bearer)).status_code == 403

    token_id = listed.json()[0]["id"]
    await _sign_in(client, accounts["admin"].name, PASSWORD)
    page = await client.get("/admin/users")
    assert page.status_code == 200 and labeler.token[:8] in page.text and labeler.token not in page.text
    headers = {**await csrf_headers(client), "HX-Request": "true"}
    revoked = await client.post(f"/admin/tokens/{token_id}/revoke", headers=headers)
    assert revoked.status_code == 200 and "is revoked" in revoked.text
    assert (await client.get(f"{API}/me", headers=bearer)).status_code == 401

    # The trainer's token, revoked by an admin over GraphQL.
    trainer = accounts["trainer"]
    rows = (await client.get(f"{API}/users/trainer-user/tokens", headers=admin)).json()
    mutation = f"mutation {{ revokeToken(id: {rows[0]['id']}) {{ user revokedAt }} }}"
    done = (await client.post("/graphql", json={"query": mutation}, headers=admin)).json()
    assert done["data"]["revokeToken"]["user"] == "trainer-user" and done["data"]["revokeToken"]["revokedAt"]
    assert (await client.get(f"{API}/me", headers=trainer.headers)).status_code == 401


def test_the_command_line_disables_enables_lists_and_revokes(run_cli, settings):
    from backend.app import create_app

    run_cli("user", "add", "root", "--role", "admin", "--no-password")
    run_cli("user", "add", "carl", "--role", "labeler", "--no-password")
    token = run_cli("token", "create", "carl", "--label", "cron").stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(app=create_app(settings, run_jobs=False)) as client:
        assert client.get(f"{API}/me", headers=bearer).status_code == 200
        assert "disabled" in run_cli("user", "disable", "carl").output
        assert "(disabled)" in run_cli("user", "list").output
        assert client.get(f"{API}/me", headers=bearer).status_code == 401
        assert "last admin" in run_cli("user", "disable", "root", ok=False).output
        run_cli("user", "enable", "carl")
        assert client.get(f"{API}/me", headers=bearer).status_code == 200
        listing = run_cli("token", "list", "carl").output
        assert token[:8] in listing and token not in listing and "cron" in listing
        token_id = listing.split()[0]
        assert "revoked" in run_cli("token", "revoke", token_id).output
        assert client.get(f"{API}/me", headers=bearer).status_code == 401
        assert "revoked" in run_cli("token", "list").output


async def test_a_disabled_users_token_is_not_called_mistyped_alone(client, accounts, session):
    """A script whose user an admin disabled read "revoked, or mistyped": its owner looked for a
    typo. The refusal names the disabled user among its causes, at REST and GraphQL."""
    await service.add_user(session, "dina", "labeler", PASSWORD)
    dina = await service.get_user(session, "dina")
    assert dina.id is not None
    _row, token = await service.create_token(session, dina.id, "notebook")
    done = await client.post(f"{API}/users/dina/disable", headers=accounts["admin"].headers)
    assert done.status_code == 200, done.text
    bearer = {"Authorization": f"Bearer {token}"}
    rest = await client.get(f"{API}/me", headers=bearer)
    assert rest.status_code == 401 and "user disabled" in rest.json()["detail"]
    graphql = await client.post("/graphql", json={"query": "{ datasets { id } }"}, headers=bearer)
    assert graphql.status_code == 401 and "user disabled" in graphql.json()["errors"][0]["message"]
