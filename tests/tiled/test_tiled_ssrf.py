"""The server asks Tiled servers only for admins, only allowed hosts, boundedly, and echoes no bodies.

Issue 22: ``GET /tiled/browse`` was open to viewers, echoed the first 200 characters of internal
3xx/4xx answers (a port scanner with a preview), and a server that pages forever kept a thread busy.
"""

from __future__ import annotations

import math

import pytest

from backend.errors import Forbidden
from backend.sources.tiled import TiledSource, check_tiled_host, parse_tiled_uri
from tests.helpers.accounts import accounts, csrf_headers  # noqa: F401  (fixture used here)
from tests.helpers.rest import API, assert_error, client_with  # noqa: F401  (fixture used here)
from tests.helpers.tiled import API_KEY
from tests.html import all_of, by_id, parse
from tests.tiled.misbehaving import INTERNAL, MisbehavingTiled

pytestmark = pytest.mark.tiled
HX = {"HX-Request": "true"}


def test_the_allowlist_matches_host_and_port_as_written():
    def allowed(uri: str, hosts: str) -> bool:
        try:
            check_tiled_host(parse_tiled_uri(uri)[0], hosts)
        except Forbidden:
            return False
        return True

    assert not allowed("tiled+http://127.0.0.1:8000/x", "")  # the default: no Tiled host at all
    assert allowed("tiled+http://127.0.0.1:8000/x", "127.0.0.1")  # a host alone: any port
    assert allowed("tiled+http://127.0.0.1:8000/x", "tiled.lab, 127.0.0.1:8000")
    assert not allowed("tiled+http://127.0.0.1:22/x", "127.0.0.1:8000")  # no port scanning
    assert allowed("https://Tiled.Lab/api/v1/metadata/a", "tiled.lab:443")  # the scheme's port
    assert not allowed("http://tiled.lab/a", "tiled.lab:443")
    for disguised in ("http://2130706433/x", "http://127.1/x", "http://0x7f.0.0.1/x", "http://[::1]/x"):
        assert not allowed(disguised, "127.0.0.1"), disguised
    assert allowed("tiled+http://anything.example:9/x", "*")
    assert not allowed("tiled+http://127.0.0.1:8000/x", "127.0.0.1:notaport")


async def test_only_admins_may_browse_tiled(client, accounts, tiled_server):  # noqa: F811
    for role in ("viewer", "labeler", "trainer"):
        headers = accounts[role].headers
        got = await client.get("/tiled/browse", params={"uri": tiled_server.uri}, headers={**headers, **HX})
        assert got.status_code == 403 and "needs the admin role" in got.text, (role, got.text[:300])
        posted = await client.post(
            "/tiled/browse",
            data={"uri": tiled_server.uri, "api_key": API_KEY},
            headers={**headers, **HX, **await csrf_headers(client)},
        )
        assert posted.status_code == 403 and "arrays" not in posted.text, role
    admin = {**accounts["admin"].headers, **HX, **await csrf_headers(client)}
    listed = await client.post(
        "/tiled/browse", data={"uri": tiled_server.uri, "api_key": API_KEY}, headers=admin
    )
    assert listed.status_code == 200 and f"{tiled_server.uri}/arrays" in listed.text


async def test_a_host_not_allowed_is_never_asked_through_any_door(client_with):  # noqa: F811
    with MisbehavingTiled() as server:
        async with client_with(tiled_hosts="127.0.0.1:1, tiled.example.org") as client:
            page = await client.get("/tiled/browse", params={"uri": server.uri}, headers=HX)
            assert page.status_code == 403 and "LABELWISE_TILED_HOSTS" in page.text
            body = {"name": "scan", "sources": [server.uri]}
            assert_error(
                await client.post(f"{API}/datasets", json=body), 403, "FORBIDDEN", "LABELWISE_TILED_HOSTS"
            )
            query = 'mutation { createDataset(input: {name: "g", sources: ["%s"]}) { dataset { id } } }'
            answer = (await client.post("/graphql", json={"query": query % server.uri})).json()
            assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
        assert server.requests == 0


async def test_unexpected_answers_give_their_status_never_their_body(client_with):  # noqa: F811
    key = "tiledKEYwhosePrefixWouldSurviveACut"
    assert len(f"{INTERNAL} {'x' * 157}auth=Apikey ") == 194  # the body straddles the old 200 cut
    with MisbehavingTiled() as server:
        async with client_with(tiled_hosts=server.netloc) as client:
            headers = {**HX, **await csrf_headers(client)}
            for node, status in (("redirect", 302), ("teapot", 418)):
                page = await client.post(
                    "/tiled/browse", data={"uri": f"{server.uri}/{node}", "api_key": key}, headers=headers
                )
                assert page.status_code == 400 and f"HTTP {status}" in page.text, page.text[:500]
                assert INTERNAL not in page.text and "10.0.0.1" not in page.text
                assert key[:6] not in page.text  # not the key, nor what a cut would have left of it
        # The adapter's own message (logged, shown by the CLI) holds no body either.
        source = TiledSource(f"{server.uri}/teapot", key, 10**6)
        with pytest.raises(Exception) as info:
            source.node()
        assert INTERNAL not in str(info.value) and key[:6] not in str(info.value)


async def test_a_server_that_pages_forever_is_listed_boundedly(client_with):  # noqa: F811
    with MisbehavingTiled() as server:
        async with client_with(tiled_hosts=server.netloc, tiled_browse_max_items=250) as client:
            page = await client.get("/tiled/browse", params={"uri": server.uri}, headers=HX)
            assert page.status_code == 200 and by_id(parse(page.text), "tiled-truncated") is not None
            assert len(all_of(parse(page.text), "//*[@class='tiled-pick']")) == 250
        # One metadata request and the pages that 250 children take; the listing is over when the
        # answer is sent, so nothing asks the server afterwards.
        assert server.requests == 1 + math.ceil(250 / 100)


async def test_a_slow_endless_server_is_given_up_on_at_the_deadline(client_with):  # noqa: F811
    with MisbehavingTiled(delay=0.2) as server:
        async with client_with(tiled_hosts=server.netloc, tiled_browse_seconds=1.0) as client:
            page = await client.get("/tiled/browse", params={"uri": server.uri}, headers=HX)
            assert page.status_code == 502 and "stopped asking" in page.text, page.text[:500]
        asked = server.requests
        assert asked < 1 + 1.0 / 0.2 + 2  # it stopped at the deadline, not at the item cap (10 pages)
        assert server.requests == asked


def test_a_scan_of_an_endless_server_stops_at_the_node_cap():
    from backend.errors import Invalid
    from backend.sources.tiled import ListingLimits

    with MisbehavingTiled() as server:
        source = TiledSource(server.uri, None, 10**6, limits=ListingLimits(max_nodes=450))
        with pytest.raises(Invalid, match="more than 450 nodes"):
            list(source.scan())
        assert server.requests <= 1 + 5 + 1
