"""Sign-in lockout per account and address; X-Forwarded-For believed only from trusted proxies.

Issue 22: failures were also counted per address alone, so behind a proxy (one address for all)
30 wrong passwords locked every user out.
"""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from backend.accounts.addresses import client_address
from tests.helpers.accounts import PASSWORD, csrf_headers


async def _sign_in(client, name: str, password: str, forwarded: str | None = None):
    headers = await csrf_headers(client)
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    form = {"name": name, "password": password, "next": "/"}
    return await client.post("/signin", data=form, headers=headers, follow_redirects=False)


async def test_many_failures_from_one_address_do_not_lock_out_other_accounts(client, accounts):
    for n in range(8):  # 40 failures from this address, 5 per name: each of those names is locked
        for _ in range(5):
            assert (await _sign_in(client, f"guess-{n}", "wrong password")).status_code == 401
    assert (await _sign_in(client, "guess-0", "wrong password")).status_code == 429
    signed_in = await _sign_in(client, accounts["admin"].name, PASSWORD)
    assert signed_in.status_code == 303, signed_in.text[:300]


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy():
    assert client_address("10.0.0.2", "203.0.113.5", "") == "10.0.0.2"  # no proxy trusted
    assert client_address("198.51.100.7", "203.0.113.5", "10.0.0.0/8") == "198.51.100.7"  # not our proxy
    assert client_address("10.0.0.2", "203.0.113.5", "10.0.0.0/8") == "203.0.113.5"
    # A client that writes its own header first cannot pose as another: read from the right.
    assert client_address("10.0.0.2", "192.0.2.1, 203.0.113.5, 10.0.0.3", "10.0.0.0/8") == "203.0.113.5"
    assert client_address("10.0.0.2", "garbage", "10.0.0.0/8") == "garbage"  # what the proxy said
    assert client_address(None, None, "10.0.0.0/8") == "?"


async def test_behind_a_trusted_proxy_one_client_is_locked_not_the_others(app, accounts):
    app.state.settings = app.state.settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})

    async def via_proxy(scope, receive, send):  # the peer every request has behind the proxy
        if scope["type"] == "http":
            scope = {**scope, "client": ("10.0.0.2", 40000)}
        await app(scope, receive, send)

    async with AsyncTestClient(app=via_proxy) as client:
        admin = accounts["admin"].name
        for _ in range(5):
            assert (await _sign_in(client, admin, "wrong password", "203.0.113.5")).status_code == 401
        assert (await _sign_in(client, admin, PASSWORD, "203.0.113.5")).status_code == 429
        other = await _sign_in(client, admin, PASSWORD, "203.0.113.9")
        assert other.status_code == 303, other.text[:300]
        # Without the header the proxy's own address is used: another key again.
        assert (await _sign_in(client, admin, PASSWORD)).status_code == 303
