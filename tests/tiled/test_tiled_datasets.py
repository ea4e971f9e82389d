"""Datasets of Tiled nodes through the real app: ingest, thumbnails, full view, labels, CLI, errors.

The API key must show up in no response and no log line: every test here captures the logs at
DEBUG level (httpx's request lines included) and checks them.
"""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from PIL import Image
from sqlalchemy import select

from backend.sources.registry import open_source
from backend.storage.tables import Source
from tests.factories import image_folder
from tests.helpers.rest import API, add_class, assert_error, item_ids, tag
from tests.helpers.tiled import API_KEY, ITEM_COUNT, free_port

pytestmark = pytest.mark.tiled


@pytest.fixture(autouse=True)
def _no_key_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    assert API_KEY not in caplog.text


async def _tiled_dataset(client, server, name: str = "remote", *, extra: list[str] | None = None) -> dict:
    response = await client.post(
        f"{API}/datasets",
        json={"name": name, "sources": [*(extra or []), server.uri], "api_keys": {server.uri: API_KEY}},
    )
    assert response.status_code == 201, response.text
    assert API_KEY not in response.text
    return response.json()


async def _items(client, dataset_id: int) -> list[dict]:
    response = await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})
    assert response.status_code == 200 and API_KEY not in response.text
    return response.json()["items"]


async def test_a_dataset_mixes_folders_and_tiled_nodes_and_never_shows_the_key(client, tiled_server, folder):
    image_folder(folder, count=2)
    created = await _tiled_dataset(client, tiled_server, extra=[str(folder)])
    dataset = created["dataset"]
    assert created["scan"]["added"] == ITEM_COUNT + 2 and created["scan"]["unreadable"] == 0
    sources = await client.get(f"{API}/datasets/{dataset['id']}/sources")
    assert API_KEY not in sources.text
    tiled = [s for s in sources.json() if s["kind"] == "tiled"]
    assert tiled == [{**tiled[0], "uri": tiled_server.uri, "has_api_key": True}]
    assert "api_key" not in tiled[0]
    items = await _items(client, dataset["id"])
    stack = [i for i in items if i["uri"] == "arrays/stack"]
    assert [i["frame"] for i in stack] == [0, 1, 2] and stack[0]["height"] == 32
    detail = await client.get(f"{API}/items/{stack[1]['id']}")
    assert detail.json()["location"] == f"{tiled_server.uri}/arrays/stack#1" and API_KEY not in detail.text
    # The same node again is refused; a key given in the URI is stored, not kept in the URI.
    again = await client.post(
        f"{API}/datasets/{dataset['id']}/sources", json={"source": f"{tiled_server.uri}?api_key={API_KEY}"}
    )
    assert_error(again, 409, "CONFLICT", "already a source")
    assert API_KEY not in again.text


async def test_thumbnails_read_a_strided_slice_and_are_cached_the_full_view_reads_everything(
    client, tiled_server, session, settings
):
    dataset = (await _tiled_dataset(client, tiled_server))["dataset"]
    big = next(i for i in await _items(client, dataset["id"]) if i["uri"] == "big/frame")
    source = await session.scalar(select(Source).where(Source.dataset_id == dataset["id"]))
    adapter = open_source(source, settings)  # the app's own, kept open between requests
    before = adapter.bytes_received
    thumb = await client.get(f"{API}/items/{big['id']}/image", params={"size": 32})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    thumb_bytes = adapter.bytes_received - before
    assert Image.open(io.BytesIO(thumb.content)).size == (32, 32)
    before = adapter.bytes_received
    again = await client.get(f"{API}/items/{big['id']}/image", params={"size": 32})
    assert again.content == thumb.content and adapter.bytes_received == before  # from the disk cache
    full = await client.get(f"{API}/items/{big['id']}/image")
    full_bytes = adapter.bytes_received - before
    assert Image.open(io.BytesIO(full.content)).size == (256, 256)
    assert thumb_bytes * 8 < full_bytes, (thumb_bytes, full_bytes)
    for item in await _items(client, dataset["id"]):  # every kind of node renders
        response = await client.get(f"{API}/items/{item['id']}/image", params={"size": 16, "log": True})
        assert response.status_code == 200, (item["uri"], response.text)


async def test_tiled_items_are_labeled_like_folder_items(client, tiled_server):
    dataset = (await _tiled_dataset(client, tiled_server))["dataset"]
    ids = await item_ids(client, dataset["id"])
    ring = await add_class(client, dataset["id"], "ring")
    await tag(client, dataset["id"], ids[:4], ring["id"])
    labels = await client.get(f"{API}/datasets/{dataset['id']}/labels")
    assert {row["item_id"] for row in labels.json() if row["label_ids"] == [ring["id"]]} == set(ids[:4])


async def test_labels_of_tiled_items_export_as_csv_json_and_zip_without_the_key(client, tiled_server):
    dataset = (await _tiled_dataset(client, tiled_server))["dataset"]
    items = await _items(client, dataset["id"])
    stack = [i["id"] for i in items if i["uri"] == "arrays/stack"]
    ring = await add_class(client, dataset["id"], "ring")
    await tag(client, dataset["id"], stack[:2], ring["id"])
    base = f"{API}/datasets/{dataset['id']}/export"
    csv_text = (await client.get(base, params={"format": "csv"})).text
    assert f"{tiled_server.uri},arrays/stack,1,ring" in csv_text and API_KEY not in csv_text
    json_export = await client.get(base, params={"format": "json"})
    assert json_export.status_code == 200 and API_KEY not in json_export.text
    archive = await client.get(base, params={"format": "zip"})
    assert archive.status_code == 200 and API_KEY.encode() not in archive.content
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = [n for n in zipped.namelist() if n.startswith("ring/")]
    assert len(names) == 2  # the two labeled frames, read from Tiled into the ZIP


async def test_wrong_or_missing_key_is_refused_naming_the_source_and_nothing_is_made(client, tiled_server):
    for keys, why in (({}, "needs an API key"), ({tiled_server.uri: "wrongkey123"}, "missing or wrong")):
        response = await client.post(
            f"{API}/datasets", json={"name": "nope", "sources": [tiled_server.uri], "api_keys": keys}
        )
        error = assert_error(response, 403, "FORBIDDEN", tiled_server.uri, why)
        assert "wrongkey123" not in response.text and error["details"]["source"] == tiled_server.uri
    assert (await client.get(f"{API}/datasets")).json() == []


async def test_wrong_uris_are_refused_clearly(client, tiled_server):
    async def create(uri: str):
        return await client.post(
            f"{API}/datasets", json={"name": "bad", "sources": [uri], "api_keys": {uri: API_KEY}}
        )

    assert_error(await create(f"{tiled_server.uri}/no/such/node"), 404, "NOT_FOUND", "no node 'no/such/node'")
    port = free_port()
    assert_error(await create(f"tiled+http://127.0.0.1:{port}/x"), 502, "SOURCE_UNAVAILABLE", "unreachable")
    assert_error(await create("tiled+http://"), 400, "INVALID", "tiled uri")
    below_an_array = await create(f"{tiled_server.uri}/arrays/flat/deeper")  # Tiled 0.2 answers 500 here
    assert below_an_array.status_code in (404, 502)
    assert "arrays/flat/deeper" in below_an_array.json()["error"]["message"]
    assert (await client.get(f"{API}/datasets")).json() == []


@pytest.fixture
def run_cli(monkeypatch, settings, database, data_root):
    from click.testing import CliRunner

    from backend import cli
    from backend.settings import get_settings

    monkeypatch.setenv("LABELWISE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LABELWISE_DATABASE_URL", settings.database)
    monkeypatch.setenv("LABELWISE_DATA_ROOTS", str(data_root))
    monkeypatch.delenv("LABELWISE_TILED_API_KEY", raising=False)
    monkeypatch.setenv("LABELWISE_TILED_HOSTS", settings.tiled_hosts)
    get_settings.cache_clear()

    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        assert API_KEY not in result.output
        return result

    yield run
    get_settings.cache_clear()


def test_cli_adds_tiled_sources_with_a_key_and_refuses_without(run_cli, tiled_server, tmp_path):
    refused = run_cli("dataset", "add", "cli-tiled", f"{tiled_server.uri}/arrays", ok=False).output
    assert "FORBIDDEN" in refused and tiled_server.uri in refused
    out = run_cli("dataset", "add", "cli-tiled", f"{tiled_server.uri}/arrays", "--api-key", API_KEY).output
    assert "4 items, 0 unreadable" in out
    out = run_cli("dataset", "add", "cli-tiled", f"{tiled_server.uri}/hdf5", "--api-key", API_KEY).output
    assert "extended: 3 items added" in out
    pytest.importorskip("backend.labels.transfer")
    exported = tmp_path / "out.csv"
    run_cli("export", "cli-tiled", "--format", "csv", "-o", str(exported))
    text = exported.read_text()
    assert f"{tiled_server.uri}/arrays,stack,2," in text and API_KEY not in text


CREATE = """
mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { dataset { id itemCount sources { kind uri hasApiKey } } scan { added } }
}"""


async def test_graphql_creates_tiled_datasets_and_never_returns_the_key(client, tiled_server):
    from tests.helpers.graphql import gql, gql_error

    node = f"{tiled_server.uri}/arrays"
    keys = [{"source": node, "apiKey": API_KEY}]
    data = await gql(client, CREATE, {"input": {"name": "gql-tiled", "sources": [node], "apiKeys": keys}})
    created = data["createDataset"]
    assert created["scan"]["added"] == 4 and created["dataset"]["itemCount"] == 4
    assert created["dataset"]["sources"] == [{"kind": "tiled", "uri": node, "hasApiKey": True}]
    wrong = [{"source": node, "apiKey": "wrongkey77"}]
    error = await gql_error(
        client,
        CREATE,
        {"input": {"name": "gql-bad", "sources": [node], "apiKeys": wrong}},
        code="FORBIDDEN",
        fragments=(node, "missing or wrong"),
    )
    assert "wrongkey77" not in str(error) and API_KEY not in str(error)
