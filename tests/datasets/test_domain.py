"""Datasets from folders: ingestion, stable ids and order, confinement, rescans, deletion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from backend.datasets import service
from backend.datasets.items import list_items
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.labels import classes, events, history
from backend.storage.tables import Item
from tests.factories import image_folder, write_npy, write_png, write_tiff


async def _items(session, dataset_id: int) -> list[Item]:
    return [e.item for e in (await list_items(session, dataset_id, limit=500)).items]


async def test_folder_is_walked_recursively_for_every_supported_format(session, settings, folder):
    write_png(folder / "a.png")
    write_png(folder / "deep" / "er" / "b.jpg".replace(".jpg", ".png"))
    from PIL import Image

    Image.new("RGB", (20, 10)).save(folder / "c.jpeg")
    write_tiff(folder / "stack.tif", frames=3)
    write_npy(folder / "arr.npy", (4, 16, 16))
    write_npy(folder / "flat.npy", (16, 8))
    (folder / "notes.txt").write_text("not an image")
    dataset, report = await service.create_dataset(session, settings, "formats", [str(folder)])
    items = await _items(session, dataset.id)
    uris = [(i.uri, i.frame) for i in items]
    assert report.added == len(items) == 1 + 1 + 1 + 3 + 4 + 1
    assert ("stack.tif", 2) in uris and ("arr.npy", 3) in uris
    assert ("notes.txt", 0) not in uris
    rgb = next(i for i in items if i.uri == "c.jpeg")
    assert (rgb.height, rgb.width, rgb.channels) == (10, 20, 3)
    assert [i.position for i in items] == list(range(len(items)))
    # a folder's own files in name order, then its subfolders in name order; frames in order
    assert [u for u, _ in uris] == [
        "a.png",
        *["arr.npy"] * 4,
        "c.jpeg",
        "flat.npy",
        *["stack.tif"] * 3,
        "deep/er/b.png",
    ]
    assert [f for u, f in uris if u == "stack.tif"] == [0, 1, 2]


async def test_hdf5_arrays_become_items(session, settings, folder):
    import h5py

    with h5py.File(folder / "scan.h5", "w") as handle:
        handle["entry/images"] = np.zeros((3, 8, 8), dtype=np.uint16)
        handle["entry/dark"] = np.ones((8, 8), dtype=np.float32)
        handle["entry/meta"] = np.arange(5)
    _, report = await service.create_dataset(session, settings, "h5", [str(folder)])
    assert report.added == 4 and report.unreadable == 0


async def test_corrupt_and_non_image_files_are_recorded_not_fatal(session, settings, folder):
    image_folder(folder, count=3, corrupt=2)
    (folder / "text.tif").write_text("definitely not a tiff")
    np.save(folder / "strings.npy", np.array(["a", "b"]))
    dataset, report = await service.create_dataset(session, settings, "broken", [str(folder)])
    assert report.added == 7 and report.unreadable == 4
    bad = [i for i in await _items(session, dataset.id) if i.status == "unreadable"]
    assert {i.uri for i in bad} == {"broken_0.png", "broken_1.png", "text.tif", "strings.npy"}
    assert all(i.error for i in bad)


async def test_item_ids_and_order_are_stable_across_rescans(session, settings, folder):
    image_folder(folder, count=4)
    dataset, _ = await service.create_dataset(session, settings, "stable", [str(folder)])
    before = [(i.id, i.uri) for i in await _items(session, dataset.id)]
    write_png(folder / "aaa_new.png", seed=99)
    (folder / "img_000.png").unlink()
    report = await service.rescan_dataset(session, settings, dataset.id)
    assert (report.added, report.missing) == (1, 1)
    after = await _items(session, dataset.id)
    assert [(i.id, i.uri) for i in after][: len(before)] == before
    assert after[-1].uri == "aaa_new.png"  # new files go after the existing ones
    assert next(i for i in after if i.uri == "img_000.png").status == "missing"
    write_png(folder / "img_000.png")
    assert (await service.rescan_dataset(session, settings, dataset.id)).restored == 1


async def test_dataset_can_be_extended_with_another_folder(session, settings, folder, data_root):
    image_folder(folder, count=2)
    other = image_folder(data_root / f"{folder.name}-more", count=3)
    dataset, _ = await service.create_dataset(session, settings, "grow", [str(folder)])
    report = await service.add_source(session, settings, dataset.id, str(other))
    assert report.added == 3
    assert len(await _items(session, dataset.id)) == 5
    with pytest.raises(Conflict):
        await service.add_source(session, settings, dataset.id, str(other))


async def test_relative_folder_names_resolve_inside_the_roots(session, settings, folder):
    image_folder(folder, count=2)
    dataset, _ = await service.create_dataset(session, settings, "rel", [folder.name])
    assert len(await _items(session, dataset.id)) == 2


@pytest.mark.parametrize("spec", ["../", "{folder}/../../etc", "/etc", "/"])
async def test_folders_outside_the_roots_are_refused(session, settings, folder, spec):
    with pytest.raises(Forbidden):
        await service.create_dataset(session, settings, "escape", [spec.format(folder=folder)])
    assert (await session.scalar(select(func.count()).select_from(Item))) == 0


async def test_symlink_leaving_the_roots_is_refused(session, settings, folder, tmp_path):
    outside = image_folder(tmp_path / "outside", count=2)
    link = folder / "link"
    os.symlink(outside, link)
    with pytest.raises(Forbidden):
        await service.create_dataset(session, settings, "link", [str(link)])
    # a symlinked file inside a root that points outside is listed as unreadable, never read
    write_png(folder / "real.png")
    os.symlink(outside / "img_000.png", folder / "sneaky.png")
    dataset, _ = await service.create_dataset(session, settings, "files", [str(folder)])
    sneaky = next(i for i in await _items(session, dataset.id) if i.uri == "sneaky.png")
    assert sneaky.status == "unreadable" and "leaves the data roots" in (sneaky.error or "")


async def test_empty_or_missing_folder_is_refused_with_nothing_created(session, settings, folder):
    with pytest.raises(Invalid, match="holds no images"):
        await service.create_dataset(session, settings, "empty", [str(folder)])
    with pytest.raises(NotFound):
        await service.create_dataset(session, settings, "none", [str(folder / "nope")])
    assert await service.list_datasets(session) == []


async def test_duplicate_or_blank_names_are_refused(session, settings, folder):
    image_folder(folder, count=1)
    await service.create_dataset(session, settings, "same", [str(folder)])
    with pytest.raises(Conflict):
        await service.create_dataset(session, settings, "same", [str(folder)])
    with pytest.raises(Invalid):
        await service.create_dataset(session, settings, "  ", [str(folder)])


async def test_rename_and_list(session, settings, folder):
    image_folder(folder, count=3)
    dataset, _ = await service.create_dataset(session, settings, "old", [str(folder)])
    await service.rename_dataset(session, dataset.id, "new")
    summary = await service.list_datasets(session)
    assert [(s.dataset.name, s.item_count, s.labeled_count) for s in summary] == [("new", 3, 0)]


async def test_delete_removes_rows_but_never_the_image_files(session, settings, folder):
    image_folder(folder, count=3)
    files_before = sorted(p.name for p in folder.rglob("*") if p.is_file())
    dataset, _ = await service.create_dataset(session, settings, "doomed", [str(folder)])
    label = await classes.create_class(session, dataset.id, "x")
    ids = [i.id for i in await _items(session, dataset.id)]
    await events.record_event(session, events.TagRequest(dataset.id, "ann", ids, label.id))
    await service.delete_dataset(session, dataset.id)
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == files_before
    with pytest.raises(NotFound):
        await service.get_dataset(session, dataset.id)
    assert await history.current_labels(session, dataset.id) == {}


async def test_labels_survive_a_rescan(session, settings, folder):
    image_folder(folder, count=3)
    dataset, _ = await service.create_dataset(session, settings, "keep", [str(folder)])
    label = await classes.create_class(session, dataset.id, "x")
    ids = [i.id for i in await _items(session, dataset.id)]
    await events.record_event(session, events.TagRequest(dataset.id, "ann", ids[:2], label.id))
    for path in Path(folder).rglob("*.png"):
        path.unlink()
    await service.rescan_dataset(session, settings, dataset.id)
    assert set((await history.current_labels(session, dataset.id)).keys()) == set(ids[:2])
