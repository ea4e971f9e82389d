"""What makes a frame: an array does not explode into items (decision 0004).

Before, an 800 kB ``.npy`` of shape (200000, 1, 1) became 200,000 items of one pixel each.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from backend.datasets import service
from backend.datasets.items import list_items
from backend.errors import TooLarge, Unreadable
from backend.images import decode
from backend.images.decode import FrameLimits
from backend.sources.folder import FolderSource
from backend.storage import npy
from tests.factories import write_npy, write_tiff


async def _items(session, dataset_id: int):
    return [e.item for e in (await list_items(session, dataset_id, limit=500)).items]


async def test_an_array_of_one_pixel_frames_is_one_unreadable_item_that_says_why(session, settings, folder):
    write_npy(folder / "pixels.npy", (200_000, 1, 1))
    write_npy(folder / "column.npy", (200_000, 1))
    write_npy(folder / "flat.npy", (200_000,))
    write_npy(folder / "fine.npy", (2, 16, 16))
    np.savez(folder / "archive.npz", a=np.zeros((16, 16)))
    (folder / "archive.npz").rename(folder / "archive.npy")  # np.load opens a zip whatever its name
    dataset, report = await service.create_dataset(session, settings, "explode", [str(folder)])
    items = {i.uri: i for i in await _items(session, dataset.id)}
    assert report.added == 4 + 2 and report.unreadable == 4
    assert "a .npz archive" in items["archive.npy"].error
    assert "smaller than 8 pixels a side" in items["pixels.npy"].error
    assert "smaller than 8 pixels a side" in items["column.npy"].error
    assert "not a 2-D image" in items["flat.npy"].error


async def test_a_stack_above_the_frame_cap_is_refused_with_its_count(session, settings, folder):
    np.save(folder / "many.npy", np.zeros((12_000, 8, 8), dtype=np.uint8))  # 768 kB
    with h5py.File(folder / "split.h5", "w") as handle:  # the cap counts across a file's arrays
        handle["a"] = np.zeros((6_000, 8, 8), dtype=np.uint8)
        handle["b"] = np.zeros((6_000, 8, 8), dtype=np.uint8)
    dataset, report = await service.create_dataset(session, settings, "many", [str(folder)])
    items = {i.uri: i for i in await _items(session, dataset.id)}
    assert report.added == 2 and report.unreadable == 2
    assert "12000 frames, more than the limit of 10000" in items["many.npy"].error
    assert "12000 frames" in items["split.h5"].error


async def test_the_frame_limits_are_settings(session, settings, folder):
    write_tiff(folder / "stack.tif", frames=4, size=16)
    write_npy(folder / "small.npy", (12, 12))
    strict = settings.model_copy(update={"max_frames_per_file": 3, "min_frame_side": 13})
    dataset, report = await service.create_dataset(session, strict, "strict", [str(folder)])
    items = {i.uri: i for i in await _items(session, dataset.id)}
    assert report.unreadable == 2
    assert "4 frames, more than the limit of 3" in items["stack.tif"].error
    assert "smaller than 13 pixels" in items["small.npy"].error


def test_reading_checks_the_limits_too(tmp_path):
    """A file may grow after the scan: reading a frame applies the same rules."""
    write_tiff(tmp_path / "stack.tif", frames=4, size=16)
    source = FolderSource(tmp_path, [tmp_path], 10**6, FrameLimits(max_frames=3))
    with pytest.raises(Unreadable, match="more than the limit"):
        source.read("stack.tif", 0)
    assert decode.read_file(tmp_path / "stack.tif", 3, max_pixels=10**6).shape == (16, 16)


def test_an_hdf5_stack_stored_in_one_huge_chunk_is_refused_before_decoding(tmp_path):
    """One frame of a compressed stack kept in a single chunk would decompress the whole stack."""
    with h5py.File(tmp_path / "bomb.h5", "w") as handle:
        handle.create_dataset(
            "stack", shape=(64, 64, 64), dtype="uint8", chunks=(64, 64, 64), compression="gzip"
        )
        handle.create_dataset(
            "fine", shape=(64, 64, 64), dtype="uint8", chunks=(1, 64, 64), compression="gzip"
        )
    with pytest.raises(TooLarge, match="chunks of 262144 values"):
        decode.read_file(tmp_path / "bomb.h5", 64, max_pixels=64 * 64 * 8)  # frames of "stack" follow "fine"
    assert decode.read_file(tmp_path / "bomb.h5", 0, max_pixels=64 * 64 * 8).shape == (64, 64)


def test_small_arrays_beside_the_images_of_an_hdf5_file_are_skipped_as_metadata(tmp_path):
    with h5py.File(tmp_path / "scan.nxs.h5", "w") as handle:
        handle["entry/instrument/orientation"] = np.eye(3)
        handle["entry/instrument/position"] = np.zeros((1, 3))
        handle["entry/data"] = np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16)
    assert len(decode.probe_file(tmp_path / "scan.nxs.h5")) == 2
    assert decode.read_file(tmp_path / "scan.nxs.h5", 1, max_pixels=10**6)[0, 0] == 256
    with h5py.File(tmp_path / "meta.h5", "w") as handle:
        handle["orientation"] = np.eye(3)
    with pytest.raises(Unreadable, match="at least 8 pixels a side"):
        decode.probe_file(tmp_path / "meta.h5")


def test_a_compressed_single_page_tiff_stack_is_refused_before_decoding(tmp_path):
    """One page holding N frames decodes whole; uncompressed, one frame is memory-mapped."""
    import tifffile

    data = np.arange(20 * 64 * 64, dtype=np.uint16).reshape(20, 64, 64)
    tifffile.imwrite(
        tmp_path / "packed.tif", data, compression="zlib", photometric="minisblack", planarconfig="separate"
    )
    tifffile.imwrite(tmp_path / "plain.tif", data, photometric="minisblack", planarconfig="separate")
    assert len(decode.probe_file(tmp_path / "packed.tif")) == 20
    with pytest.raises(TooLarge, match="one compressed page of 20 frames"):
        decode.read_file(tmp_path / "packed.tif", 3, max_pixels=64 * 64 * 4)
    frame = decode.read_file(tmp_path / "plain.tif", 3, max_pixels=64 * 64 * 4)
    np.testing.assert_array_equal(frame, data[3].astype(np.float32))


def test_a_npy_header_is_parsed_under_the_lock_and_pixels_read_from_many_threads(tmp_path, monkeypatch):
    """np.load's header parse (ast.literal_eval) is not thread-safe on CPython 3.11 (gh-106905): a
    job's image threads failed with "AST constructor recursion depth mismatch"."""
    from concurrent.futures import ThreadPoolExecutor

    paths = [write_npy(tmp_path / f"{i}.npy", (16, 16), seed=i) for i in range(8)]
    real_load = np.load
    held: list[bool] = []

    def load(*args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(npy.HEADER_LOCK.locked())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(npy.np, "load", load)
    with ThreadPoolExecutor(4) as pool:
        frames = list(
            pool.map(lambda p: decode.read_file(p, 0, max_pixels=10_000, roots=[tmp_path]), paths * 4)
        )
    assert held and all(held)
    assert all(np.array_equal(f, real_load(p)) for f, p in zip(frames, paths * 4, strict=True))
