"""The Tiled browser fragment of the datasets page: walk containers, pick nodes; the key is only POSTed."""

from __future__ import annotations

import pytest

from backend.images.decode import FrameLimits
from backend.sources.tiled import TiledSource
from tests.helpers.rest import client_with  # noqa: F401
from tests.helpers.tiled import API_KEY
from tests.html import all_of, attr, csrf_field, parse, text_of

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


def _rows(html: str) -> dict[str, str]:
    """Each listed node's text by its name (the text after the node's name)."""
    rows = {}
    for li in all_of(parse(html), "//li[@data-family]"):
        words = text_of(li).replace("▦", "").replace("📁", "").split()
        rows[words[0]] = " ".join(words[1:])
    return rows


async def test_the_counts_are_what_adding_a_node_makes_under_the_frame_limits(
    client_with,  # noqa: F811 - the fixture imported above
    tiled_server,
):
    """A node of more frames than LABELWISE_MAX_FRAMES_PER_FILE was listed with all its frames as
    images, though adding it makes one unreadable item; the listing says so now, with the limit,
    as for frames too small a side. Its counts are what a scan of the node adds."""
    async with client_with(max_frames_per_file=2) as client:
        arrays = await _browse(client, f"{tiled_server.uri}/arrays")
        rows = _rows(arrays.text)
        assert rows["flat"].endswith("1 image")
        assert rows["stack"] == (
            "3×32×32 float32, no image: 3 frames, more than the limit of 2 per node "  # noqa: RUF001
            "(LABELWISE_MAX_FRAMES_PER_FILE): added as one unreadable item"
        )
        assert f"{tiled_server.uri}/arrays/stack" not in _picks(arrays.text)
        entry = await _browse(client, f"{tiled_server.uri}/hdf5/run/entry")
        assert _rows(entry.text)["data"].endswith(", 2 images")  # 2 frames: within the limit

    async with client_with(min_frame_side=30) as client:
        rows = _rows((await _browse(client, f"{tiled_server.uri}/hdf5/run/entry")).text)
        assert rows["data"].endswith(
            "no image: frames of 24x24 pixels, smaller than the limit of 30 a side "
            "(LABELWISE_MIN_FRAME_SIDE): metadata beside the images, skipped"
        )
        assert rows["img"].endswith(", 1 image")

    async with client_with(min_frame_side=50) as client:
        rows = _rows((await _browse(client, f"{tiled_server.uri}/arrays")).text)
        assert rows["flat"].endswith("of 50 a side (LABELWISE_MIN_FRAME_SIDE): added as one unreadable item")

    # what the listing counts is what a scan under the same limits adds
    limits = FrameLimits(max_frames=2, min_side=30)
    async with client_with(max_frames_per_file=2, min_frame_side=30) as client:
        for node in ("arrays", "hdf5/run/entry"):
            listed = _counts((await _browse(client, f"{tiled_server.uri}/{node}")).text)
            source = TiledSource(f"{tiled_server.uri}/{node}", API_KEY, 10**7, frame_limits=limits)
            scanned: dict[str, int] = {}
            for found in source.scan():
                scanned[found.uri] = scanned.get(found.uri, 0) + (found.error is None)
            assert {k: v for k, v in listed.items() if v} == {k: v for k, v in scanned.items() if v}


def _counts(html: str) -> dict[str, int]:
    """Images each listed array adds, by name, as the listing says ("<shape> float32, 3 images")."""
    counts = {}
    for name, row in _rows(html).items():
        said = row.split(", ", 1)[1].split() if ", " in row else []
        counts[name] = int(said[0]) if said and said[0].isdigit() else 0
    return counts
