"""REST: every refusal is the one JSON error shape, and none of them loses anything stored."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


async def _post_in_chunks(app: Any, path: str, payload: Any, chunk: int) -> tuple[int, bytes]:
    """POST a JSON body straight to the ASGI app in chunks, without a Content-Length header."""
    data = json.dumps(payload).encode()
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_oversized_request_body_is_413_and_changes_nothing(client_with, folder):
    async with client_with(max_request_bytes=2000) as client:
        dataset = (await create_dataset(client, folder, count=3))["dataset"]
        ids = await item_ids(client, dataset["id"])
        cat = await add_class(client, dataset["id"], "cat")
        await tag(client, dataset["id"], ids[:1], cat["id"])
        before = await snapshot(client)
        big = {"item_ids": ids * 400, "label_id": cat["id"]}
        assert len(json.dumps(big)) > 2000
        response = await client.post(f"{API}/datasets/{dataset['id']}/tags", json=big)
        assert_error(response, 413, "TOO_LARGE")

        # no Content-Length: the limit holds on the bytes actually received
        status, body = await _post_in_chunks(client.app, f"{API}/datasets/{dataset['id']}/tags", big, 500)
        assert status == 413 and json.loads(body)["error"]["code"] == "TOO_LARGE"
        assert await snapshot(client) == before
        # a body under the limit still works on the same app
        assert (
            await client.post(f"{API}/datasets/{dataset['id']}/tags", json={"item_ids": ids})
        ).status_code == 201


async def test_malformed_json_is_a_clear_400_and_changes_nothing(client, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    await add_class(client, dataset["id"], "cat")
    before = await snapshot(client)
    json_header = {"content-type": "application/json"}
    for path in ("/datasets", f"/datasets/{dataset['id']}/classes", f"/datasets/{dataset['id']}/tags"):
        response = await client.post(f"{API}{path}", content=b'{"name": "x",', headers=json_header)
        assert_error(response, 400, "INVALID", "json")
        response = await client.post(f"{API}{path}", content=b"", headers=json_header)
        assert_error(response, 400, "INVALID", "body is required")
        response = await client.post(f"{API}{path}", content=b"[1, 2]", headers=json_header)
        assert_error(response, 400, "INVALID", "expected `object`")
    response = await client.patch(
        f"{API}/datasets/{dataset['id']}", content=b"{name: 1}", headers=json_header
    )
    assert_error(response, 400, "INVALID", "malformed")
    assert await snapshot(client) == before


async def test_wrong_types_name_the_field_at_fault(client, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    response = await client.post(f"{API}/datasets/{dataset['id']}/classes", json={"name": 12})
    error = assert_error(response, 400, "INVALID", "'name'", "expected `str`")
    assert error["details"]["errors"] == [
        {"message": "Expected `str`, got `int`", "key": "name", "source": "body"}
    ]
    response = await client.get(f"{API}/datasets/{dataset['id']}/items", params={"offset": "first"})
    assert_error(response, 400, "INVALID", "query field 'offset'")


async def test_a_wrong_value_names_the_query_parameter_the_client_sent_not_the_handlers_argument(
    client, folder
):
    # The export's `format` is bound to an argument named `fmt`: the error said "query field 'fmt'".
    dataset = (await create_dataset(client, folder, count=1))["dataset"]
    response = await client.get(f"{API}/datasets/{dataset['id']}/export", params={"format": "xls"})
    error = assert_error(response, 400, "INVALID", "query field 'format'")
    assert "fmt" not in error["message"]
    assert [e["key"] for e in error["details"]["errors"]] == ["format"]


async def test_unknown_routes_and_methods_answer_in_the_error_shape(client):
    assert_error(await client.get(f"{API}/nothing-here"), 404, "NOT_FOUND")
    assert_error(await client.get(f"{API}/datasets/not-a-number"), 404, "NOT_FOUND")
    assert_error(await client.put(f"{API}/datasets"), 405, "METHOD_NOT_ALLOWED")


async def test_secrets_never_come_back(client, folder):
    dataset = (await create_dataset(client, folder, count=1))["dataset"]
    await client.post(
        f"{API}/datasets/{dataset['id']}/sources",
        json={"source": f"{folder}/none", "api_key": "top-secret-k"},
    )
    await client.post(
        f"{API}/datasets",
        json={"name": "t", "sources": ["https://tiled.example/api"], "api_keys": {"x": "top-secret-k"}},
    )
    everything = json.dumps(await snapshot(client))
    assert "top-secret-k" not in everything


async def test_numbers_beyond_the_database_integers_are_a_400_not_a_500(client, folder):
    """SQLite refuses ints over 64 bits while binding, PostgreSQL ids over 32 bits: bad input."""
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    ids = await item_ids(client, dataset["id"])
    huge = 10**22
    assert_error(await client.get(f"{API}/items/{huge}"), 400, "INVALID", "out of range")
    assert_error(
        await client.get(f"{API}/datasets/{dataset['id']}/items", params={"label_id": huge}), 400, "INVALID"
    )
    refused = await client.post(f"{API}/datasets/{dataset['id']}/tags", json={"item_ids": [ids[0], huge]})
    assert_error(refused, 400, "INVALID")
    assert (await client.get(f"{API}/datasets/{dataset['id']}/labels")).json() == []  # nothing half-done
    assert (await client.get(f"{API}/items/{ids[0]}")).status_code == 200
