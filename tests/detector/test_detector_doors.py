"""Masks, PONI geometry and the display preset through the real app: REST, GraphQL and the pages."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.detector.factories import RING_Q, gap_mask, q_peak, ring_pattern, write_poni
from tests.helpers.graphql import gql, gql_error
from tests.helpers.rest import API, assert_error, snapshot
from tests.html import all_of, by_id, parse


def _calibration(folder: Path) -> Path:
    """Calibration files beside the image folder (inside the data root, not scanned as items)."""
    path = folder.parent / f"calib_{folder.name}"
    path.mkdir()
    return path


async def _rings(client: Any, folder: Path, *, gap_value: int | None = None) -> tuple[dict, int, int]:
    """A dataset of three 32-bit ring frames; (dataset, source id, first item id)."""
    for index in range(3):
        frame = ring_pattern()
        if gap_value is not None:
            frame[gap_mask() != 0] = gap_value
        tifffile.imwrite(folder / f"ring_{index}.tif", frame)
    response = await client.post(
        f"{API}/datasets", json={"name": f"rings-{folder.name}", "sources": [str(folder)]}
    )
    assert response.status_code == 201, response.text
    dataset = response.json()["dataset"]
    source = (await client.get(f"{API}/datasets/{dataset['id']}/sources")).json()[0]
    items = (await client.get(f"{API}/datasets/{dataset['id']}/items")).json()["items"]
    return dataset, source["id"], items[0]["id"]


async def _patch_source(client: Any, dataset_id: int, source_id: int, **fields: Any) -> Any:
    return await client.patch(f"{API}/datasets/{dataset_id}/sources/{source_id}", json=fields)


async def test_mask_and_poni_are_set_shown_and_give_i_of_q(client, folder):
    dataset, source_id, item_id = await _rings(client, folder)
    assert dataset["display"] == {"scale": "log", "colormap": "inferno", "p_low": 10.0, "p_high": 99.9}
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    poni = write_poni(calib / "det.poni")
    response = await _patch_source(
        client,
        dataset["id"],
        source_id,
        mask_path=str(calib / "mask.npy"),
        mask_rules=["zero", "gaps"],
        poni_path=f"{calib.name}/det.poni",  # relative to the data root, like folders
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mask_path"] == str((calib / "mask.npy").resolve()) and body["poni_path"] == str(
        poni.resolve()
    )
    assert body["mask_rules"] == ["zero", "gaps"] and body["problems"] == []
    page = await client.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert all_of(by_id(parse(page.text), "plot-q"), ".//polyline")
    peak = q_peak(page.text)
    assert abs(peak - RING_Q) / RING_Q < 0.01
    listing = await client.get("/datasets")
    assert "mask + PONI" in listing.text and all_of(parse(listing.text), "//input[@value='gaps'][@checked]")
    cleared = await _patch_source(client, dataset["id"], source_id, poni_path="")
    assert cleared.json()["poni_path"] is None and cleared.json()["mask_path"]
    assert 'id="plot-q"' not in (await client.get(f"/items/{item_id}")).text


async def test_masks_and_ponis_that_do_not_fit_are_refused_and_change_nothing(client, folder, tmp_path):
    dataset, source_id, _ = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "small.npy", np.zeros((64, 64), np.uint8))
    write_poni(calib / "other.poni", shape=(256, 256))
    np.save(tmp_path / "outside.npy", gap_mask())
    before = await snapshot(client)
    base = dataset["id"]
    assert_error(
        await _patch_source(client, base, source_id, mask_path=str(calib / "small.npy")),
        400,
        "INVALID",
        "64x64 pixels",
        "160x128 pixels",
    )
    assert_error(
        await _patch_source(client, base, source_id, poni_path=str(calib / "other.poni")),
        400,
        "INVALID",
        "256x256 pixel detector",
        "160x128",
    )
    assert_error(
        await _patch_source(client, base, source_id, mask_path=str(tmp_path / "outside.npy")),
        403,
        "FORBIDDEN",
    )
    assert_error(await _patch_source(client, base, source_id, mask_path="../x.npy"), 403, "FORBIDDEN", "..")
    assert_error(
        await _patch_source(client, base, source_id, mask_rules=["zero", "hot"]), 400, "INVALID", "hot"
    )
    assert_error(
        await _patch_source(client, base, source_id, poni_path=str(calib / "small.npy")), 400, "INVALID"
    )
    assert await snapshot(client) == before


async def test_a_mask_that_no_longer_fits_is_reported_and_the_items_stay_usable(client, folder):
    dataset, source_id, item_id = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    assert (
        await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "mask.npy"))
    ).status_code == 200
    np.save(calib / "mask.npy", np.zeros((10, 10), np.uint8))  # replaced on disk by another detector's
    sources = (await client.get(f"{API}/datasets/{dataset['id']}/sources")).json()
    assert any("mask not applied" in p and "10x10" in p for p in sources[0]["problems"])
    image = await client.get(f"{API}/items/{item_id}/image", params={"size": 64})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "mask not applied" in (await client.get("/datasets")).text


async def test_masked_pixels_do_not_change_the_rendered_frame(client, folder, data_root):
    """A saturated module gap makes the frame black in a linear view; masked, the frame renders
    exactly as the same frame whose gap reads zero."""
    saturated, source_id, item_id = await _rings(client, folder, gap_value=2**32 - 1)
    other = data_root / f"{folder.name}_zero"
    other.mkdir()
    zero, zero_source, zero_item = await _rings(client, other, gap_value=0)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    linear = {"scale": "linear", "colormap": "gray", "p_low": 1, "p_high": 99, "size": 128}

    async def png(item: int) -> bytes:
        response = await client.get(f"{API}/items/{item}/image", params=linear)
        assert response.status_code == 200, response.text
        return response.content

    unmasked = np.asarray(Image.open(io.BytesIO(await png(item_id))), float)
    for dataset, source in ((saturated, source_id), (zero, zero_source)):
        response = await _patch_source(client, dataset["id"], source, mask_path=str(calib / "mask.npy"))
        assert response.status_code == 200
    masked = await png(item_id)
    assert masked == await png(zero_item)
    keep = np.asarray(Image.open(io.BytesIO(masked)), float)
    # unmasked, the 99th percentile is the saturated gap: everything else is black, the ring too
    # (rows 0-40 hold the top of the ring, clear of the gap and the dead corner)
    assert unmasked[:40, 12:].max() == 0 and keep[:40, 12:].max() > 200


async def test_the_display_preset_applies_on_every_page(client, folder):
    dataset, _, item_id = await _rings(client, folder)
    base = dataset["id"]
    response = await client.patch(
        f"{API}/datasets/{base}",
        json={"display": {"scale": "sqrt", "colormap": "viridis", "p_low": 2, "p_high": 99.5}},
    )
    assert response.status_code == 200 and response.json()["display"]["colormap"] == "viridis"
    wanted = "p_low=2&amp;p_high=99.5&amp;scale=sqrt&amp;cmap=viridis"
    for page in (f"/datasets/{base}/label", f"/items/{item_id}"):
        text = (await client.get(page)).text
        assert f"/thumbs/{item_id}?log=0&amp;{wanted}" in text, page
    # similar, probability and review pages show thumbnails once a model ranks items; their
    # thumbnail parameters come from one helper, the dataset's preset
    from backend.pages.guided import thumb_query
    from backend.storage.tables import Dataset

    row = Dataset(
        name="x", display_scale="sqrt", display_colormap="viridis", display_p_low=2, display_p_high=99.5
    )
    assert thumb_query(row) == wanted.replace("&amp;", "&").join(["log=0&", "&size=128"])
    for page in (
        f"/datasets/{base}/similar?item_id={item_id}",
        f"/datasets/{base}/probability",
        f"/datasets/{base}/review",
    ):
        response = await client.get(page)
        assert response.status_code == 200, page
        assert "/thumbs/" not in response.text or wanted in response.text, page
    # the explorer's previews and selection galleries ask the API without display parameters
    plain = await client.get(f"{API}/items/{item_id}/image", params={"size": 96})
    said = await client.get(
        f"{API}/items/{item_id}/image",
        params={"size": 96, "scale": "sqrt", "colormap": "viridis", "p_low": 2, "p_high": 99.5},
    )
    assert plain.content == said.content
    with Image.open(io.BytesIO(plain.content)) as image:
        assert image.mode == "RGB"
    heat = f"{API}/datasets/{base}/explorer/heatmap"
    items = [item["id"] for item in (await client.get(f"{API}/datasets/{base}/items")).json()["items"]]
    preset = await client.post(heat, json={"item_ids": items})
    explicit = await client.post(heat, json={"item_ids": items, "scale": "sqrt", "p_low": 2, "p_high": 99.5})
    logged = await client.post(heat, json={"item_ids": items, "log": True})
    assert preset.status_code == 200 and preset.content == explicit.content != logged.content
    explorer_js = (await client.get("/static/app/explorer.js")).text
    assert "log=true" not in explorer_js and "/image?size=128`" in explorer_js  # the hover preview
    # (the selection gallery is drawn by the server with the preset: tests/guided/test_trust.py)
    # a viewer may still change it for one page through the URL
    text = (await client.get(f"/datasets/{base}/label", params={"scale": "log", "cmap": "gray"})).text
    assert "scale=log&amp;cmap=gray" in text
    assert_error(
        await client.patch(f"{API}/datasets/{base}", json={"display": {"p_low": 99.9, "p_high": 50}}),
        400,
        "INVALID",
        "percentile",
    )
    assert_error(
        await client.patch(f"{API}/datasets/{base}", json={"display": {"colormap": "jet"}}), 400, "INVALID"
    )


async def test_the_preset_and_the_detector_setup_through_graphql(client, folder):
    dataset, source_id, _ = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    data = await gql(
        client,
        """mutation($d: Int!, $s: Int!, $m: String!) {
          updateSource(datasetId: $d, id: $s, maskPath: $m, maskRules: ["negative"]) {
            maskPath maskRules problems
          }
          updateDataset(id: $d, display: {colormap: "magma"}) { display { scale colormap pLow pHigh } }
        }""",
        {"d": dataset["id"], "s": source_id, "m": str(calib / "mask.npy")},
    )
    assert data["updateSource"]["maskRules"] == ["negative"] and data["updateSource"]["problems"] == []
    assert data["updateDataset"]["display"] == {
        "scale": "log",
        "colormap": "magma",
        "pLow": 10.0,
        "pHigh": 99.9,
    }
    np.save(calib / "wrong.npy", np.zeros((5, 9)))
    await gql_error(
        client,
        "mutation($d: Int!, $s: Int!, $m: String!) "
        "{ updateSource(datasetId: $d, id: $s, maskPath: $m) { maskPath } }",
        {"d": dataset["id"], "s": source_id, "m": str(calib / "wrong.npy")},
        code="INVALID",
        fragments=("9x5 pixels",),
    )


@pytest.mark.parametrize("field", ["mask_path", "poni_path"])
async def test_files_of_another_dataset_s_source_cannot_be_set_through_this_one(client, folder, field):
    dataset, _, _ = await _rings(client, folder)
    response = await client.patch(f"{API}/datasets/{dataset['id']}/sources/999999", json={field: ""})
    assert_error(response, 404, "NOT_FOUND")


async def test_the_datasets_page_sets_the_display_and_the_detector_files(client, folder):
    from tests.helpers.pages import csrf_headers

    dataset, source_id, item_id = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    np.save(calib / "wrong.npy", np.zeros((3, 300)))
    write_poni(calib / "det.poni")
    headers = await csrf_headers(client)
    base = f"/datasets/{dataset['id']}"
    shown = await client.post(
        f"{base}/display",
        data={"scale": "sqrt", "colormap": "cividis", "p_low": "3", "p_high": ""},
        headers=headers,
    )
    assert shown.status_code == 200 and "sqrt · cividis · 3\u201399.9 %" in shown.text
    saved = await client.post(
        f"{base}/sources/{source_id}/detector",
        data={"mask_path": f"{calib.name}/mask.npy", "mask_rules": ["zero", "saturated"], "poni_path": ""},
        headers=headers,
    )
    assert saved.status_code == 200 and "Mask and geometry saved" in saved.text
    sources = (await client.get(f"{API}/datasets/{dataset['id']}/sources")).json()
    assert sources[0]["mask_rules"] == ["zero", "saturated"] and sources[0]["poni_path"] is None
    refused = await client.post(
        f"{base}/sources/{source_id}/detector", data={"mask_path": str(calib / "wrong.npy")}, headers=headers
    )
    assert refused.status_code == 400 and "300x3 pixels" in refused.text
    assert (await client.get(f"{API}/datasets/{dataset['id']}/sources")).json() == sources
    assert "scale=sqrt&amp;cmap=cividis" in (await client.get(f"/items/{item_id}")).text


def _fabio_mask(path: Path) -> Path:
    """``gap_mask`` as fabio writes it: EDF (gzip-compressed by fabio itself for a ``.edf.gz``
    name) or CBF (int32, byte-offset; fabio writes it plain, compressed here as the name says)."""
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage

    data = gap_mask().astype(np.int32)
    if path.name.endswith(".edf.gz"):
        EdfImage(data=data).write(str(path))
        return path
    compress = {".gz": gzip.compress, ".bz2": bz2.compress}.get(path.suffix.lower())
    plain = path.with_name(path.stem) if compress else path
    image = CbfImage(data=data) if plain.suffix.lower() == ".cbf" else EdfImage(data=data)
    image.write(str(plain))
    if compress:
        path.write_bytes(compress(plain.read_bytes()))
        plain.unlink()
    return path


async def _masked(client: Any, item_id: int, x: int, y: int) -> bool:
    response = await client.get(f"/items/{item_id}/pixel", params={"x": x, "y": y})
    assert response.status_code == 200, response.text
    return response.json()["masked"]


@pytest.mark.parametrize("name", ["mask.cbf", "mask.edf.gz", "MASK.CBF.BZ2"])
async def test_cbf_and_compressed_masks_written_by_fabio_apply_to_the_items(client, folder, name):
    """A mask could be .edf only among the detector formats: a Pilatus mask kept as CBF, or an EDF
    or CBF mask compressed as the frames beside it are, was refused ("a mask file is a .npy, ...
    file"). Read as an item's frame is, it masks the same pixels as the same mask in .npy."""
    dataset, source_id, item_id = await _rings(client, folder)
    calib = _calibration(folder)
    mask = _fabio_mask(calib / name)
    assert (mask.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")  # gzip only where named so
    response = await _patch_source(client, dataset["id"], source_id, mask_path=f"{calib.name}/{name}")
    assert response.status_code == 200, response.text
    assert response.json()["mask_path"] == str(mask.resolve()) and response.json()["problems"] == []
    # the dead corner and the module gap are masked, the ring above the gap is not
    assert await _masked(client, item_id, 3, 4) and await _masked(client, item_id, 100, 61)
    assert not await _masked(client, item_id, 100, 30)
    params = {"scale": "linear", "colormap": "gray", "p_low": 1, "p_high": 99, "size": 128}
    rendered = await client.get(f"{API}/items/{item_id}/image", params=params)
    np.save(calib / "same.npy", gap_mask())
    as_npy = await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "same.npy"))
    assert as_npy.status_code == 200, as_npy.text
    same = await client.get(f"{API}/items/{item_id}/image", params=params)
    assert rendered.status_code == 200 and rendered.content == same.content


async def test_a_truncated_compressed_mask_is_refused_saying_so_and_changes_nothing(client, folder):
    """A mask copy cut short (.edf.gz cut inside its data, .cbf.gz cut inside its binary section)
    is refused with the reason; the source keeps the mask it had, and the items their pixels."""
    dataset, source_id, item_id = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    kept = await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "mask.npy"))
    assert kept.status_code == 200, kept.text
    for name in ("cut.edf.gz", "cut.cbf.gz"):
        whole = _fabio_mask(calib / name).read_bytes()
        (calib / name).write_bytes(whole[: len(whole) * 3 // 4])
    before = await snapshot(client)
    assert_error(
        await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "cut.edf.gz")),
        422,
        "UNREADABLE",
        "cut.edf.gz ends inside the data of frame 0: the file is truncated",
    )
    assert_error(
        await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "cut.cbf.gz")),
        422,
        "UNREADABLE",
        "cut.cbf.gz",
        "truncated",
    )
    assert await snapshot(client) == before
    assert await _masked(client, item_id, 3, 4) and not await _masked(client, item_id, 100, 30)


async def test_compressed_tiff_and_hdf5_masks_declaring_a_huge_frame_are_refused_unread(client, folder):
    """A zlib TIFF and a gzip-chunked HDF5 mask of a few kB that declare 3000x2000 pixels (above
    the tests' 4,000,000-pixel limit) were decompressed whole, then refused only as the wrong size
    (400). They are refused by the shape they declare, TOO_LARGE naming the mask; the source keeps
    its mask. Compressed masks under the limit still apply."""
    dataset, source_id, item_id = await _rings(client, folder)
    calib = _calibration(folder)
    np.save(calib / "mask.npy", gap_mask())
    kept = await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / "mask.npy"))
    assert kept.status_code == 200, kept.text
    zeros = np.zeros((2000, 3000), np.uint8)
    tifffile.imwrite(calib / "huge.tif", zeros, compression="zlib")
    with h5py.File(calib / "huge.h5", "w") as handle:
        handle.create_dataset("mask", data=zeros, chunks=(500, 500), compression="gzip")
    before = await snapshot(client)
    for name in ("huge.tif", "huge.h5"):
        assert (calib / name).stat().st_size < 100_000  # the declared size is refused, not the file's
        error = assert_error(
            await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / name)),
            413,
            "TOO_LARGE",
            f"mask {name}: image of 3000x2000 pixels exceeds the limit of 4000000 pixels",
        )
        assert error["details"] == {"width": 3000, "height": 2000}
    assert await snapshot(client) == before
    assert await _masked(client, item_id, 3, 4) and not await _masked(client, item_id, 100, 30)
    tifffile.imwrite(calib / "gaps.tif", gap_mask().astype(np.uint8), compression="zlib")
    with h5py.File(calib / "gaps.h5", "w") as handle:
        handle.create_dataset("mask", data=gap_mask().astype(np.uint8), chunks=(64, 80), compression="gzip")
    for name in ("gaps.tif", "gaps.h5"):
        response = await _patch_source(client, dataset["id"], source_id, mask_path=str(calib / name))
        assert response.status_code == 200, response.text
        assert (
            response.json()["mask_path"] == str((calib / name).resolve())
            and response.json()["problems"] == []
        )
        assert await _masked(client, item_id, 100, 61) and not await _masked(client, item_id, 100, 30)
