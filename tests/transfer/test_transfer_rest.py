"""REST: label export as a streamed download, and CSV import with its report."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pyarrow.parquet as pq

from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


async def _labeled(client, folder):
    dataset = (await create_dataset(client, folder, count=4))["dataset"]
    ids = await item_ids(client, dataset["id"])
    ring = await add_class(client, dataset["id"], "ring")
    arc = await add_class(client, dataset["id"], "arc")
    first = await tag(client, dataset["id"], ids[:2], ring["id"])
    await tag(client, dataset["id"], ids[1:3], arc["id"])
    return dataset, ids, first


def _labels_of_csv(text: str) -> dict[int, str]:
    return {int(r["item_id"]): r["label"] for r in csv.DictReader(io.StringIO(text)) if r["label"]}


async def test_export_downloads_each_format_as_an_attachment(client, folder):
    dataset, ids, _ = await _labeled(client, folder)
    base = f"{API}/datasets/{dataset['id']}/export"
    response = await client.get(base)  # CSV by default
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="ds-{folder.name}-labels.csv"' in response.headers["content-disposition"]
    assert _labels_of_csv(response.text) == {ids[0]: "ring", ids[1]: "arc", ids[2]: "arc"}

    parquet = await client.get(base, params={"format": "parquet"})
    rows = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert {r["item_id"]: r["label"] for r in rows if r["label"]} == {
        ids[0]: "ring",
        ids[1]: "arc",
        ids[2]: "arc",
    }

    document = (await client.get(base, params={"format": "json"})).json()
    assert document["dataset"]["id"] == dataset["id"] and len(document["items"]) == 4

    archive = await client.get(base, params={"format": "zip"})
    assert archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(n.split("/")[0] for n in names if "/" in n) == ["arc", "arc", "ring"]


async def test_export_as_of_a_time_and_by_tagger(client, folder):
    dataset, ids, first = await _labeled(client, folder)
    base = f"{API}/datasets/{dataset['id']}/export"
    then = await client.get(base, params={"as_of": first["created_at"]})
    assert then.status_code == 200, then.text
    assert "-as-of-" in then.headers["content-disposition"]
    assert _labels_of_csv(then.text) == {ids[0]: "ring", ids[1]: "ring"}
    nobody = await client.get(base, params={"tagger": "someone-else"})
    assert _labels_of_csv(nobody.text) == {}
    mine = await client.get(base, params={"tagger": "tester", "format": "json", "unlabeled": "false"})
    assert [i["item_id"] for i in mine.json()["items"]] == [ids[0], ids[1], ids[2]]


async def test_export_errors_come_before_the_download(client, folder):
    dataset, *_ = await _labeled(client, folder)
    assert_error(await client.get(f"{API}/datasets/999999/export"), 404, "NOT_FOUND")
    assert_error(await client.get(f"{API}/datasets/{dataset['id']}/export?format=xlsx"), 400, "INVALID")
    both = await client.get(
        f"{API}/datasets/{dataset['id']}/export", params={"as_of": "2026-01-01T00:00:00", "tagger": "x"}
    )
    assert_error(both, 400, "INVALID", "not both")


async def test_import_reports_how_many_labeled_items_it_unlabeled(client, folder):
    """Rows with an empty label (an export's unlabeled items) clear labels: the report counts them."""
    dataset = (await create_dataset(client, folder, count=4))["dataset"]
    await add_class(client, dataset["id"], "ring")
    url, headers = f"{API}/datasets/{dataset['id']}/import", {"content-type": "text/csv"}
    labels = b"uri,label\nimg_000.png,ring\nimg_002.png,ring\n"
    first = await client.post(url, content=labels, headers=headers)
    assert first.status_code == 200 and first.json()["unlabeled"] == 0, first.text
    body = b"uri,label\nimg_000.png,\nsub/img_001.png,\nimg_002.png,\nsub/img_003.png,ring\n"
    report = (await client.post(url, content=body, headers=headers)).json()
    assert (report["accepted"], report["unlabeled"]) == (4, 2)
    event = (await client.get(f"{API}/events/{report['event_id']}")).json()["event"]
    assert event["parameters"]["unlabeled"] == 2


async def test_import_records_one_event_and_reports_refused_lines(client, folder):
    dataset = (await create_dataset(client, folder, count=4))["dataset"]
    await add_class(client, dataset["id"], "ring")
    body = "uri,label\nimg_000.png,ring\nsub/img_001.png,spots\nmissing.png,ring\n"
    response = await client.post(
        f"{API}/datasets/{dataset['id']}/import",
        content=body.encode(),
        headers={"content-type": "text/csv", "x-labelwise-tagger": "uploader"},
        params={"filename": "labels.csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["unknown_items"]) == (3, 1, 1)
    assert [r["line"] for r in report["refused"]] == [3, 4] and report["unknown_classes"] == ["spots"]
    event = (await client.get(f"{API}/events/{report['event_id']}")).json()["event"]
    assert (event["kind"], event["tagger"]) == ("import", "uploader")

    created = await client.post(
        f"{API}/datasets/{dataset['id']}/import",
        content=b"uri,label\nsub/img_001.png,spots\n",
        headers={"content-type": "text/csv"},
        params={"create_classes": "true"},
    )
    assert created.json()["created_classes"] == ["spots"]
    classes = (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json()
    assert [c["name"] for c in classes] == ["ring", "spots"]


async def test_malformed_upload_is_400_and_changes_nothing(client, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    await add_class(client, dataset["id"], "ring")
    before = await snapshot(client)
    response = await client.post(
        f"{API}/datasets/{dataset['id']}/import",
        content=b"uri,label\nimg_000.png,ring\nimg_001.png,ring,surplus\n",
        headers={"content-type": "text/csv"},
        params={"create_classes": "true"},
    )
    assert_error(response, 400, "INVALID", "line 3")
    assert await snapshot(client) == before


async def test_oversized_upload_is_413_and_changes_nothing(client_with, folder):
    async with client_with(max_request_bytes=300) as small:
        dataset = (await create_dataset(small, folder, count=2))["dataset"]
        await add_class(small, dataset["id"], "ring")
        before = await snapshot(small)
        body = "uri,label\n" + "img_000.png,ring\n" * 40  # 690 bytes
        response = await small.post(
            f"{API}/datasets/{dataset['id']}/import",
            content=body.encode(),
            headers={"content-type": "text/csv"},
        )
        assert_error(response, 413, "TOO_LARGE")
        assert await snapshot(small) == before


async def test_an_import_creating_classes_over_the_cap_is_400_naming_the_count(client_with, folder):
    async with client_with(max_classes_per_dataset=3) as capped:
        dataset = (await create_dataset(capped, folder, count=2, multi_label=True))["dataset"]
        await add_class(capped, dataset["id"], "ring")
        before = await snapshot(capped)
        body = "uri,label\n" + "".join(f"img_000.png,c{i}\n" for i in range(5))
        response = await capped.post(
            f"{API}/datasets/{dataset['id']}/import",
            content=body.encode(),
            headers={"content-type": "text/csv"},
            params={"create_classes": "true"},
        )
        error = assert_error(response, 400, "INVALID", "would create 5 new classes")
        assert "at most 3" in error["message"]
        assert await snapshot(capped) == before


async def test_exported_csv_imports_back_through_the_api(client, folder):
    dataset, ids, _ = await _labeled(client, folder)
    exported = (await client.get(f"{API}/datasets/{dataset['id']}/export")).content
    await tag(client, dataset["id"], ids, None, op="clear")
    response = await client.post(
        f"{API}/datasets/{dataset['id']}/import", content=exported, headers={"content-type": "text/csv"}
    )
    assert response.json()["refused"] == []
    labels = (await client.get(f"{API}/datasets/{dataset['id']}/labels")).json()
    classes = {
        c["id"]: c["name"] for c in (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json()
    }
    assert {r["item_id"]: [classes[i] for i in r["label_ids"]] for r in labels} == {
        ids[0]: ["ring"],
        ids[1]: ["arc"],
        ids[2]: ["arc"],
    }
    assert json.loads(json.dumps(labels))  # plain JSON back


async def test_classes_an_import_creates_get_a_color_each_and_the_next_free_keys(client, folder):
    """As a class added in the label page's panel: the next free keys (1-9, then letters), which
    the classes there already hold are skipped for, and a color of the palette no other class of
    the import or the dataset got before. They had no key (not labeled by key) and one color."""
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    await add_class(client, dataset["id"], "ring", hotkey="1")
    await add_class(client, dataset["id"], "arc", hotkey="3")
    response = await client.post(
        f"{API}/datasets/{dataset['id']}/import",
        content=b"uri,label\nimg_000.png,spots\nsub/img_001.png,streaks\nimg_002.png,halo\n",
        headers={"content-type": "text/csv"},
        params={"create_classes": "true"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created_classes"] == ["spots", "streaks", "halo"]
    classes = (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json()
    assert [(c["name"], c["hotkey"]) for c in classes] == [
        ("ring", "1"),
        ("arc", "3"),
        ("spots", "2"),
        ("streaks", "4"),
        ("halo", "5"),
    ]
    colors = [c["color"] for c in classes]
    assert len(set(colors)) == len(colors) and "#000000" not in colors
