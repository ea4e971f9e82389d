"""Signing in and out of the pages, API tokens, and who an event is recorded under."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from backend.accounts import service
from backend.accounts.passwords import hash_password, verify_password
from backend.accounts.ratelimit import FailureLimiter
from backend.api.access import SESSION_COOKIE
from backend.storage.account_tables import ApiToken, SignInSession, UserAccount
from tests.helpers.accounts import PASSWORD, csrf_headers
from tests.helpers.rest import add_class, create_dataset, item_ids
from tests.html import by_id, parse


async def _sign_in(client, name: str, password: str, next_: str = "/datasets"):
    headers = await csrf_headers(client)
    form = {"name": name, "password": password, "next": next_}
    return await client.post("/signin", data=form, headers=headers, follow_redirects=False)


def test_password_hashes_are_salted_scrypt_and_verify_only_the_right_password():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$16384$8$1$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "x", first)
    assert not verify_password(PASSWORD, None) and not verify_password(PASSWORD, "garbage")


async def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(client, accounts, session):
    response = await _sign_in(client, "admin-user", PASSWORD, next_="/jobs")
    assert response.status_code == 303 and response.headers["location"] == "/jobs"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test below
    value = client.cookies.get(SESSION_COOKIE)
    stored = (await session.execute(select(SignInSession.session_hash))).scalars().all()
    assert value not in stored and len(stored) == 1  # only the hash is kept
    page = await client.get("/datasets")
    assert (
        page.status_code == 200
        and "admin-user" in page.text
        and by_id(parse(page.text), "sign-out") is not None
    )
    me = await client.get("/api/v1/me")
    assert me.json() == {"name": "admin-user", "role": "admin", "accounts": True}

    out = await client.post("/signout", headers=await csrf_headers(client), follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    client.cookies.set(SESSION_COOKIE, value)  # a stolen copy of the old cookie no longer works
    assert (await client.get("/api/v1/me")).status_code == 401
    again = await client.get("/datasets", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/signin?next=%2Fdatasets"


async def test_the_cookie_is_secure_over_https(app, accounts):
    async with AsyncTestClient(app=app, base_url="https://labelwise.example") as client:
        response = await _sign_in(client, "admin-user", PASSWORD)
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


async def test_sign_in_never_redirects_to_another_site(client, accounts):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await _sign_in(client, "admin-user", PASSWORD, next_=target)
        assert response.headers["location"] == "/", target


async def test_wrong_passwords_are_rate_limited_with_retry_after(client, accounts):
    for _ in range(5):
        wrong = await _sign_in(client, "admin-user", "not the password")
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    limited = await _sign_in(client, "admin-user", PASSWORD)  # even the right one, for now
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many failed sign-ins" in limited.text
    assert client.cookies.get(SESSION_COOKIE) is None
    # Another user from the same address is not locked out by this one's failures.
    other = await _sign_in(client, "nobody-such", "whatever1")
    assert other.status_code == 401


def test_the_limiter_forgets_failures_after_the_window():
    now = [0.0]
    limiter = FailureLimiter(max_failures=2, window=60, clock=lambda: now[0])
    limiter.failed("k")
    limiter.failed("k")
    assert limiter.retry_after("k") == 60
    now[0] = 59.5
    assert limiter.retry_after("k") == 1
    now[0] = 60.5
    assert limiter.retry_after("k") is None


async def test_an_unknown_user_and_a_wrong_password_look_the_same(client, accounts):
    unknown = await _sign_in(client, "no-such-user", "whatever1")
    wrong = await _sign_in(client, "admin-user", "whatever1")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong name or password" in unknown.text and "Wrong name or password" in wrong.text


async def test_tokens_are_shown_once_stored_hashed_and_revocable(client, accounts, session):
    viewer = accounts["viewer"].headers
    created = await client.post("/api/v1/tokens", json={"label": "notebook"}, headers=viewer)
    assert created.status_code == 201, created.text
    secret, info = created.json()["token"], created.json()["info"]
    assert secret.startswith("lw_") and info["prefix"] == secret[:8]
    listed = await client.get("/api/v1/tokens", headers=viewer)
    assert secret not in listed.text and "notebook" in listed.text
    stored = (await session.execute(select(ApiToken.token_hash))).scalars().all()
    assert secret not in stored and all(len(h) == 64 for h in stored)

    mine = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/me", headers=mine)).json()["name"] == "viewer-user"
    revoked = await client.delete(f"/api/v1/tokens/{info['id']}", headers=viewer)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await client.get("/api/v1/me", headers=mine)
    assert after.status_code == 401 and after.json()["error"]["code"] == "UNAUTHENTICATED"
    # Someone else's token cannot be revoked by a non-admin (it is not even found).
    other = await client.delete(f"/api/v1/tokens/{info['id']}", headers=accounts["labeler"].headers)
    assert other.status_code == 404
    assert "of yours" in other.json()["error"]["message"]
    # An admin may revoke anyone's: a token that does not exist is not "of yours" to them.
    missing = await client.delete("/api/v1/tokens/999999", headers=accounts["admin"].headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no token 999999", missing.json()


async def test_a_made_up_token_is_refused_even_on_public_reads(client, accounts):
    bad = {"Authorization": "Bearer lw_made-up"}
    assert (await client.get("/api/v1/datasets", headers=bad)).status_code == 401
    assert (await client.get("/static/app/labelwise.css", headers=bad)).status_code == 200


async def test_the_account_page_creates_a_token_shown_once(client, accounts):
    await _sign_in(client, "admin-user", PASSWORD)
    headers = await csrf_headers(client)
    page = await client.post("/account/tokens", data={"label": "laptop"}, headers=headers)
    assert page.status_code == 200 and by_id(parse(page.text), "new-token-value") is not None
    assert page.headers["cache-control"] == "no-store"
    again = await client.get("/account")
    assert "laptop" in again.text and 'id="new-token-value"' not in again.text


async def test_events_carry_the_signed_in_user_never_the_tagger_header(client, accounts, folder):
    client.headers.update(accounts["admin"].headers)
    ds_id = (await create_dataset(client, folder, count=3))["dataset"]["id"]
    label = await add_class(client, ds_id, "a")
    items = await item_ids(client, ds_id)
    body = {"item_ids": items[:2], "label_id": label["id"]}
    labeler = {**accounts["labeler"].headers, "X-Labelwise-Tagger": "someone-else"}
    tagged = await client.post(f"/api/v1/datasets/{ds_id}/tags", json=body, headers=labeler)
    assert tagged.status_code == 201, tagged.text
    assert tagged.json()["tagger"] == "labeler-user"
    viewer = await client.post(
        f"/api/v1/datasets/{ds_id}/tags", json=body, headers=accounts["viewer"].headers
    )
    assert viewer.status_code == 403
    query = (
        "mutation($d: Int!, $i: [Int!]!, $l: Int) { tag(datasetId: $d, itemIds: $i, labelId: $l) { tagger } }"
    )
    variables = {"d": ds_id, "i": items[2:], "l": label["id"]}
    via_graphql = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=labeler
    )
    assert via_graphql.json() == {"data": {"tag": {"tagger": "labeler-user"}}}


async def test_admins_manage_users_and_the_last_admin_stays(client, accounts, session):
    admin = accounts["admin"].headers
    made = await client.post("/api/v1/users", json={"name": "newbie", "role": "viewer"}, headers=admin)
    assert made.status_code == 201 and made.json()["has_password"] is False
    promoted = await client.patch("/api/v1/users/newbie", json={"role": "trainer"}, headers=admin)
    assert promoted.json()["role"] == "trainer"
    bad = await client.patch("/api/v1/users/newbie", json={"role": "emperor"}, headers=admin)
    assert bad.status_code == 400 and "unknown role" in bad.json()["error"]["message"]
    last = await client.patch("/api/v1/users/admin-user", json={"role": "viewer"}, headers=admin)
    assert last.status_code == 409
    listed = await client.get("/api/v1/users", headers=admin)
    assert all("password" not in key or key == "has_password" for u in listed.json() for key in u)
    assert "scrypt" not in listed.text
    users = (await session.execute(select(UserAccount.name))).scalars().all()
    assert "newbie" in users


async def test_without_accounts_everything_runs_as_the_local_user(client):
    me = await client.get("/api/v1/me")
    assert me.json()["accounts"] is False and me.json()["role"] == "admin"
    page = await client.get("/signin")
    assert "runs without accounts" in page.text
    refused = await client.post("/api/v1/tokens", json={})
    assert refused.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
async def test_loopback_serves_without_accounts(session, settings, host):
    from backend.accounts.local import refuse_unsafe_bind

    await refuse_unsafe_bind(session, settings, host)


async def test_other_addresses_need_accounts(session, settings):
    from backend.accounts.local import refuse_unsafe_bind
    from backend.errors import Forbidden

    with pytest.raises(Forbidden, match="without accounts"):
        await refuse_unsafe_bind(session, settings, "0.0.0.0")
    await service.add_user(session, "boss", "admin", None)
    await refuse_unsafe_bind(session, settings, "0.0.0.0")


async def test_without_accounts_only_this_computer_is_answered(app):
    import httpx

    for host, expected in (("10.1.2.3", 403), ("127.0.0.1", 200), ("::1", 200)):
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://labelwise") as http:
            response = await http.get("/api/v1/datasets")
        assert response.status_code == expected, (host, response.text)
        if expected == 403:
            assert "answers this computer only" in response.json()["error"]["message"]


async def test_the_first_account_closes_the_doors_at_once(client):
    assert (await client.get("/api/v1/datasets")).status_code == 200  # local mode, remembered a moment
    made = await client.post("/api/v1/users", json={"name": "first", "role": "admin", "password": PASSWORD})
    assert made.status_code == 201
    assert (await client.get("/api/v1/datasets")).status_code == 401


async def test_a_session_ended_mid_labeling_signs_in_back_to_the_page_not_to_the_action(client, accounts):
    """HTMX posts a keypress to /datasets/1/label/tag, which only takes POST: sent back there after
    signing in, the person met a 405. The page that sent it is where they come back to."""
    headers = {
        **await csrf_headers(client),
        "hx-request": "true",
        "hx-current-url": "http://testserver.local/datasets/1/label?page=2",
    }
    tagged = await client.post("/datasets/1/label/tag", data={"items": "1", "label": "1"}, headers=headers)
    assert tagged.status_code == 401
    assert tagged.headers["hx-redirect"] == "/signin?next=%2Fdatasets%2F1%2Flabel%3Fpage%3D2"
    fragment = await client.get("/datasets/1/label/progress", headers=headers)
    assert fragment.headers["hx-redirect"] == "/signin?next=%2Fdatasets%2F1%2Flabel%3Fpage%3D2"
    form_headers = await csrf_headers(client)
    plain = await client.post("/datasets/1/label/tag", headers=form_headers, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/signin?next=%2F"
