"""A full scenario through every door, then a scan: no Tiled key, API token or password anywhere.

Folder + Tiled (real ``tiled serve`` with an API key) dataset, classes, labels, a wrong key, a
job, exports in every format, GraphQL and REST reads, every page, the Tiled browser, the admins'
user and token doors (disable, enable, revoke). The key file that encrypts Tiled keys at rest is a
secret too. Every response body and header (the one answer that hands out the token excepted),
every log record at DEBUG, the export files and the job rows are searched for the secrets; the
stored key rows and the SQLite file for the clear Tiled key.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import zipfile

import pytest
from sqlalchemy import select

from backend.storage.job_tables import Job, JobLog
from backend.storage.tables import Source
from tests.factories import image_folder
from tests.helpers.accounts import PASSWORD, csrf_headers
from tests.helpers.jobs import wait_for
from tests.helpers.rest import item_ids
from tests.helpers.tiled import API_KEY

pytestmark = pytest.mark.tiled
WRONG_KEY = "wrongTiledKeyQ7v2Lm9x"


class Recorder:
    """Every response the scenario saw, for the scan at the end."""

    def __init__(self, client) -> None:
        self.client = client
        self.seen: list[tuple[str, object]] = []

    async def __call__(self, method: str, url: str, *, expect: int | None = None, keep: bool = True, **kw):
        kw.setdefault("follow_redirects", False)
        response = await self.client.request(method, url, **kw)
        if keep:
            self.seen.append((f"{method} {url}", response))
        assert response.status_code < 500, (method, url, response.status_code, response.text[:500])
        if expect is not None:
            assert response.status_code == expect, (method, url, response.status_code, response.text[:500])
        return response


def _zip_text(payload: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return " ".join(
            archive.read(name).decode("latin-1") for name in archive.namelist() if name.endswith(".csv")
        ) + " ".join(archive.namelist())


async def test_no_secret_leaves_the_server(
    client, accounts, folder, tiled_server, caplog, session, settings, tmp_path
):
    caplog.set_level(logging.DEBUG)
    call = Recorder(client)
    admin = accounts["admin"]

    # A browser signs in; a script gets a token (its creation answer is the one place it shows).
    signin = await call(
        "POST",
        "/signin",
        data={"name": admin.name, "password": PASSWORD, "next": "/"},
        headers=await csrf_headers(client),
        expect=303,
        keep=False,
    )
    assert PASSWORD not in signin.text
    created = await call("POST", "/api/v1/tokens", json={"label": "scan"}, expect=201, keep=False)
    token = created.json()["token"]
    script = {"Authorization": f"Bearer {token}"}

    image_folder(folder, count=6)
    body = {
        "name": "secretive",
        "sources": [str(folder), tiled_server.uri],
        "api_keys": {tiled_server.uri: API_KEY},
    }
    dataset = (await call("POST", "/api/v1/datasets", json=body, headers=script, expect=201)).json()
    ds = dataset["dataset"]["id"]
    wrong = {"name": "wrong-key", "sources": [tiled_server.uri], "api_keys": {tiled_server.uri: WRONG_KEY}}
    refused = await call("POST", "/api/v1/datasets", json=wrong, headers=script)
    assert refused.status_code >= 400
    await call(
        "POST",
        f"/api/v1/datasets/{ds}/sources",
        json={"source": tiled_server.uri + "/nope", "api_key": WRONG_KEY},
        headers=script,
    )

    label = (
        await call(
            "POST", f"/api/v1/datasets/{ds}/classes", json={"name": "ring"}, headers=script, expect=201
        )
    ).json()
    ids = await item_ids(client, ds)
    assert len(ids) == 6 + 9
    await call(
        "POST",
        f"/api/v1/datasets/{ds}/tags",
        json={"item_ids": ids[:8], "label_id": label["id"]},
        headers=script,
        expect=201,
    )
    tiled_item = ids[-1]

    job = await call(
        "POST",
        "/api/v1/jobs",
        headers=script,
        expect=201,
        json={
            "kind": "train",
            "dataset_id": ds,
            "algorithm": "pca",
            "parameters": {"n_components": 2, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2},
        },
    )
    finished = await wait_for(client, job.json()["id"], timeout=90)
    assert finished["state"] == "succeeded", finished["error"]
    job_id, model_id = finished["id"], finished["model_id"]

    reads = [
        "/api/v1/datasets",
        f"/api/v1/datasets/{ds}",
        f"/api/v1/datasets/{ds}/sources",
        f"/api/v1/datasets/{ds}/items?limit=500",
        f"/api/v1/items/{tiled_item}",
        f"/api/v1/items/{tiled_item}/history",
        f"/api/v1/items/{tiled_item}/image",
        f"/api/v1/datasets/{ds}/labels",
        f"/api/v1/datasets/{ds}/events",
        f"/api/v1/jobs/{job_id}",
        f"/api/v1/jobs/{job_id}/log",
        "/api/v1/jobs",
        "/api/v1/models",
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/users",
        "/api/schema/openapi.json",
    ]
    if model_id:
        reads.append(f"/api/v1/models/{model_id}")
    for url in reads:
        await call("GET", url, headers=script, expect=200)
    exports = {}
    for fmt in ("csv", "json", "parquet", "zip"):
        exports[fmt] = (
            await call("GET", f"/api/v1/datasets/{ds}/export?format={fmt}", headers=script, expect=200)
        ).content
    await call("GET", f"/api/v1/datasets/{ds}/export?format=nope", headers=script, expect=400)
    await call("GET", "/api/v1/datasets", headers={"Authorization": "Bearer lw_not-a-token"}, expect=401)

    query = (
        "{ datasets { id name sources { uri kind hasApiKey } } "
        f"jobs(datasetId: {ds}) {{ jobs {{ parameters error submittedBy }} }} "
        f"items(datasetId: {ds}, limit: 100) {{ items {{ id uri }} }} }}"
    )
    gql = await call("POST", "/graphql", json={"query": query}, headers=script, expect=200)
    assert "errors" not in gql.json(), gql.json()
    assert {s["hasApiKey"] for s in gql.json()["data"]["datasets"][0]["sources"]} == {True, False}
    bad = 'mutation { addSource(datasetId: %d, source: "%s/nope", apiKey: "%s") { id } }'
    await call("POST", "/graphql", json={"query": bad % (ds, tiled_server.uri, WRONG_KEY)}, headers=script)

    # Admins' account doors: users, anyone's tokens (prefixes), disabling, revoking.
    labeler = accounts["labeler"]
    for url in ("/api/v1/users/labeler-user/tokens", "/api/v1/users/admin-user/tokens"):
        await call("GET", url, headers=script, expect=200)
    accounts_query = "{ users { name active } apiTokens(all: true) { id user prefix label } }"
    listed = await call("POST", "/graphql", json={"query": accounts_query}, headers=script, expect=200)
    assert "errors" not in listed.json(), listed.json()
    await call("POST", "/api/v1/users/labeler-user/disable", headers=script, expect=200)
    await call("GET", "/api/v1/me", headers=labeler.headers, expect=401)
    enable = 'mutation { enableUser(name: "labeler-user") { active } }'
    await call("POST", "/graphql", json={"query": enable}, headers=script, expect=200)
    viewer_tokens = (await call("GET", "/api/v1/users/viewer-user/tokens", headers=script, expect=200)).json()
    form = await csrf_headers(client)
    await call("POST", f"/admin/tokens/{viewer_tokens[0]['id']}/revoke", headers=form, expect=200)
    await call("GET", "/api/v1/me", headers=accounts["viewer"].headers, expect=401)

    # The Tiled browser (admins): with the key, with a wrong one, at a node that is not there.
    browse = {**await csrf_headers(client), "HX-Request": "true"}
    await call(
        "POST",
        "/tiled/browse",
        data={"uri": tiled_server.uri, "api_key": API_KEY},
        headers=browse,
        expect=200,
    )
    await call("POST", "/tiled/browse", data={"uri": tiled_server.uri, "api_key": WRONG_KEY}, headers=browse)
    nowhere = {"uri": f"{tiled_server.uri}/nowhere", "api_key": API_KEY}
    await call("POST", "/tiled/browse", data=nowhere, headers=browse)

    pages = [
        "/admin/users",
        "/",
        "/datasets",
        f"/datasets/{ds}/label",
        f"/items/{tiled_item}",
        f"/thumbs/{tiled_item}",
        "/jobs",
        f"/jobs/{job_id}",
        "/models",
        f"/datasets/{ds}/train",
        f"/datasets/{ds}/similar",
        f"/datasets/{ds}/explorer",
        "/account",
        "/signin",
    ]
    if model_id:
        pages.append(f"/models/{model_id}")
    for url in pages:
        await call("GET", url)  # the signed-in browser (cookie)

    # -- the scan -------------------------------------------------------------------------------
    key_file = settings.secret_key_file.read_text().strip()  # what decrypts the stored Tiled keys
    secrets = {
        "tiled key": API_KEY,
        "wrong tiled key": WRONG_KEY,
        "api token": token,
        "password": PASSWORD,
        "secret key": key_file,
        "labeler's token": labeler.token,
    }
    assert len(call.seen) > 40
    for what, response in call.seen:
        text = (
            response.content.decode("latin-1")
            + " "
            + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        )
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} appears in the answer to {what}"
    for name, secret in secrets.items():
        assert secret not in caplog.text, f"the {name} appears in the logs"
        for fmt, payload in exports.items():
            readable = _zip_text(payload) if fmt == "zip" else payload.decode("latin-1")
            assert secret not in readable, f"the {name} appears in the {fmt} export"
    rows = [
        str(j.parameters) + str(j.error) + str(j.outputs)
        for j in (await session.execute(select(Job))).scalars()
    ]
    rows += [line.message for line in (await session.execute(select(JobLog))).scalars()]
    for name, secret in secrets.items():
        assert all(secret not in row for row in rows), f"the {name} appears in a job row"
    # At rest: the Tiled key is stored encrypted (a copy of the database is no key).
    stored = [str(row) for row in (await session.execute(select(Source.api_key))).scalars()]
    assert any(stored) and all(API_KEY not in row for row in stored), "the tiled key is stored in clear"
    if settings.database.startswith("sqlite"):
        # Through SQLite's backup API, never a plain open(): closing any other descriptor of the
        # live file drops this process's SQLite locks on it (and so corrupts it under the CLI
        # process of a later test). The copy holds every page, the WAL's included.
        copy = tmp_path / "database-copy.sqlite"
        source, target = sqlite3.connect(settings.database.split("///", 1)[1]), sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        assert API_KEY.encode() not in copy.read_bytes(), "the tiled key is in the database file"
