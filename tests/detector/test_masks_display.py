"""Masks and the display transforms: masked pixels never set what a frame looks like."""

from __future__ import annotations

import bz2
import gzip
import io
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from backend.errors import Forbidden, Invalid, TooLarge, Unreadable
from backend.images import masks
from backend.images.colormap import apply_colormap
from backend.images.thumbnails import render_png
from backend.images.transforms import DisplayTransform, apply_transform, counted_pixels
from tests.detector.factories import SHAPE, gap_mask


def _frame(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(50.0, SHAPE).astype(np.float32) + 10.0


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".h5"])
def test_mask_files_are_read_nonzero_as_masked(tmp_path, suffix):
    expected = gap_mask()
    path = tmp_path / f"mask{suffix}"
    if suffix == ".npy":
        np.save(path, expected)
    elif suffix == ".tif":
        tifffile.imwrite(path, expected.astype(np.uint8))
    else:
        with h5py.File(path, "w") as handle:  # pyFAI's own masks keep one dataset; name it "mask"
            handle.create_dataset("entry/other", data=np.zeros((20, 20)))
            handle.create_dataset("entry/mask", data=expected)
    loaded = masks.load_mask_file(path, [tmp_path])
    assert loaded.dtype == bool and loaded.shape == SHAPE
    assert np.array_equal(loaded, expected != 0)


def test_an_edf_mask_is_read_through_fabio(tmp_path):
    fabio = pytest.importorskip("fabio")
    path = tmp_path / "mask.edf"
    fabio.edfimage.EdfImage(data=gap_mask().astype(np.uint8)).write(str(path))
    assert np.array_equal(masks.load_mask_file(path, [tmp_path]), gap_mask() != 0)


@pytest.mark.parametrize("name", ["mask.cbf", "mask.edf.gz", "Mask.Edf.Bz2", "MASK.CBF.GZ"])
def test_cbf_and_compressed_detector_masks_are_read_as_frames_are(tmp_path, name):
    """Masks in every detector format items are read from (a .cbf, or any compressed EDF/CBF, was
    refused as no mask format), with the pixel limit of the data applied before decoding."""
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage

    data = gap_mask().astype(np.int32)
    plain = tmp_path / name.split(".")[0]
    image = CbfImage(data=data) if ".cbf" in name.lower() else EdfImage(data=data)
    image.write(str(plain))
    compress = {".gz": gzip.compress, ".bz2": bz2.compress}.get(Path(name).suffix.lower())
    (tmp_path / name).write_bytes(compress(plain.read_bytes()) if compress else plain.read_bytes())
    with pytest.raises(TooLarge, match=f"^mask {re.escape(name)}: image of 160x128 pixels exceeds"):
        masks.load_mask_file(tmp_path / name, [tmp_path], max_pixels=160 * 128 - 1)
    assert np.array_equal(masks.load_mask_file(tmp_path / name, [tmp_path]), gap_mask() != 0)


# A mask that declares 3000x2000 pixels of zeros: kB on disk compressed, 6 MB decoded.
_BIG = (2000, 3000)


def _declared_big_mask(path: Path) -> Path:
    """A zlib TIFF, a gzip-chunked HDF5 dataset or a plain .npy of ``_BIG`` zeros."""
    zeros = np.zeros(_BIG, np.uint8)
    if path.suffix == ".tif":
        tifffile.imwrite(path, zeros, compression="zlib")
    elif path.suffix == ".h5":
        with h5py.File(path, "w") as handle:
            handle.create_dataset("mask", data=zeros, chunks=(500, 500), compression="gzip")
    else:
        np.save(path, zeros)
    return path


@pytest.mark.parametrize("name", ["big.tif", "big.h5", "big.npy"])
def test_every_mask_format_is_refused_above_the_pixel_limit_by_its_declared_shape(tmp_path, name):
    """Only EDF and CBF masks were held to the data's pixel limit: a compressed TIFF or a gzip HDF5
    dataset declaring a huge frame was decompressed whole. The shape its tags, dataset or header
    declare is refused before decoding (the compressed files are a few kB: it is not their size);
    at the limit the same file is read."""
    path = _declared_big_mask(tmp_path / name)
    if name != "big.npy":
        assert path.stat().st_size < 100_000
    limit = _BIG[0] * _BIG[1]
    with pytest.raises(
        TooLarge, match=f"^mask {re.escape(name)}: image of 3000x2000 pixels exceeds the limit of {limit - 1}"
    ):
        masks.load_mask_file(path, [tmp_path], max_pixels=limit - 1)
    loaded = masks.load_mask_file(path, [tmp_path], max_pixels=limit)
    assert loaded.shape == _BIG and not loaded.any()


def test_an_hdf5_mask_whose_chunks_are_above_the_pixel_limit_is_refused(tmp_path):
    """A resizable dataset's chunk may be larger than its shape, and decompresses whole: a 100x100
    mask stored in one 3000x3000 gzip chunk is refused as an item's frame would be."""
    path = tmp_path / "chunky.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset(
            "mask",
            data=gap_mask()[:100, :100],
            maxshape=(None, None),
            chunks=(3000, 3000),
            compression="gzip",
        )
    assert path.stat().st_size < 100_000
    with pytest.raises(
        TooLarge, match=r"^mask chunky\.h5: dataset 'mask' of chunky\.h5 is stored in chunks of 9000000 "
    ):
        masks.load_mask_file(path, [tmp_path], max_pixels=4_000_000)
    assert np.array_equal(
        masks.load_mask_file(path, [tmp_path], max_pixels=9_000_000), gap_mask()[:100, :100] != 0
    )


def test_a_mask_read_without_a_limit_is_not_handed_out_under_a_lower_one(tmp_path):
    """The cache kept a mask by its file alone: read once with no limit (or a higher one), it was
    returned under any limit (an EDF mask, held to the limit before, too). The limit is part of
    the key."""
    from fabio.edfimage import EdfImage

    path = tmp_path / "mask.edf"
    EdfImage(data=gap_mask().astype(np.uint8)).write(str(path))
    assert masks.load_mask_file(path, [tmp_path]).shape == SHAPE
    with pytest.raises(TooLarge, match=r"^mask mask\.edf: image of 160x128 pixels exceeds"):
        masks.load_mask_file(path, [tmp_path], max_pixels=160 * 128 - 1)


def test_an_hdf5_file_named_edf_is_refused_as_a_mask(tmp_path):
    """fabio's content-guessing open read this file through its Eiger reader, around the link
    checks (its link points outside the roots); a mask .edf is read by the EDF reader, as data."""
    pytest.importorskip("fabio")
    path = tmp_path / "mask.edf"
    with h5py.File(path, "w") as handle:
        handle["entry/data/data"] = np.ones((1, *SHAPE), np.uint8)
        handle["entry/data/data_000001"] = h5py.ExternalLink("/etc/elsewhere.h5", "/entry/data/data")
    with pytest.raises(Unreadable, match=r"^mask\.edf has a corrupt EDF header"):
        masks.load_mask_file(path, [tmp_path])


def test_an_eiger_master_file_is_a_mask_file_through_its_pixel_mask(tmp_path):
    """The detector's own mask, where Eiger writes it: the master file (beside its flat field, its
    frames in linked data files). It read as '0 2-D arrays': only the frames were looked at."""
    import hdf5plugin

    pixel_mask = gap_mask().astype(np.uint32) * 4  # Eiger's flags: 1 gap, 2 dead, 4 under-responding...
    pixel_mask[20, 30] = 16
    with h5py.File(tmp_path / "run_data_000001.h5", "w") as data:
        data.create_dataset(
            "entry/data/data",
            data=np.ones((2, *SHAPE), np.uint32),
            chunks=(1, *SHAPE),
            **hdf5plugin.Bitshuffle(),
        )
    with h5py.File(tmp_path / "run_master.h5", "w") as master:
        master["entry/data/data_000001"] = h5py.ExternalLink("run_data_000001.h5", "/entry/data/data")
        specific = master.create_group("entry/instrument/detector/detectorSpecific")
        specific["pixel_mask"] = pixel_mask
        specific["flatfield"] = np.ones(SHAPE, np.float32)
    loaded = masks.load_mask_file(tmp_path / "run_master.h5", [tmp_path])
    assert loaded.shape == SHAPE and np.array_equal(loaded, pixel_mask != 0)


def test_bad_mask_files_say_why(tmp_path):
    stack = tmp_path / "stack.npy"
    np.save(stack, np.zeros((2, 8, 8)))
    with pytest.raises(Unreadable, match="not a 2-D image"):
        masks.load_mask_file(stack, [tmp_path])
    two = tmp_path / "two.h5"
    with h5py.File(two, "w") as handle:
        handle["a"] = np.zeros((8, 8))
        handle["b"] = np.zeros((8, 8))
    with pytest.raises(Unreadable, match="none is named 'mask'"):
        masks.load_mask_file(two, [tmp_path])
    linked = tmp_path / "linked.h5"  # an HDF5 mask is held to the data roots like an image
    with h5py.File(linked, "w") as handle:
        handle["mask"] = np.zeros((8, 8))
        handle["elsewhere"] = h5py.ExternalLink("/etc/hostname", "/x")
    with pytest.raises(Forbidden):
        masks.load_mask_file(linked, [tmp_path])


def test_rules_mask_zero_negative_saturated_and_gap_lines():
    frame = _frame()
    frame[5, 7] = 0
    frame[9, 9] = -2  # Pilatus: a dead pixel
    frame[20, 30] = 65535  # uint16 saturated
    frame[:, 100] = 3  # a column of one value: a module gap
    mask = masks.derived_mask(frame, ("zero", "negative", "saturated", "gaps"), "uint16")
    assert mask[5, 7] and mask[9, 9] and mask[20, 30] and mask[:, 100].all()
    assert mask.sum() == 3 + SHAPE[0]  # the three pixels and the column (none of them in it)
    assert masks.derived_mask(frame, ("zero",), "uint16").sum() == 1
    assert masks.derived_mask(_frame(), ("zero", "negative"), "uint16") is None
    with pytest.raises(Invalid, match="unknown mask rule"):
        masks.check_rules(["zero", "hot"])


@pytest.mark.parametrize("scale", ["linear", "log", "sqrt"])
def test_masked_pixels_do_not_change_the_display(scale):
    """Whatever the masked pixels hold (zeros, dead -1, a saturated 2**32 - 1), the unmasked
    pixels are shown the same: the percentiles and the scaling come from the unmasked ones."""
    mask = gap_mask() != 0
    transform = DisplayTransform(scale=scale, p_low=2, p_high=99.5)
    shown = []
    for fill in (0.0, -1.0, 4294967295.0):
        frame = _frame()
        frame[mask] = fill
        shown.append(apply_transform(frame, transform, mask=mask)[~mask])
    assert np.allclose(shown[0], shown[1], atol=1e-5) and np.allclose(shown[0], shown[2], atol=1e-5)
    # without the mask the saturated fill squeezes the linear view of the counts into black
    frame = _frame()
    frame[mask] = 4294967295.0
    if scale == "linear":
        assert apply_transform(frame, transform)[~mask].max() < 0.01 < shown[0].max()


def test_zero_gaps_do_not_set_the_low_percentile():
    """Counting detectors write 0 in gaps and under the beam stop: a 1st percentile over all
    pixels would be 0, and every counting pixel would sit high in the map (the white frames)."""
    frame = _frame()
    frame[:, :80] = 0  # half the frame reads zero
    counted = counted_pixels(frame, None)
    assert counted is not None and not counted[:, :80].any() and counted[:, 80:].all()
    shown = apply_transform(frame, DisplayTransform(p_low=1, p_high=99))
    assert np.median(shown[:, 80:]) < 0.8  # spread over the map, not all at its top


def test_colour_maps_render_rgb_and_follow_the_published_maps():
    from matplotlib import colormaps  # dev dependency: the tables were generated from it

    ramp = np.arange(256, dtype=np.uint8)[None, :]
    for name in ("viridis", "magma", "inferno", "cividis"):
        ours = apply_colormap(ramp, name)[0].astype(int)
        theirs = (np.asarray(colormaps[name](np.linspace(0, 1, 256)))[:, :3] * 255 + 0.5).astype(int)
        assert np.abs(ours - theirs).max() <= 1, name
    png = render_png(_frame(), DisplayTransform(colormap="magma"), 64)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGB" and max(image.size) == 64
    with Image.open(io.BytesIO(render_png(_frame(), DisplayTransform(), 64))) as image:
        assert image.mode == "L"
    with pytest.raises(Invalid, match="colormap"):
        DisplayTransform(colormap="jet")
    with pytest.raises(Invalid, match="scale"):
        DisplayTransform(scale="asinh")


def test_thumbnails_reduce_the_mask_with_the_pixels():
    """A thumbnail averages blocks; masked pixels take the low value first, so a saturated gap
    does not bleed into its neighbours, and the percentiles skip the mostly masked blocks."""
    mask = gap_mask() != 0
    frame = _frame()
    clean = render_png(frame.copy(), DisplayTransform(), 32, mask=mask)
    frame[mask] = 4294967295.0
    assert render_png(frame, DisplayTransform(), 32, mask=mask) == clean


def test_model_inputs_leave_masked_pixels_out():
    """Every model reads frames through ``prepare``: what masked pixels hold changes nothing."""
    from workers.images import prepare

    mask = gap_mask() != 0
    frames = []
    for fill in (0.0, 4294967295.0):
        frame = _frame()
        frame[mask] = fill
        frames.append(prepare(frame, 32, DisplayTransform(scale="log"), mask))
    assert frames[0].shape == (32, 32) and np.allclose(frames[0], frames[1], atol=1e-5)
