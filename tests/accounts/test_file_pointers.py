"""Confinement holds for what a file points at, not only for its path (decision 0004).

An HDF5 file inside a data root may keep its pixels in another file: external raw storage (any
bytes at all), a virtual dataset's sources or an external link (other HDF5 files). Each test is
the attack through the real app: scan the file, then ask for its pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

SECRET = b"root:x:0:0:secret-of-the-server:/root:/bin/bash\n" * 40  # 2,000 bytes


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the data root, with a secret text file and an HDF5 file in it."""
    place = tmp_path / "outside-the-roots"
    place.mkdir()
    (place / "passwd").write_bytes(SECRET)
    with h5py.File(place / "private.h5", "w") as handle:
        handle["data"] = np.full((32, 32), 7, dtype=np.uint8)
    return place


async def _scan(client, folder: Path) -> dict[str, dict]:
    created = await client.post("/api/v1/datasets", json={"name": folder.name, "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    items = (await client.get(f"/api/v1/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    return {f"{i['uri']}#{i['frame']}": i for i in items}


async def _refused(client, item: dict) -> None:
    for params in ({}, {"size": 64}, {"p_low": 0, "p_high": 100}):
        image = await client.get(f"/api/v1/items/{item['id']}/image", params=params)
        assert image.status_code in (403, 422), (params, image.status_code)
        assert not image.content.startswith(b"\x89PNG")
    page = await client.get(f"/thumbs/{item['id']}", params={"size": 64})
    assert not page.content.startswith(b"\x89PNG")


def _external_storage(path: Path, target: Path) -> None:
    with h5py.File(path, "w") as handle:
        handle.create_dataset("entry/img", shape=(40, 50), dtype="uint8", external=[(str(target), 0, 2000)])


async def test_external_raw_storage_is_refused_at_scan(client, folder, outside):
    _external_storage(folder / "leak.h5", outside / "passwd")
    items = await _scan(client, folder)
    leak = items["leak.h5#0"]
    assert leak["status"] == "unreadable" and "external raw" in leak["error"]
    assert "passwd" not in leak["error"] and str(outside) not in leak["error"]
    await _refused(client, leak)


async def test_external_raw_storage_inside_the_roots_is_refused_too(client, folder):
    (folder / "raw.bin").write_bytes(bytes(range(256)) * 8)
    _external_storage(folder / "raw.h5", folder / "raw.bin")
    assert (await _scan(client, folder))["raw.h5#0"]["status"] == "unreadable"


async def test_a_file_that_turns_into_a_pointer_after_the_scan_is_refused_at_read(client, folder, outside):
    with h5py.File(folder / "late.h5", "w") as handle:
        handle["entry/img"] = np.zeros((40, 50), dtype=np.uint8)
    item = (await _scan(client, folder))["late.h5#0"]
    assert item["status"] == "ok"
    _external_storage(folder / "late.h5", outside / "passwd")
    await _refused(client, item)
    after = (await client.get(f"/api/v1/items/{item['id']}")).json()
    assert after["status"] == "unreadable" and "external raw" in after["error"]


def _virtual(path: Path, source: str) -> None:
    layout = h5py.VirtualLayout(shape=(32, 32), dtype=np.uint8)
    layout[:] = h5py.VirtualSource(source, "data", shape=(32, 32))
    with h5py.File(path, "w") as handle:
        handle.create_virtual_dataset("entry/img", layout, fillvalue=0)


async def test_virtual_datasets_reading_files_outside_the_roots_are_refused(client, folder, outside):
    (folder / "sub").mkdir()
    (folder / "sub" / "escape.h5").symlink_to(outside / "private.h5")
    _virtual(folder / "absolute.h5", str(outside / "private.h5"))
    _virtual(folder / "relative.h5", os.path.relpath(outside / "private.h5", folder))
    _virtual(folder / "linked.h5", "sub/escape.h5")
    items = await _scan(client, folder)
    for name in ("absolute.h5", "relative.h5", "linked.h5"):
        item = items[f"{name}#0"]
        assert item["status"] == "unreadable" and "outside the data roots" in item["error"], name
        await _refused(client, item)


async def test_virtual_datasets_and_external_links_inside_the_roots_are_read(client, folder, outside):
    with h5py.File(folder / "data_000001.h5", "w") as handle:
        handle["data"] = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    _virtual(folder / "vds.h5", "data_000001.h5")
    with h5py.File(folder / "master.h5", "w") as handle:
        handle["entry/dark"] = np.ones((16, 16), dtype=np.float32)
        handle["entry/data"] = h5py.ExternalLink("data_000001.h5", "/data")
    items = await _scan(client, folder)
    assert items["vds.h5#0"]["status"] == "ok" and items["master.h5#0"]["status"] == "ok"
    for key in ("vds.h5#0", "master.h5#0"):
        image = await client.get(f"/api/v1/items/{items[key]['id']}/image", params={"size": 32})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


async def test_external_links_out_of_the_roots_make_the_file_refused(client, folder, outside):
    with h5py.File(folder / "master.h5", "w") as handle:
        handle["entry/dark"] = np.ones((16, 16), dtype=np.float32)
        handle["entry/data"] = h5py.ExternalLink(str(outside / "private.h5"), "/data")
    item = (await _scan(client, folder))["master.h5#0"]
    assert item["status"] == "unreadable" and "external link 'entry/data'" in item["error"]
    await _refused(client, item)
