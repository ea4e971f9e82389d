"""The Tiled browser fragment of the datasets page: walk containers, pick nodes; the key is only POSTed."""

from __future__ import annotations

import pytest

from tests.helpers.tiled import API_KEY
from tests.html import all_of, attr, csrf_field, parse

pytestmark = pytest.mark.tiled
HX = {"HX-Request": "true"}


async def _token(client) -> str:
    page = await client.get("/datasets")
    return csrf_field(page.text)


def _picks(html: str) -> list[str]:
    """The node URIs the fragment offers to pick (a checkbox each)."""
    return [attr(box, "value") for box in all_of(parse(html), "//input[@type='checkbox'][@value]")]


async def _browse(client, uri: str, key: str | None = API_KEY, token: str | None = None):
    form = {"uri": uri, "_csrf_token": token if token is not None else await _token(client)}
    if key is not None:
        form["api_key"] = key
    return await client.post("/tiled/browse", data=form, headers=HX)


async def test_the_browser_walks_containers_and_offers_nodes_to_pick(client, tiled_server):
    top = await _browse(client, tiled_server.uri)
    assert top.status_code == 200, top.text
    assert API_KEY not in top.text
    for name in ("arrays", "images", "hdf5", "big"):
        assert f"{tiled_server.uri}/{name}" in _picks(top.text)  # a checkbox per container
    assert "↑ Up" not in top.text  # the server's root has no parent
    arrays = await _browse(client, f"{tiled_server.uri}/arrays")
    assert "3×32×32 float32, 3 images" in arrays.text  # noqa: RUF001 - the page writes shapes so
    assert "48×64 float32, 1 image" in arrays.text  # noqa: RUF001
    folders = [attr(e, "data-pick-folder") for e in all_of(parse(arrays.text), "//*[@data-pick-folder]")]
    assert f"{tiled_server.uri}/arrays" in folders and "↑ Up" in arrays.text
    assert API_KEY not in arrays.text
    entry = await _browse(client, f"{tiled_server.uri}/hdf5/run/entry")
    assert "10 float64, not an image" in entry.text  # 1-D arrays are listed but cannot be picked
    assert f'value="{tiled_server.uri}/hdf5/run/entry/time"' not in entry.text
    assert f"{tiled_server.uri}/hdf5/run/entry/time" not in _picks(entry.text)


async def test_the_panel_never_renders_a_key_and_refusals_name_the_source(client, tiled_server, caplog):
    panel = await client.get("/tiled/browse", params={"uri": ""}, headers=HX)
    assert panel.status_code == 200
    wrong = await _browse(client, tiled_server.uri, key="wrongkey42")
    assert wrong.status_code == 403 and tiled_server.uri in wrong.text and "wrongkey42" not in wrong.text
    public = await client.get("/tiled/browse", params={"uri": tiled_server.uri}, headers=HX)
    assert public.status_code == 403 and "needs an API key" in public.text
    unreachable = await _browse(client, "tiled+http://127.0.0.1:9/x")
    assert unreachable.status_code == 502 and "unreachable" in unreachable.text
    no_token = await _browse(client, tiled_server.uri, token="")
    assert no_token.status_code == 403 and "arrays" not in no_token.text
    assert API_KEY not in caplog.text and "wrongkey42" not in caplog.text
