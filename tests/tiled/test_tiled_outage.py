"""The Tiled server stops mid-session: cached thumbnails and labels stay, new reads fail clearly,
nothing is lost or marked broken, and reads work again once it is back."""

from __future__ import annotations

import pytest

from tests.helpers.rest import API, add_class, assert_error, tag
from tests.helpers.tiled import API_KEY, ITEM_COUNT

pytestmark = pytest.mark.tiled


async def test_a_stopped_tiled_server_loses_nothing_and_reads_resume_when_it_is_back(client, tiled_server):
    server = tiled_server  # the session's server, stopped and started again on the same port
    body = {"name": "beamline", "sources": [server.uri], "api_keys": {server.uri: API_KEY}}
    created = await client.post(f"{API}/datasets", json=body)
    assert created.status_code == 201, created.text
    dataset_id = created.json()["dataset"]["id"]
    items = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()["items"]
    ids = [i["id"] for i in items]
    assert len(ids) == ITEM_COUNT
    thumbs = {}
    for item_id in ids[:3]:
        response = await client.get(f"{API}/items/{item_id}/image", params={"size": 24})
        assert response.status_code == 200, response.text
        thumbs[item_id] = response.content
    ring = await add_class(client, dataset_id, "ring")
    await tag(client, dataset_id, ids[:2], ring["id"])

    server.stop()
    try:
        await _while_stopped(client, server, dataset_id, ids, thumbs, ring["id"])
    finally:
        server.start()

    back = await client.get(f"{API}/items/{ids[5]}/image", params={"size": 24})
    assert back.status_code == 200 and back.headers["content-type"] == "image/png"
    rescanned = await client.post(f"{API}/datasets/{dataset_id}/rescan")
    assert rescanned.status_code == 200 and rescanned.json()["missing"] == 0


async def _while_stopped(client, server, dataset_id: int, ids: list[int], thumbs: dict, ring: int) -> None:
    for item_id, png in thumbs.items():  # cached thumbnails are still shown
        response = await client.get(f"{API}/items/{item_id}/image", params={"size": 24})
        assert response.status_code == 200 and response.content == png
    uncached = await client.get(f"{API}/items/{ids[5]}/image", params={"size": 24})
    assert_error(uncached, 502, "SOURCE_UNAVAILABLE", server.uri, "unreachable")
    assert_error(await client.get(f"{API}/items/{ids[0]}/image"), 502, "SOURCE_UNAVAILABLE", server.uri)
    rescan = await client.post(f"{API}/datasets/{dataset_id}/rescan")
    assert_error(rescan, 502, "SOURCE_UNAVAILABLE", server.uri)
    await tag(client, dataset_id, ids[2:3], ring)  # labeling goes on without the data server
    after = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()["items"]
    assert [(i["id"], i["status"]) for i in after] == [(i, "ok") for i in ids]  # nothing missing or broken
    labels = (await client.get(f"{API}/datasets/{dataset_id}/labels")).json()
    assert {row["item_id"] for row in labels if row["label_ids"]} == set(ids[:3])
