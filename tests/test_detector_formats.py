"""Detector data as beamlines write it: EDF and CBF (fabio), HDF5 with bitshuffle/LZ4 and Blosc
(hdf5plugin), Eiger master files linking data files, NeXus default signals; and their header
metadata kept per item. Every file is written here, with the libraries beamlines use."""

from __future__ import annotations

import bz2
import gzip
import io
import re
import zipfile
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest
import tifffile
from fabio.cbfimage import CbfImage
from PIL import Image

from backend.datasets import service
from backend.datasets.items import list_items
from backend.errors import Unreadable
from backend.images import decode
from backend.pages.folders import list_folders
from backend.sources.folder import FolderSource
from tests.detector.factories import FRAME, write_edf


def write_cbf(path: Path, data: np.ndarray, contents: str) -> None:
    header = {"_array_data.header_convention": "PILATUS_1.2", "_array_data.header_contents": contents}
    CbfImage(data=data, header=header).write(str(path))


PILATUS = "# Detector: PILATUS 300K\r\n# 2024-03-05T14:07:11.250\r\n# Exposure_time 0.0950000 s\r\n"


def write_eiger(
    folder: Path, series: str, stacks: list[np.ndarray | None], *, compress: str = "bitshuffle"
) -> None:
    """A master file linking one data file per stack (None: the link is written, the file is not)."""
    options = hdf5plugin.Bitshuffle() if compress == "bitshuffle" else hdf5plugin.Blosc()
    with h5py.File(folder / f"{series}_master.h5", "w") as master:
        master.attrs["default"] = "entry"
        master["entry/instrument/detector/count_time"] = 0.05
        master["entry/instrument/detector/detectorSpecific/pixel_mask"] = np.zeros((48, 64), np.uint32)
        master["entry/sample/name"] = "lysozyme"
        for index, stack in enumerate(stacks, 1):
            name = f"{series}_data_{index:06d}.h5"
            master[f"entry/data/data_{index:06d}"] = h5py.ExternalLink(name, "/entry/data/data")
            if stack is not None:
                with h5py.File(folder / name, "w") as data:
                    data.create_dataset(
                        "entry/data/data", data=stack, chunks=(1, *stack.shape[1:]), **options
                    )


async def _items(session, dataset_id: int) -> list:
    return [e.item for e in (await list_items(session, dataset_id, limit=500)).items]


async def test_edf_and_cbf_frames_are_items_with_their_header_metadata(session, settings, folder):
    write_edf(
        folder / "scan12.edf",
        [FRAME, FRAME + 1],
        [
            {
                "ExposureTime": "0.5",
                "SampleName": "silver behenate",
                "scan_no": "12",
                "Date": "Tue Mar  5 14:07:11 2024",
            },
            {"ExposureTime": "1.0", "SampleName": "silver behenate", "scan_no": "12", "Temperature": "295.5"},
        ],
    )
    write_cbf(folder / "pilatus_0001.cbf", FRAME, PILATUS)
    dataset, report = await service.create_dataset(session, settings, "detector", [str(folder)])
    assert report.added == 3 and report.unreadable == 0
    items = {(i.uri, i.frame): i for i in await _items(session, dataset.id)}
    edf0, edf1, cbf = items[("scan12.edf", 0)], items[("scan12.edf", 1)], items[("pilatus_0001.cbf", 0)]
    assert (edf0.height, edf0.width, edf0.dtype) == (48, 64, "int32")
    assert edf0.meta == {
        "exposure": 0.5,
        "sample": "silver behenate",
        "run": "12",
        "time": "2024-03-05T14:07:11",
    }
    assert edf1.meta == {"exposure": 1.0, "sample": "silver behenate", "run": "12", "temperature": 295.5}
    assert cbf.meta == {"exposure": 0.095, "time": "2024-03-05T14:07:11.250000"}
    assert (cbf.height, cbf.width, cbf.dtype) == (48, 64, "int32")
    np.testing.assert_array_equal(decode.read_file(folder / "scan12.edf", 1, max_pixels=10**6), FRAME + 1)
    np.testing.assert_array_equal(decode.read_file(folder / "pilatus_0001.cbf", 0, max_pixels=10**6), FRAME)
    strided = decode.read_file(folder / "pilatus_0001.cbf", 0, max_pixels=10**6, stride=4)
    np.testing.assert_array_equal(strided, FRAME[::4, ::4])


async def test_a_corrupt_edf_or_cbf_header_is_one_unreadable_item_that_says_so(client, folder):
    write_edf(folder / "good.edf", [FRAME], [{}])
    raw = (folder / "good.edf").read_bytes()
    (folder / "bad.edf").write_bytes(raw.replace(b"Dim_1 = 64", b"Dim_1 = 6x"))
    write_cbf(folder / "good.cbf", FRAME, PILATUS)
    raw = (folder / "good.cbf").read_bytes()
    (folder / "bad.cbf").write_bytes(
        raw.replace(b"X-Binary-Size-Fastest-Dimension: 64", b"X-Binary-Size-Fastest-Dimension: zz")
    )
    (folder / "junk.cbf").write_bytes(b"not a CBF file at all\n" * 10)
    created = await client.post("/api/v1/datasets", json={"name": "bad headers", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    assert created.json()["scan"]["unreadable"] == 3
    ds = created.json()["dataset"]["id"]
    items = (await client.get(f"/api/v1/datasets/{ds}/items", params={"filter": "unreadable"})).json()[
        "items"
    ]
    errors = {i["uri"]: i["error"] for i in items}
    assert set(errors) == {"bad.edf", "bad.cbf", "junk.cbf"}
    assert "bad.edf has a corrupt EDF header" in errors["bad.edf"]
    assert "corrupt CBF header" in errors["bad.cbf"] and "corrupt CBF header" in errors["junk.cbf"]
    good = (await client.get(f"/api/v1/datasets/{ds}/items", params={"filter": "all"})).json()["items"]
    for item in good:
        if item["uri"].startswith("good"):
            image = await client.get(f"/api/v1/items/{item['id']}/image", params={"size": 32})
            assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    page = await client.get("/datasets")
    assert page.status_code == 200


def _compress(path: Path) -> tuple[Path, Path]:
    """The file gzip- and bzip2-compressed beside it (``.gz``, ``.bz2``), the original removed."""
    raw = path.read_bytes()
    path.unlink()
    gz, bz = path.with_name(path.name + ".gz"), path.with_name(path.name + ".bz2")
    gz.write_bytes(gzip.compress(raw))
    bz.write_bytes(bz2.compress(raw))
    return gz, bz


async def test_gzip_and_bzip2_compressed_edf_and_cbf_files_are_items_read_through_fabio(
    client, settings, folder
):
    """Beamlines keep frames compressed whole (scan.edf.gz): a folder source skipped them in silence
    (the last suffix, .gz, was no format). They are items now, with their header metadata; the
    thumbnail, the pixel readout and the ZIP export read them through fabio."""
    write_edf(folder / "scan.edf", [FRAME, FRAME + 1], [{"ExposureTime": "0.5"}, {"ExposureTime": "1.0"}])
    write_cbf(folder / "pilatus.cbf", FRAME + 2, PILATUS)
    _compress(folder / "scan.edf")
    _compress(folder / "pilatus.cbf")
    (folder / "notes.txt.gz").write_bytes(gzip.compress(b"not an image"))
    (folder / "frames.tif.gz").write_bytes(gzip.compress(b"tifffile reads no gzip"))
    assert list_folders(settings, str(folder)).images_here == 4  # the folder browser counts them

    created = await client.post("/api/v1/datasets", json={"name": "compressed", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    assert (created.json()["scan"]["added"], created.json()["scan"]["unreadable"]) == (6, 0)
    ds = created.json()["dataset"]["id"]
    listed = (await client.get(f"/api/v1/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    items = {(i["uri"], i["frame"]): i for i in listed}
    expected = {
        ("scan.edf.gz", 0): FRAME,
        ("scan.edf.gz", 1): FRAME + 1,
        ("scan.edf.bz2", 0): FRAME,
        ("scan.edf.bz2", 1): FRAME + 1,
        ("pilatus.cbf.gz", 0): FRAME + 2,
        ("pilatus.cbf.bz2", 0): FRAME + 2,
    }
    assert set(items) == set(expected)
    assert {(i["height"], i["width"], i["dtype"]) for i in listed} == {(48, 64, "int32")}
    assert items[("scan.edf.bz2", 1)]["metadata"]["exposure"] == 1.0
    assert items[("pilatus.cbf.gz", 0)]["metadata"]["exposure"] == pytest.approx(0.095)
    for key, frame in expected.items():
        item = items[key]["id"]
        image = await client.get(f"/api/v1/items/{item}/image", params={"size": 32})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG"), key
        readout = await client.get(f"/items/{item}/pixel", params={"x": 5, "y": 3})
        assert readout.status_code == 200, readout.text
        assert (readout.json()["value"], readout.json()["dtype"]) == (int(frame[3, 5]), "int32"), key

    label = (await client.post(f"/api/v1/datasets/{ds}/classes", json={"name": "ring"})).json()["id"]
    ids = [i["id"] for i in listed]
    tagged = await client.post(f"/api/v1/datasets/{ds}/tags", json={"item_ids": ids, "label_id": label})
    assert tagged.status_code == 201, tagged.text
    archive = await client.get(f"/api/v1/datasets/{ds}/export", params={"format": "zip"})
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        for key, frame in expected.items():
            stem = key[0].split(".")[0]  # scan.edf.gz: scan
            name = f"ring/{items[key]['id']}_{stem}_f{key[1]}.tif"
            np.testing.assert_array_equal(tifffile.imread(io.BytesIO(zipped.read(name))), frame)


async def test_suffixes_in_any_case_are_listed_and_read_as_in_lower_case(client, settings, folder):
    """Names as Windows and some beamline tools write them: a folder scan left out every file whose
    compression suffix was not lower case (frame.EDF.GZ, scan.cbf.BZ2, img.Edf.Gz), in silence;
    fabio too would read such a file as plain bytes. They are items read through fabio, as are
    plain suffixes in any case (A.TIF, B.PNG, C.H5, D.CBF, E.NPY)."""
    write_edf(folder / "frame.EDF", [FRAME, FRAME + 1], [{"ExposureTime": "0.5"}, {"ExposureTime": "1.0"}])
    write_cbf(folder / "scan.cbf", FRAME + 2, PILATUS)
    write_edf(folder / "img.Edf", [FRAME + 3], [{}])
    (folder / "frame.EDF.GZ").write_bytes(gzip.compress((folder / "frame.EDF").read_bytes()))
    (folder / "scan.cbf.BZ2").write_bytes(bz2.compress((folder / "scan.cbf").read_bytes()))
    (folder / "img.Edf.Gz").write_bytes(gzip.compress((folder / "img.Edf").read_bytes()))
    (folder / "frame.EDF").unlink()
    (folder / "img.Edf").unlink()
    (folder / "scan.cbf").rename(folder / "D.CBF")
    tifffile.imwrite(folder / "A.TIF", (FRAME + 4).astype(np.int32))
    Image.fromarray((FRAME % 256).astype(np.uint8)).save(folder / "B.PNG")
    with h5py.File(folder / "C.H5", "w") as handle:
        handle["data"] = FRAME + 5
    np.save(folder / "E.npy", FRAME + 6)
    (folder / "E.npy").rename(folder / "E.NPY")
    (folder / "notes.TXT.GZ").write_bytes(gzip.compress(b"not an image"))
    assert list_folders(settings, str(folder)).images_here == 8

    created = await client.post("/api/v1/datasets", json={"name": "cases", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    assert (created.json()["scan"]["added"], created.json()["scan"]["unreadable"]) == (9, 0)
    ds = created.json()["dataset"]["id"]
    listed = (await client.get(f"/api/v1/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    items = {(i["uri"], i["frame"]): i for i in listed}
    expected = {
        ("frame.EDF.GZ", 0): FRAME,
        ("frame.EDF.GZ", 1): FRAME + 1,
        ("scan.cbf.BZ2", 0): FRAME + 2,
        ("img.Edf.Gz", 0): FRAME + 3,
        ("D.CBF", 0): FRAME + 2,
        ("A.TIF", 0): FRAME + 4,
        ("B.PNG", 0): FRAME % 256,
        ("C.H5", 0): FRAME + 5,
        ("E.NPY", 0): FRAME + 6,
    }
    assert set(items) == set(expected)
    assert items[("frame.EDF.GZ", 1)]["metadata"]["exposure"] == 1.0
    assert items[("scan.cbf.BZ2", 0)]["metadata"]["exposure"] == pytest.approx(0.095)
    for (uri, frame), pixels in expected.items():
        item = items[(uri, frame)]["id"]
        image = await client.get(f"/api/v1/items/{item}/image", params={"size": 32})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG"), uri
        readout = await client.get(f"/items/{item}/pixel", params={"x": 5, "y": 3})
        assert readout.status_code == 200, readout.text
        assert readout.json()["value"] == int(pixels[3, 5]), uri
        read = decode.read_file(folder / uri, frame, max_pixels=10**6)
        np.testing.assert_array_equal(read, pixels.astype(np.float32))


async def test_a_truncated_compressed_file_is_unreadable_where_it_is_cut_and_nothing_else_is_lost(
    client, folder
):
    """A copy cut short: a .cbf.gz whose data ends early is one unreadable item that says so; a
    two-frame .edf.gz cut in its second frame keeps its first (fabio fills a cut frame with zeros,
    which were shown as data); a .bz2 cut in its header is one unreadable item. The others stay."""
    big = np.tile(FRAME, (4, 4))  # data long enough that the cut falls inside it
    write_cbf(folder / "cut.cbf", big, PILATUS)
    write_edf(folder / "cut.edf", [big, big + 1], [{}, {}])
    write_edf(folder / "whole.edf", [FRAME], [{}])
    write_edf(folder / "header.edf", [FRAME], [{}])
    for name in ("cut.cbf", "cut.edf", "whole.edf", "header.edf"):
        _compress(folder / name)
    for name in ("cut.cbf.gz", "cut.edf.gz"):
        raw = (folder / name).read_bytes()
        (folder / name).write_bytes(raw[: len(raw) * 3 // 4])
    (folder / "header.edf.bz2").write_bytes((folder / "header.edf.bz2").read_bytes()[:100])
    created = await client.post("/api/v1/datasets", json={"name": "cut", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    listed = (await client.get(f"/api/v1/datasets/{ds}/items", params={"filter": "all"})).json()["items"]
    status = {(i["uri"], i["frame"]): (i["status"], i["error"]) for i in listed}
    assert status[("cut.cbf.gz", 0)][0] == "unreadable"
    assert "cut.cbf.gz is a truncated gzip file" in status[("cut.cbf.gz", 0)][1]
    assert status[("cut.edf.gz", 0)] == ("ok", None)
    assert status[("cut.edf.gz", 1)] == (
        "unreadable",
        "cut.edf.gz ends inside the data of frame 1: the file is truncated",
    )
    assert status[("header.edf.bz2", 0)][0] == "unreadable"
    assert "header.edf.bz2 is a truncated bzip2-compressed EDF file" in status[("header.edf.bz2", 0)][1]
    ok = [key for key, (state, _) in status.items() if state == "ok"]
    assert sorted(ok) == [
        ("cut.cbf.bz2", 0),
        ("cut.edf.bz2", 0),
        ("cut.edf.bz2", 1),
        ("cut.edf.gz", 0),
        ("header.edf.gz", 0),
        ("whole.edf.bz2", 0),
        ("whole.edf.gz", 0),
    ]
    assert created.json()["scan"]["unreadable"] == 3
    for (uri, frame), (state, _) in status.items():
        if state == "ok":
            item = next(i["id"] for i in listed if (i["uri"], i["frame"]) == (uri, frame))
            image = await client.get(f"/api/v1/items/{item}/image", params={"size": 32})
            assert image.status_code == 200, (uri, frame, image.text)
    np.testing.assert_array_equal(decode.read_file(folder / "cut.edf.gz", 0, max_pixels=10**6), big)
    with pytest.raises(Unreadable, match="truncated"):
        decode.read_file(folder / "cut.cbf.gz", 0, max_pixels=10**6)  # a read says so too


def test_a_compressed_header_declaring_more_data_than_its_frame_holds_is_refused(tmp_path):
    """fabio reads the data size a header declares in one piece: a small .gz whose 20x16 frame
    declares 2 GB of data makes it ask for 2 GB at once, which a compressed run of zeros can
    supply (a plain file cannot give more than its size). The header is refused instead."""
    frame = np.zeros((16, 20), np.int32)
    write_edf(tmp_path / "a.edf", [frame], [{}])
    write_cbf(tmp_path / "a.cbf", frame, PILATUS)
    raw = (tmp_path / "a.edf").read_bytes()
    edf = re.sub(rb"\nSize = \d+ ;", b"\nSize = 2000000000 ;", raw)
    brace = edf.index(b"}\n")  # the header keeps its length: fewer spaces before its brace
    edf = edf[: brace - (len(edf) - len(raw))] + edf[brace:]
    cbf = re.sub(rb"X-Binary-Size: \d+", b"X-Binary-Size: 2000000000", (tmp_path / "a.cbf").read_bytes())
    (tmp_path / "big.edf.gz").write_bytes(gzip.compress(edf + bytes(4_000_000)))
    (tmp_path / "big.cbf.gz").write_bytes(gzip.compress(cbf + bytes(4_000_000)))
    for name in ("big.edf.gz", "big.cbf.gz"):
        with pytest.raises(Unreadable, match="declares 2000000000 bytes of data for a 20x16 frame"):
            decode.probe_frames(tmp_path / name)
        with pytest.raises(Unreadable, match="declares 2000000000 bytes"):
            decode.read_file(tmp_path / name, max_pixels=10**6)


def test_an_uncompressed_edf_cut_short_is_not_read_as_zeros(tmp_path):
    """fabio pads a frame the file ends inside with zeros and only logs it: such a frame read as
    data (zeros where the copy stopped). Its probe and its read now say the frame is truncated."""
    write_edf(tmp_path / "cut.edf", [FRAME, FRAME + 1], [{}, {}])
    raw = (tmp_path / "cut.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(raw[:-1000])
    frames = decode.probe_frames(tmp_path / "cut.edf")
    assert [f.error for f in frames] == [
        None,
        "cut.edf ends inside the data of frame 1: the file is truncated",
    ]
    np.testing.assert_array_equal(decode.read_file(tmp_path / "cut.edf", 0, max_pixels=10**6), FRAME)
    with pytest.raises(Unreadable, match="ends inside the data of frame 1"):
        decode.read_file(tmp_path / "cut.edf", 1, max_pixels=10**6)


async def test_an_uncompressed_cbf_cut_short_is_unreadable_at_scan_saying_it_is_truncated(client, folder):
    """fabio reads a CBF's header and stops before its data: a plain .cbf cut short passed the scan
    and failed when displayed ("AssertionError"); a .gz of such a copy likewise. Both are now one
    unreadable item at scan, as a truncated compressed file is, and a read says so too."""
    big = np.tile(FRAME, (4, 4))
    write_cbf(folder / "whole.cbf", big, PILATUS)
    raw = (folder / "whole.cbf").read_bytes()
    (folder / "cut.cbf").write_bytes(raw[: len(raw) * 3 // 4])
    (folder / "copied.cbf.gz").write_bytes(gzip.compress(raw[: len(raw) // 2]))  # whole .gz, cut CBF
    created = await client.post("/api/v1/datasets", json={"name": "cut", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    assert created.json()["scan"]["unreadable"] == 2
    ds = created.json()["dataset"]["id"]
    listed = (await client.get(f"/api/v1/datasets/{ds}/items", params={"filter": "all"})).json()["items"]
    status = {i["uri"]: (i["status"], i["error"]) for i in listed}
    cut = "ends inside the data of frame 0: the file is truncated"
    assert status == {
        "whole.cbf": ("ok", None),
        "cut.cbf": ("unreadable", f"cut.cbf {cut}"),
        "copied.cbf.gz": ("unreadable", f"copied.cbf.gz {cut}"),
    }
    with pytest.raises(Unreadable, match=re.escape(f"cut.cbf {cut}")):
        decode.read_file(folder / "cut.cbf", 0, max_pixels=10**6)
    damaged = "CBF data does not fill the frame (the file is truncated or damaged)"
    with pytest.raises(Unreadable, match=re.escape(damaged)):
        decode.read_file(folder / "copied.cbf.gz", 0, max_pixels=10**6)  # a read does not decompress twice
    np.testing.assert_array_equal(decode.read_file(folder / "whole.cbf", 0, max_pixels=10**6), big)


@pytest.mark.timeout(30)
def test_a_cbf_cut_before_its_data_starts_is_truncated_not_read_forever(tmp_path):
    """fabio looks for the bytes a CBF's data follows until it finds them: in a file cut between
    its binary section's marker and them, forever (the scan hung). It is refused first."""
    write_cbf(tmp_path / "whole.cbf", FRAME, PILATUS)
    raw = (tmp_path / "whole.cbf").read_bytes()
    cut = raw.index(b"--CIF-BINARY-FORMAT-SECTION--") + 40
    (tmp_path / "cut.cbf").write_bytes(raw[:cut])
    with pytest.raises(Unreadable, match=r"cut\.cbf ends inside the header of its binary section: the CBF"):
        decode.probe_frames(tmp_path / "cut.cbf")


def test_an_edf_name_on_an_hdf5_file_is_not_opened_by_an_hdf5_reader(tmp_path):
    """fabio picks readers by content; ours are named, so the HDF5 link checks cannot be bypassed."""
    with h5py.File(tmp_path / "disguised.edf", "w") as handle:
        handle["data"] = h5py.ExternalLink("/somewhere/else.h5", "/data")
    with pytest.raises(Unreadable, match="corrupt EDF header"):
        decode.probe_file(tmp_path / "disguised.edf")


@pytest.mark.parametrize("compress", ["bitshuffle", "blosc"])
def test_compressed_hdf5_frames_decode_through_hdf5plugin(tmp_path, compress):
    stack = np.stack([FRAME, FRAME * 2, FRAME * 3]).astype(np.uint32)
    options = hdf5plugin.Bitshuffle(cname="lz4") if compress == "bitshuffle" else hdf5plugin.Blosc()
    with h5py.File(tmp_path / "frames.h5", "w") as handle:
        handle.create_dataset("entry/data/data", data=stack, chunks=(1, 48, 64), **options)
        assert handle["entry/data/data"].compression is None  # a plugin filter, not gzip/lzf
    assert len(decode.probe_file(tmp_path / "frames.h5")) == 3
    np.testing.assert_array_equal(decode.read_file(tmp_path / "frames.h5", 2, max_pixels=10**6), FRAME * 3)


async def test_an_eiger_master_reads_the_frames_of_every_linked_data_file(session, settings, folder):
    first = np.stack([FRAME + k for k in range(3)]).astype(np.uint32)
    second = np.stack([FRAME + 10 + k for k in range(2)]).astype(np.uint32)
    write_eiger(folder, "series_1", [first, second])
    dataset, report = await service.create_dataset(session, settings, "eiger", [str(folder)])
    items = await _items(session, dataset.id)
    # the data files are read through the master only; the pixel mask is not a frame
    assert [(i.uri, i.frame) for i in items] == [("series_1_master.h5", f) for f in range(5)]
    assert report.unreadable == 0
    assert items[0].meta == {"exposure": 0.05, "sample": "lysozyme"}
    source = FolderSource(folder, [folder], 10**6)
    np.testing.assert_array_equal(source.read("series_1_master.h5", 4), FRAME + 11)
    np.testing.assert_array_equal(source.read("series_1_master.h5", 2), FRAME + 2)


async def test_a_missing_eiger_data_file_is_one_unreadable_item_and_the_others_stay_usable(client, folder):
    stack = np.stack([FRAME, FRAME + 1]).astype(np.uint32)
    write_eiger(folder, "run_7", [stack, None, stack], compress="blosc")
    created = await client.post("/api/v1/datasets", json={"name": "gap", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    items = (await client.get(f"/api/v1/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    assert [i["status"] for i in items] == ["ok", "ok", "unreadable", "ok", "ok"]
    broken = items[2]
    assert (
        broken["error"]
        == "external link 'entry/data/data_000002': data file 'run_7_data_000002.h5' is missing or unreadable"
    )
    refused = await client.get(f"/api/v1/items/{broken['id']}/image", params={"size": 32})
    assert refused.status_code == 422 and "run_7_data_000002.h5" in refused.text
    for item in (items[0], items[4]):
        image = await client.get(f"/api/v1/items/{item['id']}/image", params={"size": 32})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    page = await client.get(f"/datasets/{ds}/label", params={"filter": "unreadable"})
    assert (
        "data file &#39;run_7_data_000002.h5&#39; is missing" in page.text
        or "run_7_data_000002.h5" in page.text
    )


def test_a_filter_no_plugin_provides_is_a_per_frame_error(tmp_path):
    with h5py.File(tmp_path / "exotic.h5", "w") as handle:
        node = handle.create_dataset(
            "entry/data/data",
            shape=(2, 32, 32),
            dtype="uint16",
            chunks=(1, 32, 32),
            compression=32999,  # a registered-looking id that no library here provides
            allow_unknown_filter=True,
        )
        node.id.write_direct_chunk((0, 0, 0), b"\x00" * 64)
    frames = decode.probe_frames(tmp_path / "exotic.h5")
    assert len(frames) == 2
    assert all(
        f.error == "dataset 'entry/data/data' is compressed with HDF5 filter 32999, which is not installed"
        for f in frames
    )
    with pytest.raises(Unreadable, match="filter 32999, which is not installed"):
        decode.read_file(tmp_path / "exotic.h5", 0, max_pixels=10**6)


def _nexus(path: Path) -> None:
    with h5py.File(path, "w") as handle:
        handle.attrs["default"] = "entry"
        entry = handle.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "plot"})
        entry["entry_identifier"] = "scan 41"
        entry["start_time"] = "2024-05-01T12:00:00+00:00"
        entry["sample/name"] = "kapton"
        entry["sample/temperature"] = 310.0
        entry["instrument/detector/count_time"] = 2.0
        entry["instrument/detector/data"] = np.stack([FRAME, FRAME * 2]).astype(np.float32)
        entry["instrument/detector/flatfield"] = np.ones((48, 64), np.float32)
        plot = entry.create_group("plot")
        plot.attrs.update({"NX_class": "NXdata", "signal": "frames"})
        plot["frames"] = h5py.SoftLink("/entry/instrument/detector/data")
        plot["background"] = np.zeros((48, 64), np.float32)


async def test_a_nexus_file_is_read_through_its_default_signal(session, settings, folder):
    _nexus(folder / "scan41.nxs")
    dataset, _ = await service.create_dataset(session, settings, "nexus", [str(folder)])
    items = await _items(session, dataset.id)
    assert [(i.uri, i.frame) for i in items] == [("scan41.nxs", 0), ("scan41.nxs", 1)]
    assert items[1].meta == {
        "exposure": 2.0,
        "sample": "kapton",
        "run": "scan 41",
        "time": "2024-05-01T12:00:00+00:00",
        "temperature": 310.0,
    }
    np.testing.assert_array_equal(decode.read_file(folder / "scan41.nxs", 1, max_pixels=10**6), FRAME * 2)


def test_without_a_default_signal_every_image_array_is_a_frame(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as handle:
        handle["a"] = np.zeros((16, 16))
        handle["b"] = np.zeros((2, 16, 16))
    assert len(decode.probe_file(tmp_path / "plain.h5")) == 3


def test_the_tiff_datetime_tag_is_kept(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "t.tif", FRAME.astype(np.uint16), datetime="2023:11:02 08:15:00")
    assert decode.probe_frames(tmp_path / "t.tif")[0].meta == {"time": "2023-11-02T08:15:00"}


async def test_a_rescan_fills_the_metadata_of_items_scanned_before_it_was_kept(session, settings, folder):
    from sqlalchemy import update

    from backend.storage.tables import Item

    write_edf(folder / "old.edf", [FRAME], [{"scan_no": "5", "ExposureTime": "0.2"}])
    dataset, _ = await service.create_dataset(session, settings, "old", [str(folder)])
    dataset_id = dataset.id
    await session.execute(update(Item).where(Item.dataset_id == dataset_id).values(meta=None))
    await session.commit()
    assert (await _items(session, dataset_id))[0].meta is None
    await service.rescan_dataset(session, settings, dataset_id)
    session.expire_all()
    assert (await _items(session, dataset_id))[0].meta == {"run": "5", "exposure": 0.2}


async def test_the_datasets_page_says_why_items_are_unreadable(client, folder):
    write_eiger(folder, "gap", [np.stack([FRAME]).astype(np.uint32), None])
    (folder / "junk.cbf").write_bytes(b"not a CBF file at all\n" * 10)
    created = await client.post("/api/v1/datasets", json={"name": "reasons", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    page = (await client.get("/datasets")).text
    assert "(2 unreadable)" in page
    assert "data file &#39;gap_data_000002.h5&#39; is missing or unreadable" in page
    assert "junk.cbf has a corrupt CBF header" in page


async def test_a_data_file_that_links_on_outside_the_roots_is_refused(session, settings, folder, tmp_path):
    """The master's link is checked by name, then the dataset it reaches is checked where it lives:
    a data file inside the roots may itself link on to a file outside them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    with h5py.File(outside / "private.h5", "w") as handle:
        handle["data"] = np.full((2, 32, 32), 7, dtype=np.uint16)
    with h5py.File(folder / "hop_data_000001.h5", "w") as handle:
        handle["entry/data/data"] = h5py.ExternalLink(str(outside / "private.h5"), "/data")
    with h5py.File(folder / "hop_master.h5", "w") as handle:
        handle["entry/data/data_000001"] = h5py.ExternalLink("hop_data_000001.h5", "/entry/data/data")
    dataset, _ = await service.create_dataset(session, settings, "hop", [str(folder)])
    items = await _items(session, dataset.id)
    assert [(i.uri, i.status) for i in items] == [("hop_master.h5", "unreadable")]
    assert "outside the data roots" in items[0].error and str(outside) not in items[0].error


def test_an_eiger_layout_with_its_frames_inside_keeps_its_pixel_mask_and_flat_field_out(tmp_path):
    """Frames written in the master itself (no linked data files): its detectorSpecific pixel mask
    and flat field were frames beside them. A file holding only a pixel mask still is one."""
    with h5py.File(tmp_path / "inline.h5", "w") as handle:
        handle["entry/instrument/detector/detectorSpecific/pixel_mask"] = np.zeros((48, 64), np.uint32)
        handle["entry/instrument/detector/detectorSpecific/flatfield"] = np.ones((48, 64), np.float32)
        handle["entry/instrument/detector/pixel_mask"] = np.zeros((48, 64), np.uint8)  # NXdetector's
        handle["entry/data/data"] = np.stack([FRAME, FRAME * 2])
    assert len(decode.probe_file(tmp_path / "inline.h5")) == 2
    np.testing.assert_array_equal(decode.read_file(tmp_path / "inline.h5", 1, max_pixels=10**6), FRAME * 2)
    with h5py.File(tmp_path / "mask_only.h5", "w") as handle:
        handle["entry/instrument/detector/detectorSpecific/pixel_mask"] = np.zeros((48, 64), np.uint32)
    assert len(decode.probe_file(tmp_path / "mask_only.h5")) == 1
