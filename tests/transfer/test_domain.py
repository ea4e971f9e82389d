"""Export (CSV, Parquet, JSON, ZIP of label folders) and CSV import of labels, on the real database."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tifffile
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from backend.errors import Invalid, NotFound, TooLarge
from backend.labels import classes, events, history, transfer
from backend.labels.events import TagChange, TagRequest
from backend.labels.transfer import archive
from backend.settings import Settings
from backend.storage.tables import LabelClass, TagEvent
from tests.factories import image_folder, write_png, write_tiff


class Ref:
    def __init__(self, id: int, name: str = "") -> None:
        self.id, self.name = id, name


async def _dataset(
    session: AsyncSession, settings: Settings, folder: Path, count: int = 6, multi: bool = False
) -> tuple[Ref, list[int], Ref, Ref]:
    image_folder(folder, count=count)
    dataset, _ = await create_dataset(
        session, settings, f"ds-{folder.name}", [str(folder)], multi_label=multi
    )
    ids = await _ids_by_file_number(session, dataset.id)
    ring = await classes.create_class(session, dataset.id, "ring", "#ff0000", "r")
    arc = await classes.create_class(session, dataset.id, "arc", None, "c")
    return Ref(dataset.id), ids, Ref(ring.id, "ring"), Ref(arc.id, "arc")


async def _ids_by_file_number(session: AsyncSession, dataset_id: int) -> list[int]:
    """Item ids in file-number order: ``ids[3]`` is img_003.png (dataset order lists sub/ last)."""
    page = await list_items(session, dataset_id, limit=500)
    return [e.item.id for e in sorted(page.items, key=lambda e: Path(e.item.uri).stem)]


async def _export(session: AsyncSession, settings: Settings, dataset_id: int, fmt: str, **kw) -> bytes:
    stream = await transfer.export_labels(session, settings, dataset_id, fmt, **kw)
    return b"".join([chunk async for chunk in stream.chunks])


async def _names(session: AsyncSession, dataset_id: int, **kw) -> dict[int, set[str]]:
    """Labels per item by class name: current, as of a time or by tagger."""
    state = await history.labels_state(session, dataset_id, **kw)
    rows = await session.execute(
        select(LabelClass.id, LabelClass.name).where(LabelClass.dataset_id == dataset_id)
    )
    name = dict(rows.all())
    return {item: {name[label] for label in labels} for item, labels in state.items()}


def _csv_labels(data: bytes) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for row in csv.DictReader(io.StringIO(data.decode())):
        labels = out.setdefault(int(row["item_id"]), set())
        if row["label"]:
            labels.add(row["label"])
    return {k: v for k, v in out.items() if v}


async def _event_count(session: AsyncSession, dataset_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(TagEvent.dataset_id == dataset_id)) or 0)


# --- export ----------------------------------------------------------------------------------------


async def test_csv_export_lists_every_item_with_its_label_tagger_and_time(session, settings, folder):
    dataset, ids, ring, arc = await _dataset(session, settings, folder)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], ring.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[2:3], arc.id))
    rows = list(csv.DictReader(io.StringIO((await _export(session, settings, dataset.id, "csv")).decode())))
    assert tuple(rows[0]) == transfer.COLUMNS
    order = [e.item.id for e in (await list_items(session, dataset.id)).items]
    assert [int(r["item_id"]) for r in rows] == order  # dataset order, unlabeled items included
    by_id = {int(r["item_id"]): r for r in rows}
    assert (by_id[ids[0]]["label"], by_id[ids[0]]["tagger"]) == ("ring", "ann")
    assert (by_id[ids[2]]["label"], by_id[ids[2]]["tagger"]) == ("arc", "bob")
    assert by_id[ids[5]]["label"] == by_id[ids[5]]["tagger"] == by_id[ids[5]]["labeled_at"] == ""
    assert by_id[ids[0]]["labeled_at"].endswith("+00:00")
    assert by_id[ids[1]]["uri"] == "sub/img_001.png" and by_id[ids[1]]["source"] == str(folder)
    labeled_only = await _export(session, settings, dataset.id, "csv", unlabeled=False)
    assert len(labeled_only.decode().splitlines()) == 1 + 3


async def test_every_format_round_trips_the_labels(session, settings, folder):
    dataset, ids, ring, arc = await _dataset(session, settings, folder, count=8, multi=True)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:4], ring.id, op="add"))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[3:6], arc.id, op="add"))
    expected = await _names(session, dataset.id)
    assert expected[ids[3]] == {"ring", "arc"}

    csv_bytes = await _export(session, settings, dataset.id, "csv")
    assert _csv_labels(csv_bytes) == expected

    table = pq.read_table(io.BytesIO(await _export(session, settings, dataset.id, "parquet")))
    assert table.column_names == list(transfer.COLUMNS)
    from_parquet: dict[int, set[str]] = {}
    for row in table.to_pylist():
        if row["label"] is not None:
            from_parquet.setdefault(row["item_id"], set()).add(row["label"])
            assert row["labeled_at"].tzinfo is not None and row["tagger"] == "ann"
    assert from_parquet == expected

    document = json.loads(await _export(session, settings, dataset.id, "json"))
    assert document["dataset"]["multi_label"] is True
    assert [c["name"] for c in document["classes"]] == ["ring", "arc"]
    assert sorted(i["item_id"] for i in document["items"]) == sorted(ids)
    assert {i["item_id"]: set(i["labels"]) for i in document["items"] if i["labels"]} == expected

    # Back in through the import: unlabel everything, import the CSV, the labels are as they were.
    await events.record_event(session, TagRequest(dataset.id, "ann", ids, None, op="clear"))
    assert await _names(session, dataset.id) == {}
    report = await transfer.import_labels_csv(session, dataset.id, csv_bytes, "restorer")
    assert report.refused == [] and report.accepted == len(csv_bytes.decode().splitlines()) - 1
    assert await _names(session, dataset.id) == expected
    assert await history.current_labels(session, dataset.id) == await history.replayed_labels(
        session, dataset.id
    )


async def test_big_exports_come_in_many_chunks_with_items_split_across_batches(session, settings, folder):
    dataset, ids, ring, arc = await _dataset(session, settings, folder, count=9, multi=True)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids, ring.id, op="add"))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids, arc.id, op="add"))
    stream = await transfer.export_labels(session, settings, dataset.id, "json", batch=3)  # 2 rows an item
    chunks = [chunk async for chunk in stream.chunks]
    assert len(chunks) > 5
    document = json.loads(b"".join(chunks))
    assert [set(i["labels"]) for i in document["items"]] == [{"ring", "arc"}] * 9
    csv_stream = await transfer.export_labels(session, settings, dataset.id, "csv", batch=4)
    csv_chunks = [chunk async for chunk in csv_stream.chunks]
    assert len(csv_chunks) > 4 and _csv_labels(b"".join(csv_chunks)) == {i: {"ring", "arc"} for i in ids}


async def test_export_as_of_a_time_and_by_tagger(session, settings, folder):
    dataset, ids, ring, arc = await _dataset(session, settings, folder)
    first = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:3], ring.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[1:4], arc.id))
    then = _csv_labels(await _export(session, settings, dataset.id, "csv", as_of=first.created_at))
    assert then == {ids[0]: {"ring"}, ids[1]: {"ring"}, ids[2]: {"ring"}}
    now = _csv_labels(await _export(session, settings, dataset.id, "csv"))
    assert now == {ids[0]: {"ring"}, ids[1]: {"arc"}, ids[2]: {"arc"}, ids[3]: {"arc"}}
    by_bob = await _export(session, settings, dataset.id, "csv", tagger="bob")
    assert _csv_labels(by_bob) == {i: {"arc"} for i in ids[1:4]}
    assert {r["tagger"] for r in csv.DictReader(io.StringIO(by_bob.decode())) if r["label"]} == {"bob"}
    by_ann = json.loads(await _export(session, settings, dataset.id, "json", tagger="ann"))
    assert by_ann["tagger"] == "ann"
    assert {i["item_id"]: i["labels"] for i in by_ann["items"] if i["labels"]} == {
        i: ["ring"] for i in ids[:3]
    }
    old_zip = zipfile.ZipFile(
        io.BytesIO(await _export(session, settings, dataset.id, "zip", as_of=first.created_at))
    )
    assert sorted(n.split("/")[0] for n in old_zip.namelist() if "/" in n) == ["ring"] * 3


async def test_export_refuses_bad_options_and_unknown_datasets(session, settings, folder):
    dataset, *_ = await _dataset(session, settings, folder, count=2)
    from datetime import UTC, datetime

    with pytest.raises(Invalid, match="format"):
        await transfer.export_labels(session, settings, dataset.id, "xlsx")
    with pytest.raises(Invalid, match="not both"):
        await transfer.export_labels(
            session, settings, dataset.id, "csv", as_of=datetime.now(UTC), tagger="x"
        )
    with pytest.raises(NotFound):
        await transfer.export_labels(session, settings, 999_999, "csv")


# --- ZIP ---------------------------------------------------------------------------------------------


async def test_zip_holds_one_folder_per_label_with_the_original_files(session, settings, folder):
    dataset, ids, ring, arc = await _dataset(session, settings, folder, count=5, multi=True)
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[:2], ring.id, op="add"))
    await events.record_event(session, TagRequest(dataset.id, "ann", ids[1:3], arc.id, op="add"))
    archive = zipfile.ZipFile(io.BytesIO(await _export(session, settings, dataset.id, "zip")))
    assert archive.testzip() is None
    files = sorted(n for n in archive.namelist() if "/" in n)
    assert files == sorted(
        [
            f"ring/{ids[0]}_img_000.png",
            f"ring/{ids[1]}_img_001.png",
            f"arc/{ids[1]}_img_001.png",
            f"arc/{ids[2]}_img_002.png",
        ]
    )  # unlabeled items stay out; a multi-label item is in each of its folders
    assert archive.read(f"arc/{ids[2]}_img_002.png") == (folder / "img_002.png").read_bytes()
    manifest = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert {(m["file"], m["label"], m["uri"]) for m in manifest} >= {
        (f"arc/{ids[1]}_img_001.png", "arc", "sub/img_001.png")
    }
    assert len(manifest) == 4
    # What an ImageFolder-style loader sees: class = folder, samples = the images in it.
    found = {}
    for name in files:
        label, _ = name.split("/")
        found.setdefault(label, []).append(Image.open(io.BytesIO(archive.read(name))).size)
    assert {k: len(v) for k, v in found.items()} == {"ring": 2, "arc": 2}


async def test_zip_writes_frames_of_stacks_as_tiffs_and_lists_unreadable_files(session, settings, folder):
    write_tiff(folder / "stack.tif", frames=3, size=16)
    write_tiff(folder / "single.tif", frames=1, size=16, seed=4)
    dataset, _ = await create_dataset(session, settings, "stacks", [str(folder)])
    items = {(e.item.uri, e.item.frame): e.item.id for e in (await list_items(session, dataset.id)).items}
    weird = await classes.create_class(session, dataset.id, 'a/b: "x"')
    await events.record_event(session, TagRequest(dataset.id, "ann", list(items.values()), weird.id))
    (folder / "single.tif").unlink()  # vanished since the scan: listed as skipped, the rest still exported
    archive = zipfile.ZipFile(io.BytesIO(await _export(session, settings, dataset.id, "zip")))
    stack_id = items[("stack.tif", 1)]
    name = f"a_b_ _x_/{stack_id}_stack_f1.tif"
    assert name in archive.namelist()
    frame = tifffile.imread(io.BytesIO(archive.read(name)))
    with tifffile.TiffFile(folder / "stack.tif") as tif:
        original = tif.pages[1].asarray()
    assert frame.dtype == np.uint16 and np.array_equal(frame, original)
    skipped = list(csv.DictReader(io.StringIO(archive.read("skipped.csv").decode())))
    assert [s["uri"] for s in skipped] == ["single.tif"]


async def test_zip_frames_of_detector_stacks_keep_their_32_bit_counts(session, settings, folder):
    """Frames of an Eiger master (uint32, bitshuffle/LZ4) and a multi-frame EDF (int32) go into
    the ZIP as TIFFs with the counts as stored: through float32 the saturated 4294967295 came
    back 0, int32's 2147483647 came back -2147483648 and 2**24 + 1 came back 2**24."""
    import h5py
    import hdf5plugin

    from tests.detector.factories import write_edf

    stack = np.full((2, 16, 16), 9, np.uint32)
    stack[1, 3, 4], stack[1, 5, 6] = np.iinfo(np.uint32).max, 2**24 + 1
    with h5py.File(folder / "series_data_000001.h5", "w") as data:
        data.create_dataset("entry/data/data", data=stack, chunks=(1, 16, 16), **hdf5plugin.Bitshuffle())
    with h5py.File(folder / "series_master.h5", "w") as master:
        master["entry/data/data_000001"] = h5py.ExternalLink("series_data_000001.h5", "/entry/data/data")
    edf = np.full((2, 16, 16), -1, np.int32)
    edf[0, 2, 2], edf[1, 2, 3] = np.iinfo(np.int32).max, 2**24 + 3
    write_edf(folder / "pilatus.edf", list(edf), [{}, {}])
    dataset, _ = await create_dataset(session, settings, "counts", [str(folder)])
    items = {(e.item.uri, e.item.frame): e.item.id for e in (await list_items(session, dataset.id)).items}
    hit = await classes.create_class(session, dataset.id, "hit")
    await events.record_event(session, TagRequest(dataset.id, "ann", list(items.values()), hit.id))
    archive = zipfile.ZipFile(io.BytesIO(await _export(session, settings, dataset.id, "zip")))
    for (uri, frame), expected in {
        ("series_master.h5", 0): stack[0],
        ("series_master.h5", 1): stack[1],
        ("pilatus.edf", 0): edf[0],
        ("pilatus.edf", 1): edf[1],
    }.items():
        written = tifffile.imread(
            io.BytesIO(archive.read(f"hit/{items[(uri, frame)]}_{Path(uri).stem}_f{frame}.tif"))
        )
        assert written.dtype == expected.dtype, (uri, frame, written.dtype)
        assert np.array_equal(written, expected), (uri, frame, written.min(), written.max())


async def test_zip_is_streamed_in_bounded_pieces(session, settings, folder, monkeypatch, tmp_path):
    """Incompressible images (about 2.9 MB), small pieces: memory stays far below the archive's size."""
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(folder / f"n{i:02d}.png")
    dataset, _ = await create_dataset(session, settings, "noise", [str(folder)])
    ids = [e.item.id for e in (await list_items(session, dataset.id)).items]
    label = await classes.create_class(session, dataset.id, "noise")
    await events.record_event(session, TagRequest(dataset.id, "ann", ids, label.id))
    monkeypatch.setattr(archive, "ZIP_PIECE", 32 * 1024)
    stream = await transfer.export_labels(session, settings, dataset.id, "zip")
    sizes: list[int] = []
    peaks: list[int] = []
    sink = (tmp_path / "out.zip").open("wb")  # on disk: the test itself must not hold the archive
    tracemalloc.start()
    try:
        async for chunk in stream.chunks:
            sizes.append(len(chunk))
            sink.write(chunk)
            del chunk
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            peaks.append(peak)
    finally:
        tracemalloc.stop()
    total = sum(sizes)
    assert total > 2_800_000 and len(sizes) > 60
    assert max(sizes) < 4 * 32 * 1024
    assert max(peaks) < total / 2  # the archive is never held whole (zlib's state is most of it)
    sink.close()
    assert len(zipfile.ZipFile(tmp_path / "out.zip").namelist()) == 24 + 1


# --- import ------------------------------------------------------------------------------------------


async def test_import_reports_unknown_items_and_classes_and_stores_the_rest(session, settings, folder):
    dataset, ids, _ring, _arc = await _dataset(session, settings, folder)
    data = (
        b"uri,label\n"
        b"img_000.png,ring\n"
        b"sub/img_001.png,ARC\n"  # class names match regardless of case
        b"nope.png,ring\n"
        b"img_002.png,spots\n"
        b"img_004.png,\n"
    )
    report = await transfer.import_labels_csv(session, dataset.id, data, "importer")
    assert (report.rows, report.accepted) == (5, 3)
    assert [(r.line, r.reason.split(":")[0].split(" '")[0]) for r in report.refused] == [
        (4, "unknown item"),
        (5, "unknown class"),
    ]
    assert "nope.png" in report.refused[0].reason and report.unknown_classes == ["spots"]
    assert report.unknown_items == 1
    event = await events.get_event(session, report.event_id)
    assert (event.kind, event.tagger, event.parameters["refused"]) == ("import", "importer", 2)
    assert await _names(session, dataset.id) == {ids[0]: {"ring"}, ids[1]: {"arc"}}


async def test_import_can_create_missing_classes_and_uses_item_ids(session, settings, folder):
    dataset, ids, _ring, _ = await _dataset(session, settings, folder)
    data = f"item_id,label\n{ids[0]},spots\n{ids[1]},streaks\n{ids[2]},ring\n999999,halo\n".encode()
    report = await transfer.import_labels_csv(session, dataset.id, data, "imp", create_classes=True)
    assert report.accepted == 3 and [r.line for r in report.refused] == [5]
    assert report.created_classes == ["spots", "streaks"]  # 'halo' names only a refused row: not made
    names = [c.name for c in await classes.list_classes(session, dataset.id)]
    assert names == ["ring", "arc", "spots", "streaks"]
    assert await _names(session, dataset.id) == {ids[0]: {"spots"}, ids[1]: {"streaks"}, ids[2]: {"ring"}}


async def test_import_refuses_several_labels_for_one_item_of_a_single_label_dataset(
    session, settings, folder
):
    dataset, ids, *_ = await _dataset(session, settings, folder)
    data = b"uri,label\nimg_000.png,ring\nimg_000.png,arc\nimg_002.png,arc\nimg_002.png,arc\n"
    report = await transfer.import_labels_csv(session, dataset.id, data, "imp")
    assert [r.line for r in report.refused] == [2, 3] and "single-label" in report.refused[0].reason
    assert report.accepted == 2
    assert await _names(session, dataset.id) == {ids[2]: {"arc"}}


async def test_import_with_nothing_acceptable_records_no_event(session, settings, folder):
    dataset, *_ = await _dataset(session, settings, folder)
    report = await transfer.import_labels_csv(session, dataset.id, b"uri,label\nnope.png,ring\n", "imp")
    assert report.accepted == 0 and report.event_id is None and len(report.refused) == 1
    assert await _event_count(session, dataset.id) == 0


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"uri,label\nimg_000.png,ring,extra\n", "line 2: 3 fields"),
        (b"uri,klass\nimg_000.png,ring\n", "no 'label' column"),
        (b"name,label\nimg_000.png,ring\n", "needs an 'item_id' or a 'uri'"),
        (b"item_id,label\nabc,ring\n", "not a whole number"),
        (b"uri,label\nimg_000.png,\xff\xfering\n", "not UTF-8"),
        (b"uri,label\nimg_000.png,ri\x00ng\n", "NUL"),
        (b'uri,label\nimg_000.png,"ring\n', "not valid CSV"),
        (b"uri,label,label\nimg_000.png,ring,arc\n", "twice"),
        (b"uri,label\nimg_000.png,ring\n,arc\n", "neither an item_id nor a uri"),
    ],
)
async def test_malformed_csv_is_refused_whole_and_stores_nothing(session, settings, folder, data, fragment):
    dataset, *_ = await _dataset(session, settings, folder, count=2)
    good_rows = b"".join(f"img_000.png,new{i}\n".encode() for i in range(3))  # would create classes
    with pytest.raises(Invalid, match=fragment):
        await transfer.import_labels_csv(
            session, dataset.id, data + good_rows if data else data, "imp", create_classes=True
        )
    assert await _event_count(session, dataset.id) == 0
    assert [c.name for c in await classes.list_classes(session, dataset.id)] == ["ring", "arc"]


async def test_oversized_import_is_refused_before_reading(session, settings, folder):
    dataset, *_ = await _dataset(session, settings, folder, count=2)
    with pytest.raises(TooLarge, match="at most 20"):
        await transfer.import_labels_csv(
            session, dataset.id, b"uri,label\nimg_000.png,ring\n", "i", max_bytes=20
        )
    assert await _event_count(session, dataset.id) == 0


async def test_import_picks_the_source_when_a_path_is_in_several(session, settings, data_root, folder):
    other = data_root / f"{folder.name}-b"
    image_folder(folder, count=2)
    image_folder(other, count=2)
    dataset, _ = await create_dataset(session, settings, "two", [str(folder), str(other)])
    label = await classes.create_class(session, dataset.id, "ring")
    ambiguous = await transfer.import_labels_csv(session, dataset.id, b"uri,label\nimg_000.png,ring\n", "i")
    assert ambiguous.accepted == 0 and "several sources" in ambiguous.refused[0].reason
    data = f"source,uri,label\n{other},img_000.png,ring\n/elsewhere,img_000.png,ring\n".encode()
    report = await transfer.import_labels_csv(session, dataset.id, data, "i")
    assert report.accepted == 1 and "none of them '/elsewhere'" in report.refused[0].reason
    state = await history.current_labels(session, dataset.id)
    items = {(e.item.source_id, e.item.uri): e.item.id for e in (await list_items(session, dataset.id)).items}
    second_source = max(s for s, _ in items)
    assert state == {items[(second_source, "img_000.png")]: frozenset({label.id})}


async def test_import_of_a_multi_label_csv_sets_exactly_the_labels_named(session, settings, folder):
    dataset, ids, ring, _arc = await _dataset(session, settings, folder, multi=True)
    await events.record_changes(
        session, dataset.id, tagger="a", kind="manual", changes=[TagChange(ids[0], "add", ring.id)]
    )
    data = b"uri,label\nimg_000.png,arc\nsub/img_001.png,ring\nsub/img_001.png,arc\n"
    report = await transfer.import_labels_csv(session, dataset.id, data, "imp")
    assert report.accepted == 3
    assert await _names(session, dataset.id) == {ids[0]: {"arc"}, ids[1]: {"ring", "arc"}}


async def test_import_reads_semicolon_and_tab_files_from_spreadsheets(session, settings, folder):
    dataset, ids, *_ = await _dataset(session, settings, folder)
    semicolon = "\ufeffuri;label\r\nimg_000.png;ring\r\n".encode()  # BOM and CRLF, as Excel writes
    assert (await transfer.import_labels_csv(session, dataset.id, semicolon, "i")).accepted == 1
    tab = b"uri\tlabel\nimg_002.png\tarc\n"
    assert (await transfer.import_labels_csv(session, dataset.id, tab, "i")).accepted == 1
    assert await _names(session, dataset.id) == {ids[0]: {"ring"}, ids[2]: {"arc"}}


def test_transfer_benchmark_runs_on_a_small_dataset(capsys):
    from bench import transfer as bench_transfer

    bench_transfer.main(["--rows", "300", "--demo", "0"])
    out = capsys.readouterr().out
    assert "export CSV of 300 labels" in out and "import CSV of 300 rows" in out


def test_folder_names_are_safe_and_distinct():
    assert transfer.folder_names(["ring", "a/b", "..", "ring", "Ring", "A_B"]) == {
        "ring": "ring",
        "a/b": "a_b",
        "..": "_",
        "Ring": "Ring_2",
        "A_B": "A_B_2",
    }


# --- issue 22: formula cells, ZIP entry names, the class cap -------------------------------------


async def test_csv_exports_neutralise_formula_cells_and_import_reads_them_back(session, settings, folder):
    image_folder(folder, count=2)
    write_png(folder / "-2+3.png", seed=7)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder)])
    formula = '=HYPERLINK("http://evil.example","click")'
    cls = await classes.create_class(session, dataset.id, formula, None, None)
    ids = [e.item.id for e in (await list_items(session, dataset.id)).items]
    await events.record_event(session, TagRequest(dataset.id, "@SUM(1+1)", ids, cls.id))
    data = await _export(session, settings, dataset.id, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]  # nothing a sheet would run
    assert {r["label"] for r in rows} == {"'" + formula} and {r["tagger"] for r in rows} == {"'@SUM(1+1)"}
    assert "'-2+3.png" in {r["uri"] for r in rows}
    manifest = zipfile.ZipFile(io.BytesIO(await _export(session, settings, dataset.id, "zip"))).read(
        "labels.csv"
    )
    assert not [
        c for row in csv.DictReader(io.StringIO(manifest.decode())) for c in row.values() if c[:1] in "=+-@"
    ]
    # The import takes the ' off again: an export round-trips to the same labels.
    await events.record_event(session, TagRequest(dataset.id, "ann", ids, None, op="clear"))
    report = await transfer.import_labels_csv(session, dataset.id, data, "imp")
    assert report.accepted == len(ids) and not report.refused and not report.created_classes
    assert await _names(session, dataset.id) == {i: {formula} for i in ids}


async def test_zip_entry_names_hold_no_backslash_drive_dots_or_device_names(session, settings, folder):
    for name in ("a\\b.png", "c:evil.png", "nul.png"):
        write_png(folder / name, seed=1)
    dataset, _ = await create_dataset(session, settings, f"ds-{folder.name}", [str(folder)], multi_label=True)
    ids = [e.item.id for e in (await list_items(session, dataset.id)).items]
    for name in ("CON", "..", "c:\\windows", "lpt1.txt", "Aux"):
        label = await classes.create_class(session, dataset.id, name, None, None)
        await events.record_event(session, TagRequest(dataset.id, "ann", ids, label.id, op="add"))
    names = zipfile.ZipFile(io.BytesIO(await _export(session, settings, dataset.id, "zip"))).namelist()
    assert len(names) == len(set(names)) == 5 * 3 + 1  # unique: 5 folders x 3 files, and labels.csv
    for name in names:
        assert "\\" not in name and ":" not in name, name
        for part in name.split("/"):
            assert part not in ("", ".", "..") and not part.endswith((".", " ")), name
            assert part.split(".")[0].lower() not in ("con", "prn", "aux", "nul", "lpt1", "com1"), name
    assert len({name.split("/")[0].lower() for name in names if "/" in name}) == 5


async def test_import_refuses_to_create_classes_beyond_the_cap_naming_the_counts(session, settings, folder):
    dataset, ids, _, _ = await _dataset(session, settings, folder)  # 2 classes
    data = "item_id,label\n" + "".join(f"{ids[i % 6]},class{i}\n" for i in range(6)) + "\n"
    with pytest.raises(Invalid, match=r"create 6 new classes; the dataset has 2 and may hold at most 5"):
        await transfer.import_labels_csv(
            session, dataset.id, data.encode(), "imp", create_classes=True, max_classes=5
        )
    assert [c.name for c in await classes.list_classes(session, dataset.id)] == ["ring", "arc"]
    assert await _event_count(session, dataset.id) == 0
    report = await transfer.import_labels_csv(
        session, dataset.id, data.encode(), "imp", create_classes=True, max_classes=8
    )
    assert len(report.created_classes) == 6
