"""REST helpers shared by the tests: apps on changed settings, datasets, classes and labels made through
the API, a snapshot of everything it can read back, and the one JSON error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from backend.settings import Settings
from backend.storage.database import Database
from tests.factories import image_folder

API = "/api/v1"


ClientFactory = Callable[..., Any]


@pytest.fixture
def client_with(settings: Settings, database: Database) -> ClientFactory:
    """``async with client_with(max_request_bytes=2000) as c``: the real app on changed settings."""

    @asynccontextmanager
    async def open_client(**changes: Any) -> AsyncIterator[AsyncTestClient]:
        from backend.app import create_app

        app = create_app(settings.model_copy(update=changes))  # its own engine: see tests/conftest.py
        async with AsyncTestClient(app=app) as client:
            yield client

    return open_client


async def create_dataset(
    client: AsyncTestClient, folder: Path, count: int = 6, *, multi_label: bool = False, corrupt: int = 0
) -> dict[str, Any]:
    """A dataset of ``count`` generated PNGs made through POST /datasets; returns the response body."""
    image_folder(folder, count=count, corrupt=corrupt)
    response = await client.post(
        f"{API}/datasets",
        json={"name": f"ds-{folder.name}", "sources": [str(folder)], "multi_label": multi_label},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def item_ids(client: AsyncTestClient, dataset_id: int) -> list[int]:
    response = await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def add_class(client: AsyncTestClient, dataset_id: int, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def tag(client: AsyncTestClient, dataset_id: int, ids: list[int], label_id: int | None, **more: Any):
    response = await client.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids, "label_id": label_id, **more}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def snapshot(client: AsyncTestClient) -> dict[str, Any]:
    """Everything the API can read back, to show that a refused request changed nothing."""
    state: dict[str, Any] = {"datasets": (await client.get(f"{API}/datasets")).json()}
    for dataset in state["datasets"]:
        base = f"{API}/datasets/{dataset['id']}"
        for part in ("sources", "classes", "labels", "progress"):
            state[f"{dataset['id']}/{part}"] = (await client.get(f"{base}/{part}")).json()
        state[f"{dataset['id']}/items"] = (await client.get(f"{base}/items", params={"limit": 500})).json()
        state[f"{dataset['id']}/events"] = (await client.get(f"{base}/events", params={"limit": 500})).json()
    return state


def assert_error(response: Any, status: int, code: str, *fragments: str) -> dict[str, Any]:
    """The response is the one JSON error shape with this status, code and message fragments."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"urn:labelwise:error:{code}")
    assert body["title"] and body["detail"] == body["error"]["message"]
    error = body["error"]
    assert error["code"] == code, error
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), error
    return error
