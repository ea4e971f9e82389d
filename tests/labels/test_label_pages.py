"""The label and datasets pages through the real app (no browser): HTML, HTMX answers, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tifffile
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import event

from backend.pages.item_view import histogram
from tests.helpers.pages import csrf_headers, make_dataset
from tests.html import (
    HtmlElement,
    all_of,
    attr,
    by_id,
    classes,
    fragment,
    has_class,
    maybe_one,
    one,
    parse,
    text_of,
)

API = "/api/v1"


def tiles(doc: HtmlElement) -> list[HtmlElement]:
    """The gallery's tiles (figures of class ``tile``), in page order."""
    return all_of(doc, f".//figure[{has_class('tile')}]")


async def ids_of(client: AsyncTestClient, dataset_id: int, status: str | None = None) -> list[int]:
    response = await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})
    return [item["id"] for item in response.json()["items"] if status in (None, item["status"])]


async def add_class(client: AsyncTestClient, dataset_id: int, name: str, hotkey: str = "") -> int:
    response = await client.post(
        f"{API}/datasets/{dataset_id}/classes", json={"name": name, "hotkey": hotkey}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def labels(client: AsyncTestClient, dataset_id: int) -> dict[int, list[int]]:
    response = await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})
    return {item["id"]: item["label_ids"] for item in response.json()["items"] if item["label_ids"]}


async def events(client: AsyncTestClient, dataset_id: int) -> list[dict]:
    return (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]


async def test_forms_without_the_csrf_token_are_refused_and_change_nothing(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    refused = await client.post(
        f"/datasets/{dataset_id}/label/tag", data={"items": str(ids[0]), "label": rings, "op": "set"}
    )
    assert refused.status_code == 403
    forged = await client.post(
        f"/datasets/{dataset_id}/label/tag",
        data={"items": str(ids[0]), "label": rings},
        headers={"x-csrftoken": "0" * 128},
    )
    assert forged.status_code == 403
    assert await labels(client, dataset_id) == {}
    assert (await client.post(f"/datasets/{dataset_id}/delete")).status_code == 403
    assert (await client.get(f"{API}/datasets/{dataset_id}")).status_code == 200
    # The JSON API is not a form: it needs no token.
    assert (
        await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids[:1], "label_id": rings})
    ).status_code == 201


async def test_datasets_page_lists_sizes_and_progress(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=4, corrupt=1)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids[:2], "label_id": rings})
    page = await client.get("/datasets")
    assert page.status_code == 200
    row = by_id(parse(page.text), f"dataset-{dataset_id}")
    assert row.tag == "tr"
    assert (row.xpath("./td")[1].text or "").strip() == "5"  # the item count, before the unreadable note
    assert "2 / 5 (40.0%)" in text_of(row)
    assert "1 unreadable" in text_of(row)


async def test_creating_a_dataset_needs_folders_and_a_free_name(
    client: AsyncTestClient, folder: Path
) -> None:
    headers = await csrf_headers(client)
    none = await client.post("/datasets", data={"name": "x"}, headers=headers)
    assert none.status_code == 400 and "pick at least one folder" in none.text
    outside = await client.post("/datasets", data={"name": "x", "sources": ["/etc"]}, headers=headers)
    assert outside.status_code == 403 and "outside the data roots" in outside.text
    dataset_id = await make_dataset(client, folder, count=2)
    name = (await client.get(f"{API}/datasets/{dataset_id}")).json()["name"]
    twice = await client.post("/datasets", data={"name": name, "sources": [str(folder)]}, headers=headers)
    assert twice.status_code == 409 and "already exists" in twice.text
    assert len((await client.get(f"{API}/datasets")).json()) == 1


async def test_the_folder_browser_stays_inside_the_data_roots(
    client: AsyncTestClient, folder: Path, data_root: Path
) -> None:
    (folder / "inner").mkdir()
    roots = await client.get("/datasets/browse")
    assert str(data_root) in roots.text
    listing = await client.get("/datasets/browse", params={"path": str(folder)})
    assert listing.status_code == 200
    picks = [attr(e, "data-pick-folder") for e in all_of(parse(listing.text), "//*[@data-pick-folder]")]
    assert str(folder / "inner") in picks
    assert (await client.get("/datasets/browse", params={"path": "/etc"})).status_code == 403
    # a folder counts the images below it too, as adding it finds them (the demo root read "0 images")
    from tests.factories import image_folder

    image_folder(folder / "inner" / "deeper", count=3)
    listed = parse((await client.get("/datasets/browse", params={"path": str(folder)})).text)
    inner = one(listed, f"//li[.//*[@data-pick-folder='{folder / 'inner'}']]")
    assert "3 images" in text_of(inner)
    escape = await client.get("/datasets/browse", params={"path": f"{folder}/../.."})
    assert escape.status_code == 403 and "is not allowed in folder paths" in escape.text


async def test_the_folder_browser_leaves_out_a_folder_whose_name_is_not_utf8(
    client: AsyncTestClient, folder: Path
) -> None:
    (folder / "fine").mkdir()
    Path(os.fsdecode(os.fsencode(folder) + b"/run\xff7")).mkdir()
    listing = await client.get("/datasets/browse", params={"path": str(folder)})
    assert listing.status_code == 200, listing.text
    doc = parse(listing.text)
    picks = [attr(e, "data-pick-folder") for e in all_of(doc, "//*[@data-pick-folder]")]
    assert picks == [str(folder), str(folder / "fine")]
    assert text_of(one(doc, f"//p[{has_class('not-utf8')}]")) == (
        "Left out: 1 folder whose name is not UTF-8 text (rename to add)."
    )


async def test_the_pixel_readout_tells_nan_and_infinities_apart(
    client: AsyncTestClient, folder: Path
) -> None:
    frame = np.ones((16, 16), np.float32)
    frame[1, 2], frame[1, 3], frame[1, 4] = np.nan, np.inf, -np.inf
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "reduced.tif", frame)
    dataset_id = await make_dataset(client, folder, count=1)
    item = next(
        i
        for i in (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
        if i["uri"] == "reduced.tif"
    )
    values = []
    for x in (0, 2, 3, 4):
        response = await client.get(f"/items/{item['id']}/pixel", params={"x": x, "y": 1})
        assert response.status_code == 200, response.text
        values.append(response.json()["value"])
    assert values == [1.0, "NaN", "Infinity", "-Infinity"]  # null read 0 under the cursor


async def test_the_pixel_readout_gives_32_bit_detector_counts_exactly(
    client: AsyncTestClient, folder: Path
) -> None:
    """An Eiger's saturated 4294967295 (uint32, bitshuffle/LZ4 through a master file) and a
    Pilatus EDF's int32 counts above 2**24: read through float32 they came out rounded
    (4294967296, 2147483648, 16777216) and typed float32."""
    import h5py
    import hdf5plugin

    from tests.detector.factories import write_edf

    folder.mkdir(parents=True, exist_ok=True)
    stack = np.full((2, 16, 16), 7, np.uint32)
    stack[1, 3, 4] = np.iinfo(np.uint32).max
    stack[1, 5, 6] = 2**24 + 1
    with h5py.File(folder / "series_data_000001.h5", "w") as data:
        data.create_dataset("entry/data/data", data=stack, chunks=(1, 16, 16), **hdf5plugin.Bitshuffle())
    with h5py.File(folder / "series_master.h5", "w") as master:
        master["entry/data/data_000001"] = h5py.ExternalLink("series_data_000001.h5", "/entry/data/data")
    edf = np.full((16, 16), 3, np.int32)
    edf[2, 2], edf[2, 3] = np.iinfo(np.int32).max, 2**24 + 3
    write_edf(folder / "pilatus.edf", [edf], [{}])
    response = await client.post(
        "/datasets", data={"name": "counts", "sources": [str(folder)]}, headers=await csrf_headers(client)
    )
    assert response.status_code == 200, response.text
    dataset_id = int(response.headers["hx-redirect"].split("/")[2])
    items = {
        (i["uri"], i["frame"]): i["id"]
        for i in (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
    }
    read = {}
    for (uri, frame, x, y), expected in {
        ("series_master.h5", 1, 4, 3): int(stack[1, 3, 4]),
        ("series_master.h5", 1, 6, 5): int(stack[1, 5, 6]),
        ("series_master.h5", 0, 4, 3): 7,
        ("pilatus.edf", 0, 2, 2): int(edf[2, 2]),
        ("pilatus.edf", 0, 3, 2): int(edf[2, 3]),
    }.items():
        response = await client.get(f"/items/{items[(uri, frame)]}/pixel", params={"x": x, "y": y})
        assert response.status_code == 200, response.text
        read[(uri, frame, x, y)] = (response.json()["value"], expected, response.json()["dtype"])
    assert all(value == expected for value, expected, _ in read.values()), read
    assert {key[0]: dtype for key, (_, _, dtype) in read.items()} == {
        "series_master.h5": "uint32",
        "pilatus.edf": "int32",
    }


async def test_the_pixel_readout_says_which_pixels_the_sources_mask_takes_out(
    client: AsyncTestClient, folder: Path
) -> None:
    """A pixel in the mask file's module gap, or taken out by a rule (Pilatus's -1), read like any
    other: nothing said it is left out of the display, the histogram and the models."""
    from tests.detector.factories import write_edf

    frame = np.full((16, 20), 5, np.int32)
    frame[2, 3] = -1
    write_edf(folder / "pilatus.edf", [frame], [{}])
    calib = folder.parent / f"{folder.name}-calib"
    calib.mkdir()
    gap = np.zeros((16, 20), np.uint8)
    gap[8:10, :] = 1
    np.save(calib / "mask.npy", gap)
    headers = await csrf_headers(client)
    response = await client.post(
        "/datasets", data={"name": "masked", "sources": [str(folder)]}, headers=headers
    )
    assert response.status_code == 200, response.text
    dataset_id = int(response.headers["hx-redirect"].split("/")[2])
    source = (await client.get(f"{API}/datasets/{dataset_id}/sources")).json()[0]
    patched = await client.patch(
        f"{API}/datasets/{dataset_id}/sources/{source['id']}",
        json={"mask_path": str(calib / "mask.npy"), "mask_rules": ["negative"]},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][0]["id"]
    read = {}
    for x, y in ((0, 0), (4, 8), (19, 9), (3, 2), (4, 2)):
        response = await client.get(f"/items/{item}/pixel", params={"x": x, "y": y})
        assert response.status_code == 200, response.text
        read[(x, y)] = (response.json()["value"], response.json().get("masked"))
    assert read == {
        (0, 0): (5, False),
        (4, 8): (5, True),  # the mask file's gap
        (19, 9): (5, True),
        (3, 2): (-1, True),  # the "negative" rule
        (4, 2): (5, False),
    }


async def test_the_pixel_readout_decodes_a_frame_once_for_many_moves_and_again_when_it_changes(
    client: AsyncTestClient, folder: Path, monkeypatch
) -> None:
    """Every mouse move over the item view decoded the whole frame again (a 4k x 4k detector
    frame per move). The frame is kept while its file is unchanged: a file written again (its
    modification time) is read again, and so is a frame whose source's mask changed."""
    from backend.images import decode

    reads: list[str] = []
    read_file = decode.read_file

    def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(path.name)
        return read_file(path, *args, **kwargs)

    monkeypatch.setattr(decode, "read_file", counting)
    frame = np.arange(32 * 40, dtype=np.int32).reshape(32, 40)
    np.save(folder / "frame.npy", frame)
    created = await client.post(f"{API}/datasets", json={"name": "moves", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    dataset_id = created.json()["dataset"]["id"]
    item = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"][0]["id"]

    async def value(x: int, y: int) -> tuple[object, object]:
        response = await client.get(f"/items/{item}/pixel", params={"x": x, "y": y})
        assert response.status_code == 200, response.text
        return response.json()["value"], response.json()["masked"]

    reads.clear()
    moves = [(0, 0), (1, 0), (2, 1), (39, 31), (7, 5)]
    assert [await value(x, y) for x, y in moves] == [(int(frame[y, x]), False) for x, y in moves]
    assert reads == ["frame.npy"]

    changed = -frame
    np.save(folder / "frame.npy", changed)  # the same size: only the modification time says so
    stat = (folder / "frame.npy").stat()
    os.utime(folder / "frame.npy", ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert [await value(x, y) for x, y in moves] == [(int(changed[y, x]), False) for x, y in moves]
    assert reads == ["frame.npy"] * 2

    source = (await client.get(f"{API}/datasets/{dataset_id}/sources")).json()[0]
    patched = await client.patch(
        f"{API}/datasets/{dataset_id}/sources/{source['id']}",
        json={"mask_rules": ["negative"]},
        headers=await csrf_headers(client),
    )
    assert patched.status_code == 200, patched.text
    assert await value(1, 0) == (-1, True) and await value(0, 0) == (0, False)
    assert reads == ["frame.npy"] * 3


async def test_the_first_frame_of_a_stack_is_marked_as_a_frame_like_the_others(
    client: AsyncTestClient, folder: Path
) -> None:
    """Gallery captions read "run.edf", "run.edf [1]", "run.edf [2]" and the item view gave no frame
    for the first: it looked like a file of one frame beside the stack. A file of one frame still
    shows none."""
    from tests.detector.factories import FRAME, write_edf

    write_edf(folder / "run.edf", [FRAME, FRAME + 1, FRAME + 2], [{}, {}, {}])
    write_edf(folder / "single.edf", [FRAME], [{}])
    response = await client.post(
        "/datasets", data={"name": "frames", "sources": [str(folder)]}, headers=await csrf_headers(client)
    )
    assert response.status_code == 200, response.text
    dataset_id = int(response.headers["hx-redirect"].split("/")[2])
    gallery = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    captions = sorted(text_of(e) for e in all_of(gallery, "//figure[contains(@class, 'tile')]/figcaption"))
    assert captions == ["run.edf [0]", "run.edf [1]", "run.edf [2]", "single.edf"]
    items = {
        (i["uri"], i["frame"]): i["id"]
        for i in (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
    }
    frames = {}
    for key, item_id in items.items():
        page = parse((await client.get(f"/items/{item_id}")).text)
        found = all_of(page, "//*[@id='item-frame']")
        frames[key] = text_of(found[0]) if found else None
    assert frames == {
        ("run.edf", 0): "0 of 0\u20132",
        ("run.edf", 1): "1 of 0\u20132",
        ("run.edf", 2): "2 of 0\u20132",
        ("single.edf", 0): None,
    }


async def test_the_item_view_of_an_unreadable_file_says_its_shape_is_unknown(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=1, corrupt=1)
    items = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
    shapes, tools = {}, {}
    for item in items:
        page = parse((await client.get(f"/items/{item['id']}")).text)
        shapes[item["status"]] = text_of(one(page, "//dt[.='Shape']/following-sibling::dd[1]"))
        similar, zoom = all_of(page, "//*[@id='find-similar']"), all_of(page, "//*[@data-zoom]")
        tools[item["status"]] = (len(similar), len(zoom))
    # an unreadable file read "None x None"
    assert shapes == {"ok": "32 \u00d7 32 L", "unreadable": "unknown: the file was not read"}
    # and offered "Find similar" (it has no vectors) and zoom buttons (no pixels)
    assert tools == {"ok": (1, 3), "unreadable": (0, 0)}


async def test_rescan_add_folder_and_delete_from_the_datasets_page(
    client: AsyncTestClient, folder: Path, data_root: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=2)
    headers = await csrf_headers(client)
    (folder / "new.png").write_bytes((folder / "img_000.png").read_bytes())
    rescanned = await client.post(f"/datasets/{dataset_id}/rescan", headers=headers)
    assert rescanned.status_code == 200 and "1 added" in rescanned.text
    other = data_root / f"{folder.name}-more"
    from tests.factories import image_folder

    image_folder(other, count=3)
    added = await client.post(
        f"/datasets/{dataset_id}/sources", data={"sources": str(other)}, headers=headers
    )
    assert added.status_code == 200 and "3 added" in added.text
    assert (await client.get(f"{API}/datasets/{dataset_id}")).json()["item_count"] == 6
    deleted = await client.post(f"/datasets/{dataset_id}/delete", headers=headers)
    assert deleted.status_code == 200 and "image files were not touched" in deleted.text
    assert (await client.get(f"{API}/datasets/{dataset_id}")).status_code == 404
    assert (folder / "img_000.png").exists()


async def test_label_page_keeps_view_state_in_every_link(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=30)
    page = await client.get(f"/datasets/{dataset_id}/label", params={"per_page": 24, "log": 1, "p_low": 2})
    assert page.status_code == 200
    doc = parse(page.text)
    assert len(tiles(doc)) == 24
    next_links = [attr(a, "href") for a in all_of(doc, "//a[@rel='next']")]
    assert next_links and all("page=2" in h and "log=1" in h and "p_low=2" in h for h in next_links)
    thumbs = [attr(img, "src") for img in all_of(doc, "//img[starts-with(@src, '/thumbs/')]")]
    assert thumbs and all("log=1&p_low=2" in src for src in thumbs)
    partial = await client.get(
        f"/datasets/{dataset_id}/label", params={"per_page": 24, "page": 2}, headers={"hx-request": "true"}
    )
    gallery = fragment(partial.text)[0]
    assert (gallery.tag, gallery.get("id")) == ("section", "gallery")
    assert len(tiles(gallery)) == 6


async def test_bad_view_parameters_are_refused_with_a_page_that_says_why(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=2)
    bad = await client.get(f"/datasets/{dataset_id}/label", params={"per_page": 7})
    assert bad.status_code == 400 and "per_page must be one of 24, 48, 96, 200" in bad.text
    assert "<html" in bad.text
    swapped = await client.get(f"/datasets/{dataset_id}/label", params={"p_low": 90, "p_high": 10})
    assert swapped.status_code == 400 and "percentile" in swapped.text
    missing = await client.get("/datasets/999999/label")
    assert missing.status_code == 404 and "does not exist" in missing.text
    htmx = await client.get("/datasets/999999/label", headers={"hx-request": "true"})
    assert htmx.status_code == 404 and htmx.headers["content-type"].startswith("text/plain")


async def test_a_double_submit_records_one_event_and_undo_redo_follow_it(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=4)
    rings = await add_class(client, dataset_id, "rings", "r")
    ids = await ids_of(client, dataset_id)
    headers = await csrf_headers(client, f"/datasets/{dataset_id}/label")
    form = {
        "items": f"{ids[0]},{ids[1]}",
        "label": str(rings),
        "op": "set",
        "visible": ",".join(map(str, ids)),
    }
    first = await client.post(f"/datasets/{dataset_id}/label/tag", data=form, headers=headers)
    assert first.status_code == 200 and "Labeled 2 item(s) as &#39;rings&#39;" in first.text
    assert attr(by_id(parse(first.text), f"marks-{ids[0]}"), "hx-swap-oob") == "true"
    again = await client.post(f"/datasets/{dataset_id}/label/tag", data=form, headers=headers)
    assert "Nothing to change" in again.text
    assert len(await events(client, dataset_id)) == 1
    undone = await client.post(f"/datasets/{dataset_id}/label/undo", data=form, headers=headers)
    assert "Undid event" in undone.text and undone.headers.get("hx-trigger") == "refresh-gallery"
    assert await labels(client, dataset_id) == {}
    redone = await client.post(f"/datasets/{dataset_id}/label/redo", data=form, headers=headers)
    assert "Redid event" in redone.text
    assert await labels(client, dataset_id) == {ids[0]: [rings], ids[1]: [rings]}
    tagger = (await events(client, dataset_id))[0]["tagger"]
    assert tagger == "tester"


async def test_labels_carry_the_tagger_of_the_browser(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=2)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    headers = await csrf_headers(client)
    named = await client.post("/tagger", data={"tagger": "ada lovelace"}, headers=headers)
    assert named.status_code == 200
    page = await client.get(f"/datasets/{dataset_id}/label")
    name = by_id(parse(page.text), "tagger-name")
    assert (name.tag, name.text_content()) == ("strong", "ada lovelace")
    await client.post(
        f"/datasets/{dataset_id}/label/tag", data={"items": str(ids[0]), "label": rings}, headers=headers
    )
    assert (await events(client, dataset_id))[0]["tagger"] == "ada lovelace"
    bad = await client.post("/tagger", data={"tagger": "<script>"}, headers=headers)
    assert bad.status_code == 400


async def test_labeling_with_a_class_deleted_elsewhere_labels_nothing_and_repaints(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    peaks = await add_class(client, dataset_id, "peaks")
    ids = await ids_of(client, dataset_id)
    assert (await client.delete(f"{API}/classes/{peaks}")).status_code in (200, 204)
    headers = await csrf_headers(client)
    answer = await client.post(
        f"/datasets/{dataset_id}/label/tag", data={"items": str(ids[0]), "label": peaks}, headers=headers
    )
    assert "no longer exists" in answer.text
    doc = parse(answer.text)
    labelbar = by_id(doc, "labelbar")
    assert not all_of(doc, f"//*[@data-label='{peaks}']")
    assert all_of(labelbar, f".//*[@data-label='{rings}']")
    assert await labels(client, dataset_id) == {}


async def test_items_gone_since_the_page_loaded_are_skipped_and_the_rest_labeled(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    headers = await csrf_headers(client)
    answer = await client.post(
        f"/datasets/{dataset_id}/label/tag",
        data={"items": f"{ids[0]},99999999", "label": rings},
        headers=headers,
    )
    assert answer.status_code == 200 and "1 item(s) no longer exist and were skipped" in answer.text
    assert await labels(client, dataset_id) == {ids[0]: [rings]}
    empty = await client.post(f"/datasets/{dataset_id}/label/tag", data={"label": rings}, headers=headers)
    assert empty.status_code == 400 and "select one or more items" in empty.text
    junk = await client.post(
        f"/datasets/{dataset_id}/label/tag", data={"items": "1,x", "label": rings}, headers=headers
    )
    assert junk.status_code == 400


async def test_class_panel_adds_renames_rekeys_and_deletes(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=3)
    headers = await csrf_headers(client)
    added = await client.post(
        f"/datasets/{dataset_id}/classes",
        data={"name": "rings", "hotkey": "r", "color": "#123456"},
        headers=headers,
    )
    assert added.status_code == 200 and "Added class &#39;rings&#39; (key r)" in added.text
    rings = (await client.get(f"{API}/datasets/{dataset_id}/classes")).json()[0]["id"]
    taken = await client.post(
        f"/datasets/{dataset_id}/classes", data={"name": "x", "hotkey": "r"}, headers=headers
    )
    assert taken.status_code == 409 and "already used" in taken.text
    reserved = await client.post(
        f"/datasets/{dataset_id}/classes", data={"name": "y", "hotkey": "z"}, headers=headers
    )
    assert reserved.status_code == 400 and "reserved" in reserved.text
    edited = await client.post(
        f"/classes/{rings}/edit", data={"name": "Rings", "color": "#abcdef", "hotkey": ""}, headers=headers
    )
    assert edited.status_code == 200
    stored = (await client.get(f"{API}/classes/{rings}")).json()
    assert (stored["name"], stored["color"], stored["hotkey"]) == ("Rings", "#abcdef", None)
    ids = await ids_of(client, dataset_id)
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids[:2], "label_id": rings})
    page = await client.get(f"/datasets/{dataset_id}/label")
    assert "It holds 2 item(s)" in page.text
    deleted = await client.post(f"/classes/{rings}/delete", headers=headers)
    assert "2 item(s) were unlabeled" in deleted.text
    assert await labels(client, dataset_id) == {}
    assert (await client.post(f"/classes/{rings}/delete", headers=headers)).status_code == 404


async def test_thumbnails_are_cached_with_etags_and_unreadable_items_say_why(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=2, corrupt=1)
    ids = await ids_of(client, dataset_id, "ok") + await ids_of(client, dataset_id, "unreadable")
    first = await client.get(f"/thumbs/{ids[0]}", params={"size": 64})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert "max-age" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = await client.get(f"/thumbs/{ids[0]}", params={"size": 64}, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    logged = await client.get(f"/thumbs/{ids[0]}", params={"size": 64, "log": 1})
    assert logged.content != first.content and logged.headers["etag"] != etag
    page = await client.get(f"/datasets/{dataset_id}/label")
    assert page.text.count("tile unreadable") == 1
    broken = await client.get(f"/thumbs/{ids[-1]}", params={"size": 64}, headers={"hx-request": "true"})
    assert broken.status_code == 422
    assert (await client.get(f"/thumbs/{ids[0]}", params={"size": 5})).status_code == 400


async def test_the_gallery_costs_the_same_queries_for_24_and_200_items(
    app, client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=210)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids[:150], "label_id": rings})
    statements: list[str] = []
    engine = app.state.database.engine.sync_engine

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = {}
        for per_page in (24, 200):
            statements.clear()
            response = await client.get(
                f"/datasets/{dataset_id}/label", params={"per_page": per_page}, headers={"hx-request": "true"}
            )
            assert len(tiles(parse(response.text))) == per_page
            counts[per_page] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[24] == counts[200] <= 8, counts


async def test_the_item_view_page(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=2, corrupt=1)
    ids = await ids_of(client, dataset_id, "ok") + await ids_of(client, dataset_id, "unreadable")
    view = await client.get(f"/items/{ids[0]}", params={"log": 1})
    assert view.status_code == 200
    assert str(folder) in view.text and "histogram" in view.text and "log=1" in view.text
    broken = await client.get(f"/items/{ids[-1]}")
    assert broken.status_code == 200 and "unreadable" in broken.text
    assert (await client.get("/items/99999999")).status_code == 404


async def test_a_labeling_answer_repaints_items_relabeled_elsewhere(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    peaks = await add_class(client, dataset_id, "peaks")
    ids = await ids_of(client, dataset_id)
    # Another tab labels item 1 after this page loaded; this page labels item 0.
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": [ids[1]], "label_id": peaks})
    headers = await csrf_headers(client)
    answer = await client.post(
        f"/datasets/{dataset_id}/label/tag",
        data={"items": str(ids[0]), "label": rings, "visible": ",".join(map(str, ids))},
        headers=headers,
    )
    doc = parse(answer.text)
    marks = by_id(doc, f"marks-{ids[1]}")
    assert (marks.tag, classes(marks), attr(marks, "hx-swap-oob")) == ("div", {"marks", "labeled"}, "true")
    assert "peaks" in [text_of(badge) for badge in marks]
    assert attr(by_id(doc, f"marks-{ids[2]}"), "hx-swap-oob") == "true"


async def test_the_progress_box_alone_after_the_next_actions_panel_labeled(
    client: AsyncTestClient, folder: Path
) -> None:
    """The Progress box the Next actions panel's accept has redrawn: its counts, and out of band
    the class panel's and the label bar's (what Undo undoes)."""
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": ids[:2], "label_id": rings})
    event_id = (await events(client, dataset_id))[0]["id"]
    page = await client.get(f"/datasets/{dataset_id}/label")
    assert attr(by_id(parse(page.text), "progress"), "hx-get") == f"/datasets/{dataset_id}/label/progress"

    answer = await client.get(f"/datasets/{dataset_id}/label/progress", headers={"hx-request": "true"})
    assert answer.status_code == 200, answer.text
    assert "hx-trigger-after-settle" not in answer.headers  # the panel has just drawn the queue
    box, class_panel, labelbar = fragment(answer.text)
    assert (attr(box, "id"), box.get("hx-swap-oob")) == ("progress", None)
    assert attr(box, "hx-trigger") == "refresh-gallery from:#next-actions"
    assert text_of(by_id(box, "labeled-count")) == "2" and text_of(by_id(box, "item-count")) == "3"
    assert [text_of(c) for c in all_of(box, f".//span[{has_class('count')}]")] == ["2"]
    assert (attr(class_panel, "id"), attr(class_panel, "hx-swap-oob")) == ("classes", "true")
    assert "It holds 2 item(s)" in attr(
        one(class_panel, f".//button[{has_class('delete-class')}]"), "hx-confirm"
    )
    assert (attr(labelbar, "id"), attr(labelbar, "hx-swap-oob")) == ("labelbar", "true")
    assert attr(one(labelbar, ".//button[@data-action='undo']"), "title") == f"undo event #{event_id}"


async def test_the_label_page_and_its_gallery_are_kept_by_no_browser(
    client: AsyncTestClient, folder: Path
) -> None:
    """Back to the label page asks for it again instead of showing the counts of before, or (where
    a filter had pushed the view's URL) the bare gallery htmx had asked for at that URL."""
    dataset_id = await make_dataset(client, folder, count=3)
    page = await client.get(f"/datasets/{dataset_id}/label")
    gallery = await client.get(
        f"/datasets/{dataset_id}/label?filter=unlabeled", headers={"hx-request": "true"}
    )
    assert by_id(parse(page.text), "progress") is not None and "progress" not in gallery.text
    assert (page.headers["cache-control"], gallery.headers["cache-control"]) == ("no-store", "no-store")


async def test_sort_by_label_and_hide_labeled(client: AsyncTestClient, folder: Path) -> None:
    dataset_id = await make_dataset(client, folder, count=4)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    await client.post(f"{API}/datasets/{dataset_id}/tags", json={"item_ids": [ids[3]], "label_id": rings})
    hx = {"hx-request": "true"}
    by_label = await client.get(f"/datasets/{dataset_id}/label", params={"sort": "label"}, headers=hx)
    order = [int(attr(tile, "data-id")) for tile in tiles(parse(by_label.text))]
    assert order[0] == ids[3] and sorted(order) == sorted(ids)
    hidden = await client.get(f"/datasets/{dataset_id}/label", params={"hide_labeled": 1}, headers=hx)
    shown = [int(attr(e, "data-id")) for e in all_of(parse(hidden.text), "//*[@data-id]")]
    assert ids[3] not in shown and len(shown) == 3


async def test_the_item_view_says_which_pixels_its_histogram_figures_count(
    client: AsyncTestClient, folder: Path
) -> None:
    """A handwritten digit: 80% of its pixels are 0, and the display's percentiles (so the
    histogram's figures) leave zeros out. "min 2" read as a wrong figure for an image whose
    background is 0 until the page says over which pixels it is taken."""
    folder.mkdir(parents=True, exist_ok=True)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 10:18] = np.arange(2, 130, 1, dtype=np.uint8).reshape(16, 8)  # 128 of 784 above zero
    Image.fromarray(digit).save(folder / "digit.png")
    dataset_id = await make_dataset(client, folder, count=0)
    (item_id,) = await ids_of(client, dataset_id, "ok")
    view = parse((await client.get(f"/items/{item_id}")).text)
    counted = text_of(by_id(view, "histogram-counted"))
    assert "over 128 of 784 pixel values" in counted and "zero" in counted
    assert "min 2 " in text_of(by_id(view, "histogram-counted").getparent())

    figures = histogram((digit + 1).astype(np.float32), 1, 99)  # every pixel above zero
    assert (figures["counted"], figures["pixels"], figures["min"]) == (784, 784, 1.0)
    mask = np.zeros((28, 28), bool)
    mask[:2] = True  # two masked rows are left out too
    assert histogram((digit + 1).astype(np.float32), 1, 99, mask)["counted"] == 784 - 56


async def test_the_item_view_says_when_no_pixel_value_is_counted(
    client: AsyncTestClient, folder: Path
) -> None:
    """A frame with no value the figures count (all NaN, or all zero) said "min 0 · ... · max 0
    (over 0 of N pixel values)": zeros for a frame with no value at all."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "dead.npy", np.full((16, 16), np.nan, np.float32))
    dataset_id = await make_dataset(client, folder, count=0)
    (item_id,) = await ids_of(client, dataset_id, "ok")
    view = parse((await client.get(f"/items/{item_id}")).text)
    said = text_of(by_id(view, "histogram-empty"))
    assert "No pixel value to count" in said and "all 256" in said and "NaN" in said
    assert "min 0" not in text_of(by_id(view, "histogram-empty").getparent())


async def test_the_history_says_what_each_event_did(client: AsyncTestClient, folder: Path) -> None:
    """Each event's "what": its operations counted by class (a batch of two classes names both), a
    clear, and a deleted class by its name; the column was empty for every event but revokes and
    undos."""
    dataset_id = await make_dataset(client, folder, count=6)
    ids = await ids_of(client, dataset_id, "ok")
    rings, peaks = await add_class(client, dataset_id, "rings"), await add_class(client, dataset_id, "peaks")
    tags = f"{API}/datasets/{dataset_id}/tags"
    await client.post(tags, json={"item_ids": ids[:3], "label_id": rings})
    await client.post(tags, json={"item_ids": ids[3:4], "label_id": peaks})
    await client.post(tags, json={"item_ids": ids[:1], "op": "clear"})
    events = (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]
    made = {e["id"] for e in events}
    assert len(made) == 3
    deleted = await client.delete(f"{API}/classes/{peaks}")  # its item is unlabeled by an event too
    assert deleted.status_code == 200, deleted.text

    page = parse((await client.get(f"/datasets/{dataset_id}/history")).text)
    assert "no model has labeled" in text_of(by_id(page, "no-labeling-model"))  # not an empty list
    what = {
        int(attr(row, "data-event")): text_of(row).split("·")[0]
        for row in all_of(page, "//table[@id='events']//tr[@data-event]")
    }
    first, second, third = sorted(made)
    times = "\u00d7"  # the page's multiplication sign
    assert f"set rings {times}3" in what[first] and f"set peaks {times}1" in what[second]
    assert f"cleared {times}1" in what[third]
    (deletion,) = set(what) - made
    assert f"peaks {times}1" in what[deletion], what  # the deleted class by its name


async def test_redo_after_a_revoke_says_it_puts_the_revoked_labels_back(
    client: AsyncTestClient, folder: Path
) -> None:
    """Redo on the label page after a revoke undoes the revoke: it said "Redid event #N" of the revoke."""
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    headers = await csrf_headers(client, f"/datasets/{dataset_id}/label")
    form = {
        "items": f"{ids[0]},{ids[1]}",
        "label": str(rings),
        "op": "set",
        "visible": ",".join(map(str, ids)),
    }
    await client.post(f"/datasets/{dataset_id}/label/tag", data=form, headers=headers)
    revoked = await client.post(f"{API}/datasets/{dataset_id}/revoke", json={"kind": "manual"})
    assert revoked.status_code == 201, revoked.text
    revoke_id = (await events(client, dataset_id))[0]["id"]
    assert await labels(client, dataset_id) == {}
    page = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    redo = one(by_id(page, "labelbar"), ".//button[@data-action='redo']")
    assert attr(redo, "title") == f"undo revoke #{revoke_id}: put back the labels it took"
    redone = await client.post(f"/datasets/{dataset_id}/label/redo", data=form, headers=headers)
    flash = next(e for e in fragment(redone.text) if e.get("id") == "flash")
    assert text_of(flash) == f"Undid revoke #{revoke_id}: its labels are back (2 tag(s))."
    assert await labels(client, dataset_id) == {ids[0]: [rings], ids[1]: [rings]}


async def test_ctrl_z_after_a_revoke_passes_over_the_revoked_event(
    client: AsyncTestClient, folder: Path
) -> None:
    """Once a revoke took an event's labels back, Ctrl+Z undoes the labeling before it: it stuck on the
    revoked event ("nothing to undo in event N: every item it changed was changed again since")."""
    dataset_id = await make_dataset(client, folder, count=3)
    rings = await add_class(client, dataset_id, "rings")
    ids = await ids_of(client, dataset_id)
    headers = await csrf_headers(client, f"/datasets/{dataset_id}/label")
    visible = ",".join(map(str, ids))
    for item_id in ids[:2]:
        form = {"items": str(item_id), "label": str(rings), "op": "set", "visible": visible}
        await client.post(f"/datasets/{dataset_id}/label/tag", data=form, headers=headers)
    second, first = await events(client, dataset_id)
    revoked = await client.post(
        f"{API}/datasets/{dataset_id}/revoke", json={"kind": "manual", "since": second["created_at"]}
    )
    assert revoked.status_code == 201, revoked.text
    assert await labels(client, dataset_id) == {ids[0]: [rings]}
    page = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    undo = one(by_id(page, "labelbar"), ".//button[@data-action='undo']")
    assert attr(undo, "title") == f"undo event #{first['id']}"
    undone = await client.post(
        f"/datasets/{dataset_id}/label/undo", data={"visible": visible}, headers=headers
    )
    flash = next(e for e in fragment(undone.text) if e.get("id") == "flash")
    assert text_of(flash) == f"Undid event #{first['id']} (1 tag(s))."
    assert await labels(client, dataset_id) == {}


async def hotkeys(client: AsyncTestClient, dataset_id: int) -> dict[str, str | None]:
    return {c["name"]: c["hotkey"] for c in (await client.get(f"{API}/datasets/{dataset_id}/classes")).json()}


async def test_classes_added_in_the_panel_without_a_key_get_the_next_free_one(
    client: AsyncTestClient, folder: Path
) -> None:
    """A class added in the panel with its key left empty got none, so no key labeled it (not on
    the label page, not on a batch page): it gets the next free digit now, then letters, never a
    key the pages keep for themselves."""
    dataset_id = await make_dataset(client, folder, count=3)
    headers = await csrf_headers(client)
    await add_class(client, dataset_id, "chosen", "2")  # a key taken by hand is skipped
    for name in ("first", "second"):
        added = await client.post(f"/datasets/{dataset_id}/classes", data={"name": name}, headers=headers)
        assert added.status_code == 200, added.text
    listed = await hotkeys(client, dataset_id)
    assert listed == {"chosen": "2", "first": "1", "second": "3"}
    assert "Added class &#39;second&#39; (key 3)" in added.text
    # shown in the panel's field and on the class's button
    doc = parse((await client.get(f"/datasets/{dataset_id}/label")).text)
    second = one(doc, ".//li[@data-name='second']")
    assert attr(one(second, ".//input[@name='hotkey']"), "value") == "3"
    assert text_of(one(doc, ".//div[@id='labelbar']//button[@data-hotkey='3']")).startswith("second")

    for n in range(4, 10):
        await add_class(client, dataset_id, f"c{n}", str(n))
    added = await client.post(f"/datasets/{dataset_id}/classes", data={"name": "letter"}, headers=headers)
    assert added.status_code == 200, added.text
    # not 0 (the item view's zoom), a (select the page), b (a tool of the explorer)
    assert (await hotkeys(client, dataset_id))["letter"] == "c"


async def test_an_item_opened_from_elsewhere_steps_through_the_page_it_is_on(
    client: AsyncTestClient, folder: Path
) -> None:
    """A batch page's tile links to /items/N with no gallery view: an item of the gallery's first
    page got previous / next and a gallery to go back to, one further on got neither (and "then
    open the next item" was off). Each is placed on its page of the dataset's order now."""
    dataset_id = await make_dataset(client, folder, count=30)
    ids = await ids_of(client, dataset_id)  # the dataset's order
    for at, page in ((1, 1), (25, 2), (29, 2)):
        doc = parse((await client.get(f"/items/{ids[at]}", params={"per_page": 24})).text)
        assert attr(by_id(doc, "item-prev"), "href").startswith(f"/items/{ids[at - 1]}?")
        following = maybe_one(doc, ".//a[@id='item-next']")
        if at + 1 < len(ids):
            assert following is not None and attr(following, "href").startswith(f"/items/{ids[at + 1]}?")
        else:
            assert following is None and attr(by_id(doc, "advance"), "disabled") is not None
        back = attr(by_id(doc, "item-back"), "href")
        assert f"page={page}&" in back and "per_page=24" in back, back
    # a view that says its page keeps it: not on that page, no steps, as before
    doc = parse((await client.get(f"/items/{ids[25]}", params={"page": 1, "per_page": 24})).text)
    assert maybe_one(doc, ".//a[@id='item-next']") is None
