"""What viewers see (issue 22): no absolute server paths, no tracebacks, through every door.

A failed job whose error, traceback and log name files under the data root, and an item of a
folder source, are read by a viewer and by a labeler through REST, GraphQL and the pages. The
viewer gets paths relative to the data root and one-line errors; the labeler gets everything.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from backend.storage.job_tables import Job, JobLog
from tests.factories import image_folder

TRACEBACK = 'Traceback (most recent call last):\n  File "/opt/venv/lib/python3.11/site-packages/x.py", line 3'


async def _failed_job_and_item(session, settings, folder: Path) -> tuple[int, int, str]:
    image_folder(folder, count=2)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder)])
    item = (await list_items(session, dataset.id)).items[0].item
    path = f"{folder}/{item.uri}"
    job = Job(
        kind="train",
        state="failed",
        algorithm="pca",
        dataset_id=dataset.id,
        error=f"OSError: cannot read {path}\n{TRACEBACK}",
        traceback=f"{TRACEBACK}\nOSError: cannot read {path}",
    )
    session.add(job)
    await session.flush()
    session.add(
        JobLog(job_id=job.id, attempt=1, level="error", message=f"reading {path} failed\nsecond line")
    )
    await session.commit()
    return job.id, item.id, path  # type: ignore[return-value]


def _hides_the_server(text: str, data_root: Path) -> None:
    assert str(data_root) not in text and "/opt/venv" not in text and "Traceback" not in text, text


async def test_viewers_see_relative_paths_and_one_line_errors_through_every_door(
    client, accounts, session, settings, folder, data_root
):
    job_id, item_id, path = await _failed_job_and_item(session, settings, folder)
    viewer, labeler = accounts["viewer"].headers, accounts["labeler"].headers
    relative = f"{data_root.name}/{Path(path).relative_to(data_root)}"

    item = (await client.get(f"/api/v1/items/{item_id}", headers=viewer)).json()
    assert item["location"] == relative
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=viewer)).json()
    assert job["traceback"] is None and job["error"] == f"OSError: cannot read {relative}"
    [listed] = (await client.get("/api/v1/jobs", headers=viewer)).json()["jobs"]
    assert listed["traceback"] is None and listed["error"] == job["error"]
    [line] = (await client.get(f"/api/v1/jobs/{job_id}/log", headers=viewer)).json()
    assert line["message"] == f"reading {relative} failed"

    query = """query($i: Int!, $j: Int!) {
      item(id: $i) { location }
      job(id: $j) { error traceback log { message } }
      jobs { jobs { error traceback } }
    }"""
    body = (
        await client.post(
            "/graphql", json={"query": query, "variables": {"i": item_id, "j": job_id}}, headers=viewer
        )
    ).json()
    assert body["data"]["item"]["location"] == relative
    assert body["data"]["job"] == {
        "error": f"OSError: cannot read {relative}",
        "traceback": None,
        "log": [{"message": f"reading {relative} failed"}],
    }
    _hides_the_server(str(body), data_root)

    for url in (f"/items/{item_id}", f"/jobs/{job_id}", f"/jobs/{job_id}/live"):
        page = await client.get(url, headers=viewer)
        assert page.status_code == 200, url
        _hides_the_server(page.text, data_root)
    assert relative in (await client.get(f"/items/{item_id}", headers=viewer)).text

    # Labelers and above see it all, as before.
    assert (await client.get(f"/api/v1/items/{item_id}", headers=labeler)).json()["location"] == path
    full = (await client.get(f"/api/v1/jobs/{job_id}", headers=labeler)).json()
    assert full["traceback"].startswith("Traceback") and path in full["error"]
    body = (
        await client.post(
            "/graphql", json={"query": query, "variables": {"i": item_id, "j": job_id}}, headers=labeler
        )
    ).json()
    assert body["data"]["item"]["location"] == path and body["data"]["job"]["traceback"].startswith(
        "Traceback"
    )
    assert "Traceback" in (await client.get(f"/jobs/{job_id}", headers=labeler)).text


async def test_viewers_see_a_folder_source_relative_to_its_data_root_through_every_door(
    client, accounts, session, settings, folder, data_root
):
    _, item_id, _ = await _failed_job_and_item(session, settings, folder)
    dataset_id = (await client.get(f"/api/v1/items/{item_id}", headers=accounts["labeler"].headers)).json()[
        "dataset_id"
    ]
    viewer, labeler = accounts["viewer"].headers, accounts["labeler"].headers
    relative = f"{data_root.name}/{folder.relative_to(data_root)}"

    [source] = (await client.get(f"/api/v1/datasets/{dataset_id}/sources", headers=viewer)).json()
    assert source["uri"] == relative
    query = "query($d: Int!) { dataset(id: $d) { sources { uri } } }"
    body = (
        await client.post("/graphql", json={"query": query, "variables": {"d": dataset_id}}, headers=viewer)
    ).json()
    assert body["data"]["dataset"]["sources"] == [{"uri": relative}]
    page = await client.get("/datasets", headers=viewer)
    assert page.status_code == 200 and relative in page.text
    _hides_the_server(page.text + str(body) + str(source), data_root)

    [full] = (await client.get(f"/api/v1/datasets/{dataset_id}/sources", headers=labeler)).json()
    assert full["uri"] == str(folder)
    assert str(folder) in (await client.get("/datasets", headers=labeler)).text


async def test_a_viewers_export_names_the_source_relative_to_its_data_root_in_every_format(
    client, accounts, session, settings, folder, data_root
):
    _, item_id, _ = await _failed_job_and_item(session, settings, folder)
    labeler, viewer = accounts["labeler"].headers, accounts["viewer"].headers
    dataset_id = (await client.get(f"/api/v1/items/{item_id}", headers=labeler)).json()["dataset_id"]
    made = await client.post(f"/api/v1/datasets/{dataset_id}/classes", json={"name": "a"}, headers=labeler)
    label = made.json()
    tagged = await client.post(
        f"/api/v1/datasets/{dataset_id}/tags",
        json={"item_ids": [item_id], "label_id": label["id"]},
        headers=labeler,
    )
    assert tagged.status_code == 201, tagged.text
    relative = f"{data_root.name}/{folder.relative_to(data_root)}"

    def exported(fmt: str, response) -> str:  # type: ignore[no-untyped-def]
        assert response.status_code == 200, response.text
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(response.content)).to_csv()
        if fmt == "zip":
            return zipfile.ZipFile(io.BytesIO(response.content)).read("labels.csv").decode()
        return response.text

    for fmt in ("csv", "json", "parquet", "zip"):
        url = f"/api/v1/datasets/{dataset_id}/export?format={fmt}"
        text = exported(fmt, await client.get(url, headers=viewer))
        assert relative in text, (fmt, text)
        _hides_the_server(text, data_root)
        assert str(folder) in exported(fmt, await client.get(url, headers=labeler)), fmt  # labelers: as is


async def test_the_datasets_page_offers_adding_a_dataset_only_to_those_who_may(client, accounts):
    """Every labeler's or viewer's visit asked for the admins' folder browser: a 403 in the console
    and a panel stuck on "loading folders"; the page says who adds datasets instead."""
    from tests.html import all_of, by_id, parse, text_of

    for role, may in (("viewer", False), ("labeler", False), ("trainer", False), ("admin", True)):
        page = parse((await client.get("/datasets", headers=accounts[role].headers)).text)
        asks = all_of(page, "//*[@hx-get='/datasets/browse']")
        assert bool(asks) == may, role
        assert bool(all_of(page, "//form[@id='create-form']")) == may, role
        if not may:
            assert "needs the admin role" in text_of(by_id(page, "create-not-yours"))
        answer = await client.get("/datasets/browse", headers=accounts[role].headers)
        assert (answer.status_code == 200) == may, (role, answer.status_code)
