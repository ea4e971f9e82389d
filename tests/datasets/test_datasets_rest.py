"""REST: datasets, sources, rescans and item pages, with the refusals that must change nothing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tests.factories import image_folder, write_png
from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


async def test_dataset_is_created_listed_and_read_back_with_counts(client, folder):
    created = await create_dataset(client, folder, count=4)
    assert created["scan"] == {"added": 4, "unreadable": 0, "missing": 0, "restored": 0}
    dataset = created["dataset"]
    assert dataset["name"] == f"ds-{folder.name}" and dataset["multi_label"] is False
    assert (dataset["item_count"], dataset["labeled_count"], dataset["unreadable_count"]) == (4, 0, 0)

    cat = await add_class(client, dataset["id"], "cat")
    await tag(client, dataset["id"], (await item_ids(client, dataset["id"]))[:3], cat["id"])
    listed = (await client.get(f"{API}/datasets")).json()
    assert [d["id"] for d in listed] == [dataset["id"]]
    assert listed[0]["labeled_count"] == 3
    one = (await client.get(f"{API}/datasets/{dataset['id']}")).json()
    assert one["labeled_count"] == 3 and one["item_count"] == 4


async def test_rename_and_multi_label_switch_through_patch(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    response = await client.patch(
        f"{API}/datasets/{dataset['id']}", json={"name": "  renamed ", "multi_label": True}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["multi_label"]) == ("renamed", True)
    assert (await client.get(f"{API}/datasets/{dataset['id']}")).json()["name"] == "renamed"


async def test_patch_to_a_taken_name_is_a_conflict_and_changes_nothing(client, data_root, folder):
    first = (await create_dataset(client, folder))["dataset"]
    other = data_root / f"{folder.name}-other"
    second = (await create_dataset(client, other, count=2))["dataset"]
    before = await snapshot(client)
    response = await client.patch(
        f"{API}/datasets/{second['id']}", json={"name": first["name"], "multi_label": True}
    )
    assert_error(response, 409, "CONFLICT", "already exists")
    assert await snapshot(client) == before


async def test_going_single_label_while_items_hold_two_labels_is_refused(client, folder):
    dataset = (await create_dataset(client, folder, multi_label=True))["dataset"]
    cat, dog = await add_class(client, dataset["id"], "cat"), await add_class(client, dataset["id"], "dog")
    ids = await item_ids(client, dataset["id"])
    await tag(client, dataset["id"], ids[:1], cat["id"], op="add")
    await tag(client, dataset["id"], ids[:1], dog["id"], op="add")
    before = await snapshot(client)
    response = await client.patch(f"{API}/datasets/{dataset['id']}", json={"multi_label": False})
    assert_error(response, 409, "CONFLICT", "several labels")
    assert await snapshot(client) == before


async def test_delete_removes_the_dataset_but_never_its_files(client, folder):
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    files = sorted(p for p in folder.rglob("*.png"))
    response = await client.delete(f"{API}/datasets/{dataset['id']}")
    assert response.status_code == 204
    assert_error(await client.get(f"{API}/datasets/{dataset['id']}"), 404, "NOT_FOUND")
    assert sorted(p for p in folder.rglob("*.png")) == files and len(files) == 3


async def test_unknown_dataset_ids_are_404_with_not_found_code(client):
    for method, path in [
        ("get", "/datasets/999999"),
        ("delete", "/datasets/999999"),
        ("get", "/datasets/999999/sources"),
        ("get", "/datasets/999999/items"),
        ("post", "/datasets/999999/rescan"),
        ("get", "/datasets/999999/classes"),
        ("get", "/datasets/999999/events"),
        ("get", "/datasets/999999/labels"),
        ("get", "/datasets/999999/progress"),
        ("post", "/datasets/999999/undo-last"),
        ("post", "/datasets/999999/redo-last"),
    ]:
        error = assert_error(await getattr(client, method)(f"{API}{path}"), 404, "NOT_FOUND")
        assert "999999" in error["message"], (method, path)
    response = await client.patch(f"{API}/datasets/999999", json={"name": "x"})
    assert_error(response, 404, "NOT_FOUND")
    response = await client.post(f"{API}/datasets/999999/sources", json={"source": "anything"})
    assert_error(response, 404, "NOT_FOUND")


async def test_duplicate_dataset_name_is_a_conflict(client, data_root, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    other = image_folder(data_root / f"{folder.name}-2", count=2)
    before = await snapshot(client)
    response = await client.post(f"{API}/datasets", json={"name": dataset["name"], "sources": [str(other)]})
    assert_error(response, 409, "CONFLICT", "already exists")
    assert await snapshot(client) == before


async def test_empty_folder_is_refused_and_nothing_is_created(client, folder):
    response = await client.post(f"{API}/datasets", json={"name": "empty", "sources": [str(folder)]})
    assert_error(response, 400, "INVALID", "holds no images")
    assert (await client.get(f"{API}/datasets")).json() == []


async def test_folders_outside_the_roots_or_with_dotdot_are_forbidden(client, data_root, folder, tmp_path):
    image_folder(folder, count=2)
    outside = image_folder(tmp_path / "outside", count=2)
    cases = [str(outside), f"{folder.name}/../{folder.name}", f"{folder}/../../etc"]
    for spec in cases:
        response = await client.post(f"{API}/datasets", json={"name": "sneaky", "sources": [spec]})
        assert_error(response, 403, "FORBIDDEN")
    assert (await client.get(f"{API}/datasets")).json() == []


async def test_missing_folder_and_missing_fields_are_clear_errors(client, folder):
    response = await client.post(f"{API}/datasets", json={"name": "x", "sources": [f"{folder}/nope"]})
    assert_error(response, 404, "NOT_FOUND", "does not exist")
    response = await client.post(f"{API}/datasets", json={"name": "x"})
    assert_error(response, 400, "INVALID", "sources")
    response = await client.post(f"{API}/datasets", json={"name": "   ", "sources": [str(folder)]})
    assert_error(response, 400, "INVALID", "name is required")
    response = await client.post(f"{API}/datasets", json={"name": "x", "sources": [str(folder)], "extra": 1})
    assert_error(response, 400, "INVALID", "unknown field `extra`")


async def test_non_image_and_corrupt_files_become_unreadable_items_with_reasons(client, folder):
    image_folder(folder, count=2, corrupt=1)
    (folder / "text.tif").write_text("not a tiff at all")
    np.save(folder / "strings.npy", np.array(["a", "b"]))
    response = await client.post(f"{API}/datasets", json={"name": "broken", "sources": [str(folder)]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["scan"]["added"] == 5 and body["scan"]["unreadable"] == 3
    assert body["dataset"]["unreadable_count"] == 3
    page = await client.get(f"{API}/datasets/{body['dataset']['id']}/items", params={"filter": "unreadable"})
    bad = page.json()["items"]
    assert {i["uri"] for i in bad} == {"broken_0.png", "text.tif", "strings.npy"}
    assert all(i["status"] == "unreadable" and i["error"] for i in bad)


async def test_a_file_name_that_is_not_utf8_is_one_unreadable_item_not_a_failed_scan(client, folder):
    image_folder(folder, count=2)
    write_png(Path(os.fsdecode(os.fsencode(folder) + b"/odd \xff name.png")))
    response = await client.post(f"{API}/datasets", json={"name": "odd names", "sources": [str(folder)]})
    assert response.status_code == 201, response.text
    assert response.json()["scan"] == {"added": 3, "unreadable": 1, "missing": 0, "restored": 0}
    dataset_id = response.json()["dataset"]["id"]
    bad = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"filter": "unreadable"})).json()
    assert [(i["uri"], i["status"]) for i in bad["items"]] == [("odd \\xff name.png", "unreadable")]
    assert "not UTF-8" in bad["items"][0]["error"]
    response = await client.post(f"{API}/datasets/{dataset_id}/rescan")
    assert response.json() == {"added": 0, "unreadable": 0, "missing": 0, "restored": 0}


async def test_empty_and_unidentified_files_say_so_without_the_server_path(client, folder):
    image_folder(folder, count=1)
    (folder / "empty.tif").write_bytes(b"")
    (folder / "empty.h5").write_bytes(b"")
    (folder / "noise.png").write_bytes(b"no image in here")
    response = await client.post(f"{API}/datasets", json={"name": "empties", "sources": [str(folder)]})
    assert response.status_code == 201, response.text
    dataset_id = response.json()["dataset"]["id"]
    bad = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"filter": "unreadable"})).json()
    errors = {i["uri"]: i["error"] for i in bad["items"]}
    assert errors == {
        "empty.h5": "empty.h5 is empty (0 bytes)",
        "empty.tif": "empty.tif is empty (0 bytes)",
        "noise.png": "cannot read noise.png: not a PNG image",
    }


async def test_sources_are_listed_without_api_keys_and_new_ones_are_scanned(client, data_root, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    extra = image_folder(data_root / f"{folder.name}-extra", count=3)
    response = await client.post(
        f"{API}/datasets/{dataset['id']}/sources", json={"source": str(extra), "api_key": "s3cret-key"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["added"] == 3
    response = await client.get(f"{API}/datasets/{dataset['id']}/sources")
    sources = response.json()
    assert [s["uri"] for s in sources] == [str(folder), str(extra)]
    assert all(s["kind"] == "folder" and s["scanned_at"] for s in sources)
    assert sources[1]["has_api_key"] is False  # folders need no key: it is not even kept
    assert "s3cret-key" not in response.text and "api_key" not in sources[0]
    # new items go after the old ones
    items = (await client.get(f"{API}/datasets/{dataset['id']}/items")).json()["items"]
    assert [i["position"] for i in items] == list(range(5))
    assert [i["source_id"] for i in items][-3:] == [sources[1]["id"]] * 3


async def test_adding_the_same_source_twice_is_a_conflict(client, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    before = await snapshot(client)
    response = await client.post(f"{API}/datasets/{dataset['id']}/sources", json={"source": str(folder)})
    assert_error(response, 409, "CONFLICT", "already a source")
    assert await snapshot(client) == before


async def test_rescan_picks_up_new_files_and_marks_vanished_ones(client, folder):
    dataset = (await create_dataset(client, folder, count=3))["dataset"]
    write_png(folder / "zz_new.png", seed=42)
    (folder / "img_000.png").unlink()
    response = await client.post(f"{API}/datasets/{dataset['id']}/rescan")
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 1, "unreadable": 0, "missing": 1, "restored": 0}
    gone = (await client.get(f"{API}/datasets/{dataset['id']}/items", params={"filter": "unreadable"})).json()
    assert [(i["uri"], i["status"]) for i in gone["items"]] == [("img_000.png", "missing")]


async def test_rescan_rereads_files_that_were_unreadable_and_files_that_came_back_broken(client, folder):
    image_folder(folder, count=2)
    (folder / "late.png").write_bytes(b"")  # the detector had not written it yet
    dataset = (await client.post(f"{API}/datasets", json={"name": "late", "sources": [str(folder)]})).json()
    dataset_id = dataset["dataset"]["id"]
    cat = await add_class(client, dataset_id, "cat")
    await tag(client, dataset_id, (await item_ids(client, dataset_id))[:1], cat["id"])
    write_png(folder / "late.png", seed=7, size=(40, 24))
    broken = (folder / "img_000.png").read_bytes()
    (folder / "img_000.png").unlink()
    response = await client.post(f"{API}/datasets/{dataset_id}/rescan")
    assert response.json() == {"added": 0, "unreadable": 0, "missing": 1, "restored": 1}
    (folder / "img_000.png").write_bytes(broken[:100])  # back, but truncated
    response = await client.post(f"{API}/datasets/{dataset_id}/rescan")
    assert response.json() == {"added": 0, "unreadable": 1, "missing": 0, "restored": 0}
    items = {i["uri"]: i for i in (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]}
    late, back = items["late.png"], items["img_000.png"]
    assert (late["status"], late["error"], late["height"], late["width"]) == ("ok", None, 24, 40)
    assert back["status"] == "unreadable" and "img_000.png" in back["error"]
    assert back["label_ids"] == [cat["id"]]  # the label stays with the item
    summary = (await client.get(f"{API}/datasets/{dataset_id}")).json()
    assert (summary["item_count"], summary["unreadable_count"], summary["labeled_count"]) == (3, 1, 1)
    assert (await client.get(f"/thumbs/{late['id']}", params={"size": 64})).status_code == 200
    assert (await client.post(f"{API}/datasets/{dataset_id}/rescan")).json() == {
        "added": 0, "unreadable": 0, "missing": 0, "restored": 0
    }  # fmt: skip


async def test_a_file_rewritten_under_its_name_shows_its_new_pixels_after_a_rescan(client, folder):
    """The thumbnail cache answered the old file's picture for ever: its URLs did not change."""
    from tests.html import all_of, attr, parse

    dataset_id = (await create_dataset(client, folder, count=1))["dataset"]["id"]

    async def thumbnail() -> bytes:
        page = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
        (src,) = {attr(img, "src") for img in all_of(page, "//img[contains(@src, '/thumbs/')]")}
        answer = await client.get(src)
        assert answer.status_code == 200, answer.text
        return answer.content

    before = await thumbnail()
    assert await thumbnail() == before  # cached
    write_png(folder / "img_000.png", seed=99)
    assert (await client.post(f"{API}/datasets/{dataset_id}/rescan")).status_code == 200
    assert await thumbnail() != before


async def test_item_pages_filter_by_label_state_and_class_and_sort_by_label(client, folder):
    dataset = (await create_dataset(client, folder, count=6))["dataset"]
    base = f"{API}/datasets/{dataset['id']}/items"
    ids = await item_ids(client, dataset["id"])
    cat, dog = await add_class(client, dataset["id"], "cat"), await add_class(client, dataset["id"], "dog")
    await tag(client, dataset["id"], ids[4:6], cat["id"])
    await tag(client, dataset["id"], ids[1:2], dog["id"])

    page = (await client.get(base, params={"offset": 2, "limit": 3})).json()
    assert (page["total"], page["offset"], page["limit"]) == (6, 2, 3)
    assert [i["id"] for i in page["items"]] == ids[2:5]
    first = page["items"][0]
    assert set(first) >= {"id", "uri", "frame", "position", "height", "width", "status", "error", "label_ids"}
    assert (first["height"], first["width"], first["status"]) == (32, 32, "ok")

    labeled = (await client.get(base, params={"filter": "labeled"})).json()
    assert [i["id"] for i in labeled["items"]] == [ids[1], ids[4], ids[5]]
    assert labeled["items"][0]["label_ids"] == [dog["id"]]
    unlabeled = (await client.get(base, params={"filter": "unlabeled"})).json()
    assert unlabeled["total"] == 3
    cats = (await client.get(base, params={"label_id": cat["id"]})).json()
    assert [i["id"] for i in cats["items"]] == ids[4:6]
    by_label = (await client.get(base, params={"sort": "label"})).json()
    assert [i["id"] for i in by_label["items"]] == [ids[4], ids[5], ids[1], ids[0], ids[2], ids[3]]


async def test_item_page_over_the_cap_and_bad_paging_are_400(client, settings, folder):
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    base = f"{API}/datasets/{dataset['id']}/items"
    over = settings.max_page_size + 1
    assert_error(await client.get(base, params={"limit": over}), 400, "INVALID", f"at most {over - 1}")
    assert_error(await client.get(base, params={"limit": 0}), 400, "INVALID", "limit")
    assert_error(await client.get(base, params={"offset": -1}), 400, "INVALID", "offset")
    assert_error(await client.get(base, params={"filter": "everything"}), 400, "INVALID", "filter")
    assert_error(await client.get(base, params={"sort": "random"}), 400, "INVALID", "sort")
    assert_error(await client.get(base, params={"limit": "many"}), 400, "INVALID", "limit")
    assert (await client.get(base, params={"limit": over - 1})).status_code == 200
