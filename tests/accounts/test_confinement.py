"""Folder sources stay inside the data roots whatever the path looks like on the wire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import image_folder

TRICKS = [
    "../",
    "/etc",
    "%2e%2e/%2e%2e/etc",
    "..%2f..%2fetc",
    "..\\..\\etc",
    "~/",
    "/proc/self/root/etc",
    "\x00/etc",
]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return image_folder(tmp_path / "outside-the-roots", count=2)


async def test_source_paths_that_leave_the_roots_are_refused(client, folder, data_root, outside):
    os.symlink(outside, folder / "escape")
    tricks = [
        *TRICKS,
        str(data_root / ".." / outside.name),
        f"{data_root}/%2e%2e/{outside.name}",
        str(folder / "escape"),
        str(outside),
        f"{folder.name}/escape",
    ]
    for i, trick in enumerate(tricks):
        response = await client.post("/api/v1/datasets", json={"name": f"t{i}", "sources": [trick]})
        assert response.status_code in (400, 403, 404), (trick, response.status_code, response.text)
        assert response.json()["error"]["code"] in ("INVALID", "FORBIDDEN", "NOT_FOUND"), trick
    assert (await client.get("/api/v1/datasets")).json() == []


async def test_the_folder_browser_stays_inside_the_roots(client, folder, outside):
    os.symlink(outside, folder / "escape")
    for trick in [*TRICKS, str(outside), f"{folder}/escape", f"{folder}/%2e%2e/%2e%2e"]:
        response = await client.get(
            "/datasets/browse", params={"path": trick}, headers={"HX-Request": "true"}
        )
        assert response.status_code in (400, 403, 404), (trick, response.status_code)
        assert "img_000" not in response.text and "passwd" not in response.text  # nothing listed


async def test_a_file_linked_out_of_the_roots_is_never_served(client, folder, outside):
    image_folder(folder, count=1)
    os.symlink(outside / "img_000.png", folder / "sneaky.png")
    created = await client.post("/api/v1/datasets", json={"name": "links", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    items = (await client.get(f"/api/v1/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    sneaky = next(i for i in items if i["uri"] == "sneaky.png")
    image = await client.get(f"/api/v1/items/{sneaky['id']}/image")
    assert image.status_code >= 400 and not image.content.startswith(b"\x89PNG")
