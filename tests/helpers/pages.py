"""Page helpers shared by the tests: the CSRF token pages use, datasets made through the datasets page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import image_folder
from tests.html import hx_csrf_token


async def csrf_headers(client: AsyncTestClient, page: str = "/datasets") -> dict[str, str]:
    """What HTMX sends: the token from <body hx-headers> (the cookie comes along in the client)."""
    response = await client.get(page)
    assert response.status_code == 200, response.text
    return {"x-csrftoken": hx_csrf_token(response.text), "hx-request": "true"}


async def make_dataset(
    client: AsyncTestClient, folder: Path, count: int = 6, corrupt: int = 0, **fields: Any
) -> int:
    """A dataset made through the datasets page form; returns its id."""
    image_folder(folder, count=count, corrupt=corrupt)
    headers = await csrf_headers(client)
    response = await client.post(
        "/datasets", data={"name": f"ds-{folder.name}", "sources": [str(folder)], **fields}, headers=headers
    )
    assert response.status_code == 200, response.text
    target = response.headers["hx-redirect"]
    return int(target.split("/")[2])
