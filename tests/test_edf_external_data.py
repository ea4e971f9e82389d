"""An EDF header can keep a frame's data in another file (``EDF_BinaryFileName``), which fabio reads
from beside the EDF file, through a symlink there too: a file put in a data root could show any
file the server can read. Such an EDF is one unreadable item saying why, at scan and at every read
(display, pixel readout, export, mask). Every file is written here; the secret lies outside the roots."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from fabio.edfimage import EdfImage

from backend.errors import Unreadable
from backend.images import decode, detector
from tests.detector.factories import FRAME, gap_mask, ring_pattern, write_edf
from tests.helpers.rest import API, assert_error
from tests.html import parse, text_of

SIDE = 16  # a 16x16 uint8 frame: its 256 bytes of data
SECRET = bytes((i * 37 + 11) % 256 for i in range(128 * 160))  # no zero byte: read as a mask, all masked
REASON = "keeps the data in another file (EDF_BinaryFileName); data outside the file itself is not read"


def _secret(tmp_path: Path) -> Path:
    """A file outside the data roots, with bytes no test frame holds."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.bin").write_bytes(SECRET)
    return outside / "secret.bin"


def _external_edf(path: Path, named: str, *, first: bool = True) -> Path:
    """An EDF whose frame names ``named`` for its data (the second frame only unless ``first``).
    ``.edf.gz``: the same file gzip-compressed."""
    plain = path.with_name(path.name.removesuffix(".gz"))
    zeros = np.zeros((SIDE, SIDE), np.uint8)
    headers = [{"EDF_BinaryFileName": named}, {}] if first else [{}, {"EDF_BinaryFileName": named}]
    write_edf(plain, [zeros, zeros], headers)
    if path != plain:
        path.write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()
    return path


def _up_to(folder: Path, secret: Path) -> str:
    """``../`` from ``folder`` up to the file system's root, then down to ``secret``."""
    return "../" * (len(folder.parts) - 1) + str(secret).lstrip("/")


def _refused_readout(response: Any) -> None:
    """The pixel readout (a page route: its error is a page) refused with the reason, no value."""
    assert response.status_code == 422, response.text
    assert REASON in text_of(parse(response.text))


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "symlink-gz"])
async def test_an_edf_naming_another_file_for_its_data_is_one_unreadable_item(client, folder, tmp_path, how):
    """The name in the second frame's header: the whole file is one unreadable item that says why
    (fabio strips the folder from the name and reads the base name beside the EDF, so a link of
    that name there reads the secret: it was two readable frames showing it). A plain EDF reads."""
    secret = _secret(tmp_path)
    for name in ("secret.bin", "link.bin"):  # the name fabio looks for beside the file
        (folder / name).symlink_to(secret)
    named = {"absolute": str(secret), "dotdot": _up_to(folder, secret)}.get(how, "link.bin")
    bad = _external_edf(folder / ("bad.edf.gz" if how.endswith("gz") else "bad.edf"), named, first=False)
    write_edf(folder / "plain.edf", [FRAME], [{}])
    created = await client.post(f"{API}/datasets", json={"name": how, "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    assert (created.json()["scan"]["added"], created.json()["scan"]["unreadable"]) == (2, 1)
    ds = created.json()["dataset"]["id"]
    listed = (await client.get(f"{API}/datasets/{ds}/items", params={"filter": "all"})).json()["items"]
    status = {(i["uri"], i["frame"]): (i["status"], i["error"]) for i in listed}
    assert status == {
        (bad.name, 0): ("unreadable", f"{bad.name}: the EDF header of frame 1 {REASON}"),
        ("plain.edf", 0): ("ok", None),
    }
    by_uri = {i["uri"]: i["id"] for i in listed}
    for uri in (bad.name, "plain.edf"):
        image = await client.get(f"{API}/items/{by_uri[uri]}/image", params={"size": 32})
        readout = await client.get(f"/items/{by_uri[uri]}/pixel", params={"x": 5, "y": 3})
        if uri == "plain.edf":
            assert image.status_code == 200 and readout.json()["value"] == int(FRAME[3, 5])
        else:
            assert_error(image, 422, "UNREADABLE", REASON)
            _refused_readout(readout)
    np.testing.assert_array_equal(decode.read_file(folder / "plain.edf", 0, max_pixels=10**6), FRAME)


async def test_an_edf_swapped_after_the_scan_shows_none_of_the_secret(client, folder, tmp_path):
    """A readable, labeled frame whose file is replaced by one naming a link to the secret: the
    display, the pixel readout and the ZIP export read it again and refuse it (they showed the
    secret's bytes: the readout gave its value, the export a TIFF of it)."""
    secret = _secret(tmp_path)
    (folder / "link.bin").symlink_to(secret)
    EdfImage(data=np.zeros((SIDE, SIDE), np.uint8)).write(str(folder / "frame.edf"))
    created = await client.post(f"{API}/datasets", json={"name": "swap", "sources": [str(folder)]})
    assert created.status_code == 201 and created.json()["scan"]["unreadable"] == 0, created.text
    ds = created.json()["dataset"]["id"]
    item = (await client.get(f"{API}/datasets/{ds}/items")).json()["items"][0]["id"]
    label = (await client.post(f"{API}/datasets/{ds}/classes", json={"name": "ring"})).json()["id"]
    tagged = await client.post(f"{API}/datasets/{ds}/tags", json={"item_ids": [item], "label_id": label})
    assert tagged.status_code == 201, tagged.text

    EdfImage(data=np.zeros((SIDE, SIDE), np.uint8), header={"EDF_BinaryFileName": "link.bin"}).write(
        str(folder / "frame.edf")
    )
    archive = await client.get(f"{API}/datasets/{ds}/export", params={"format": "zip"})
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        members = {name: zipped.read(name) for name in zipped.namelist()}
    assert not [name for name in members if name.endswith(".tif")]
    assert REASON in members["skipped.csv"].decode()
    _refused_readout(await client.get(f"/items/{item}/pixel", params={"x": 5, "y": 3}))
    image = await client.get(f"{API}/items/{item}/image", params={"size": 32})
    assert_error(image, 422, "UNREADABLE", REASON)
    assert SECRET[:64] not in image.content
    shown = (await client.get(f"{API}/items/{item}")).json()  # the display marked it unreadable
    assert (shown["status"], shown["error"]) == (
        "unreadable",
        f"frame.edf: the EDF header of frame 0 {REASON}",
    )
    assert not any(SECRET[:64] in data for data in members.values())


@pytest.mark.parametrize("name", ["frame.edf", "frame.edf.gz"])
def test_the_frame_read_refuses_the_header_it_parsed(tmp_path, name):
    """``detector.read`` checks the headers it parsed itself, before fabio reads any data: a file
    changed between the probe and the read is refused too (the read gave the secret's bytes)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.bin").symlink_to(_secret(tmp_path))
    path = _external_edf(root / name, "link.bin")
    for frame in (0, 1):
        with pytest.raises(Unreadable, match="EDF_BinaryFileName") as refused:
            detector.read(path, frame)
        assert str(tmp_path) not in refused.value.message
    with pytest.raises(Unreadable, match="frame 0 keeps the data in another file"):
        decode.probe_frames(path)
    # the key in another case: fabio (2026.6) does not follow it, a version that did would
    raw = (root / name).read_bytes()
    raw = gzip.decompress(raw) if name.endswith(".gz") else raw
    (root / "case.edf").write_bytes(raw.replace(b"EDF_BinaryFileName", b"edf_binaryfilename"))
    with pytest.raises(Unreadable, match="EDF_BinaryFileName"):
        decode.probe_frames(root / "case.edf")


async def test_an_edf_mask_naming_another_file_is_refused_with_the_reason(client, folder, tmp_path):
    """A mask of the frames' size whose data is a link to the secret: refused (422) saying why, the
    source unchanged (it was taken: the secret's bytes became the mask)."""
    secret = _secret(tmp_path)
    tifffile.imwrite(folder / "ring.tif", ring_pattern())
    created = await client.post(f"{API}/datasets", json={"name": "masked", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    source = (await client.get(f"{API}/datasets/{ds}/sources")).json()[0]["id"]
    calib = folder.parent / f"calib_{folder.name}"
    calib.mkdir()
    (calib / "link.bin").symlink_to(secret)
    EdfImage(data=np.zeros(gap_mask().shape, np.uint8), header={"EDF_BinaryFileName": "link.bin"}).write(
        str(calib / "mask.edf")
    )
    response = await client.patch(
        f"{API}/datasets/{ds}/sources/{source}", json={"mask_path": str(calib / "mask.edf")}
    )
    assert_error(response, 422, "UNREADABLE", f"mask.edf: the EDF header of frame 0 {REASON}")
    after = (await client.get(f"{API}/datasets/{ds}/sources")).json()[0]
    assert after["mask_path"] is None
