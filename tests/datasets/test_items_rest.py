"""REST: one item's details, history and image (PNG rendering, disk cache, unreadable and huge files)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.images.thumbnails import ThumbnailCache
from backend.images.transforms import DisplayTransform
from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


@pytest.fixture
def cache_dir_settings(tmp_path):
    """Settings changes that give the app its own thumbnail cache (ids can repeat across tests)."""
    return {"data_dir": tmp_path / "data"}


def _png(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(response.content))


async def test_item_detail_has_labels_and_source_location(client, folder):
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat = await add_class(client, dataset["id"], "cat")
    await tag(client, dataset["id"], ids[1:2], cat["id"])
    response = await client.get(f"{API}/items/{ids[1]}")
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["id"] == ids[1] and item["dataset_id"] == dataset["id"]
    assert item["label_ids"] == [cat["id"]]
    assert item["location"] == str(folder / item["uri"])
    assert "api_key" not in item


async def test_item_history_lists_the_events_that_touched_it_oldest_first(client, folder):
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat, dog = await add_class(client, dataset["id"], "cat"), await add_class(client, dataset["id"], "dog")
    first = await tag(client, dataset["id"], ids[:2], cat["id"])
    await tag(client, dataset["id"], ids[1:2], dog["id"])
    second = await tag(client, dataset["id"], ids[:1], None, op="clear")
    history = (await client.get(f"{API}/items/{ids[0]}/history")).json()
    assert [(h["event"]["id"], h["op"], h["label_id"]) for h in history] == [
        (first["id"], "set", cat["id"]),
        (second["id"], "clear", None),
    ]
    assert history[0]["event"]["tagger"] == "tester" and history[0]["event"]["kind"] == "manual"
    assert (await client.get(f"{API}/items/{ids[2]}/history")).json() == []


async def test_unknown_item_ids_are_404(client):
    for path in ("/items/999999", "/items/999999/history", "/items/999999/image"):
        assert_error(await client.get(f"{API}{path}"), 404, "NOT_FOUND", "999999")


async def test_image_is_a_png_whose_pixels_change_with_the_log_transform(
    client_with, cache_dir_settings, folder
):
    async with client_with(**cache_dir_settings) as client:
        dataset = (await create_dataset(client, folder, count=2))["dataset"]
        item = (await item_ids(client, dataset["id"]))[0]
        plain = await client.get(f"{API}/items/{item}/image")
        logged = await client.get(f"{API}/items/{item}/image", params={"log": "true"})
        assert _png(plain).size == (32, 32) and _png(logged).size == (32, 32)
        assert plain.content != logged.content
        thumb = _png(await client.get(f"{API}/items/{item}/image", params={"size": 16}))
        assert thumb.size == (16, 16) and thumb.mode == "L"
        narrow = await client.get(f"{API}/items/{item}/image", params={"p_low": 10, "p_high": 90})
        assert _png(narrow).size == (32, 32) and narrow.content != plain.content


async def test_second_image_request_is_served_from_the_disk_cache(
    client_with, settings, cache_dir_settings, folder
):
    async with client_with(**cache_dir_settings) as client:
        dataset = (await create_dataset(client, folder, count=1))["dataset"]
        item = await client.get(f"{API}/items/{(await item_ids(client, dataset['id']))[0]}")
        item_id, path = item.json()["id"], folder / item.json()["uri"]
        cache = ThumbnailCache(settings.model_copy(update=cache_dir_settings).cache_dir)
        cached_file = cache.path(item_id, DisplayTransform(log=True), 64)
        assert not cached_file.exists()
        first = await client.get(f"{API}/items/{item_id}/image", params={"log": "true", "size": 64})
        _png(first)
        assert cached_file.read_bytes() == first.content
        path.unlink()  # the source is gone: only the cache can answer now
        second = await client.get(f"{API}/items/{item_id}/image", params={"log": "true", "size": 64})
        assert second.status_code == 200 and second.content == first.content
        # another transform is not cached and needs the (now missing) file
        other = await client.get(f"{API}/items/{item_id}/image", params={"size": 64})
        assert_error(other, 404, "NOT_FOUND", "missing")


async def test_an_item_made_after_a_delete_never_gets_the_cached_image_of_an_earlier_one(
    client_with, cache_dir_settings, folder
):
    """SQLite gives the id of a deleted last row to the next one: the cache must notice."""
    ramp = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))
    for name, pixels in (("rising", ramp), ("falling", ramp[:, ::-1])):
        (folder / name).mkdir()
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / name / "only.png")
    async with client_with(**cache_dir_settings) as client:
        seen = []
        for name in ("rising", "falling"):
            body = {"name": f"ds-{name}", "sources": [str(folder / name)]}
            dataset = (await client.post(f"{API}/datasets", json=body)).json()["dataset"]
            item_id = (await item_ids(client, dataset["id"]))[0]
            png = _png(await client.get(f"{API}/items/{item_id}/image", params={"size": 16}))
            seen.append((png.getpixel((1, 8)), png.getpixel((14, 8))))
            assert (await client.delete(f"{API}/datasets/{dataset['id']}")).status_code in (200, 204)
        (rising_left, rising_right), (falling_left, falling_right) = seen
        # each dataset's own pixels, whether or not the id came back
        assert rising_left < rising_right and falling_left > falling_right


async def test_image_of_a_corrupt_file_is_422_and_the_item_says_why(client_with, cache_dir_settings, folder):
    async with client_with(**cache_dir_settings) as client:
        dataset = (await create_dataset(client, folder, count=1, corrupt=1))["dataset"]
        page = (await client.get(f"{API}/datasets/{dataset['id']}/items")).json()["items"]
        broken = next(i for i in page if i["uri"] == "broken_0.png")
        error = assert_error(await client.get(f"{API}/items/{broken['id']}/image"), 422, "UNREADABLE")
        assert error["message"] == broken["error"]


async def test_file_spoiled_after_the_scan_is_marked_unreadable_on_first_view(
    client_with, cache_dir_settings, folder
):
    async with client_with(**cache_dir_settings) as client:
        dataset = (await create_dataset(client, folder, count=2))["dataset"]
        item = (await client.get(f"{API}/datasets/{dataset['id']}/items")).json()["items"][0]
        assert item["status"] == "ok"
        (folder / item["uri"]).write_bytes(b"garbage, not an image")
        assert_error(await client.get(f"{API}/items/{item['id']}/image"), 422, "UNREADABLE")
        after = (await client.get(f"{API}/items/{item['id']}")).json()
        assert after["status"] == "unreadable" and after["error"]
        listed = (await client.get(f"{API}/datasets/{dataset['id']}")).json()
        assert listed["unreadable_count"] == 1


async def test_image_over_the_pixel_limit_is_413_and_changes_nothing(client_with, cache_dir_settings, folder):
    async with client_with(**cache_dir_settings) as client:
        dataset = (await create_dataset(client, folder, count=1))["dataset"]
        item = (await item_ids(client, dataset["id"]))[0]
        before = await snapshot(client)
    async with client_with(max_image_pixels=100, **cache_dir_settings) as small:
        error = assert_error(await small.get(f"{API}/items/{item}/image"), 413, "TOO_LARGE", "exceeds")
        assert error["details"] == {"width": 32, "height": 32}
        assert await snapshot(small) == before


async def test_bad_image_parameters_are_400(client, folder):
    dataset = (await create_dataset(client, folder, count=1))["dataset"]
    item = (await item_ids(client, dataset["id"]))[0]
    base = f"{API}/items/{item}/image"
    assert_error(await client.get(base, params={"size": 8}), 400, "INVALID", "size")
    assert_error(await client.get(base, params={"size": 100000}), 400, "INVALID", "size")
    assert_error(await client.get(base, params={"p_low": 90, "p_high": 10}), 400, "INVALID", "percentile")
    assert_error(await client.get(base, params={"p_high": 150}), 400, "INVALID", "p_high")
    assert_error(await client.get(base, params={"log": "sometimes"}), 400, "INVALID", "log")
