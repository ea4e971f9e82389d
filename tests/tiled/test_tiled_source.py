"""The Tiled adapter against a real ``tiled serve``: URIs, walking, strided and full reads, errors."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import Forbidden, Invalid, NotFound, SourceUnavailable
from backend.sources import tiled as tiled_source
from backend.sources.registry import prepare_source
from backend.sources.tiled import TiledSource, parse_tiled_uri
from backend.storage.secrets_at_rest import decrypt_secret
from tests.helpers.tiled import API_KEY, ITEM_COUNT, free_port

pytestmark = pytest.mark.tiled


def test_uris_are_parsed_to_a_canonical_secret_free_form():
    where, key = parse_tiled_uri("tiled+http://Example.org:8000/raw/scan%201?api_key=abc")
    assert where.uri == "tiled+http://example.org:8000/raw/scan%201"
    assert (where.node, key) == (("raw", "scan 1"), "abc")
    where, _ = parse_tiled_uri("https://host/tiled/api/v1/metadata/a/b")
    assert where.api_root == "https://host/tiled/api/v1" and where.node == ("a", "b")
    assert parse_tiled_uri(where.uri)[0] == where  # the canonical form parses back to itself
    for bad in ("tiled+ftp://h/x", "tiled+http://", "http://u:p@h/x", "tiled+http://h/a/../b"):
        with pytest.raises(Invalid):
            parse_tiled_uri(bad)


def test_a_key_in_the_uri_moves_to_the_server_side_field_encrypted(settings):
    source = prepare_source("tiled+http://127.0.0.1:1/x?api_key=sekrit", settings)
    assert (source.kind, source.uri) == ("tiled", "tiled+http://127.0.0.1:1/x")
    assert "sekrit" not in source.api_key and decrypt_secret(settings, source.api_key) == "sekrit"
    plain = prepare_source("http://127.0.0.1:1/x", settings, api_key="k2")
    assert (plain.kind, plain.uri) == ("tiled", "tiled+http://127.0.0.1:1/x")
    assert plain.api_key != "k2" and decrypt_secret(settings, plain.api_key) == "k2"


def test_scan_walks_containers_recursively_arrays_stacks_tiff_and_hdf5(tiled_server):
    source = TiledSource(tiled_server.uri, API_KEY, 10**7)
    entries = list(source.scan())
    found = {(e.uri, e.frame): (e.height, e.width, e.dtype) for e in entries}
    assert len(entries) == ITEM_COUNT and all(e.error is None for e in entries)
    assert found[("arrays/flat", 0)] == (48, 64, "float32")
    assert [f for (u, f) in found if u == "arrays/stack"] == [0, 1, 2]
    assert found[("images/pattern", 0)] == (40, 40, "uint16")
    assert found[("hdf5/run/entry/data", 1)] == (24, 24, "float64")
    assert ("hdf5/run/entry/time", 0) not in found  # 1-D arrays are not images
    sub = TiledSource(f"{tiled_server.uri}/arrays/stack", API_KEY, 10**7)
    assert [(e.uri, e.frame) for e in sub.scan()] == [("", 0), ("", 1), ("", 2)]  # the node itself


def test_reads_match_the_files_and_strided_reads_move_fewer_bytes(tiled_server, tiled_tree):
    source = TiledSource(tiled_server.uri, API_KEY, 10**7)
    stack = np.load(tiled_tree / "arrays" / "stack.npy")
    np.testing.assert_array_equal(source.read("arrays/stack", 2), stack[2])
    frame = np.load(tiled_tree / "big" / "frame.npy")
    source.read("big/frame", stride=8)  # the structure is fetched once and kept
    before = source.bytes_received
    np.testing.assert_array_equal(source.read("big/frame", stride=8), frame[::8, ::8])
    strided = source.bytes_received - before
    before = source.bytes_received
    np.testing.assert_array_equal(source.read("big/frame"), frame)
    full = source.bytes_received - before
    assert full > frame.nbytes // 2 and strided * 30 < full, (strided, full)  # gzip may shrink a little
    with pytest.raises(NotFound):
        source.read("arrays/stack", 3)


def test_wrong_or_missing_key_names_the_source_and_never_the_key(tiled_server):
    for key, why in ((None, "needs an API key"), ("not-the-key", "missing or wrong")):
        with pytest.raises(Forbidden) as info:
            list(TiledSource(tiled_server.uri, key, 10**7).scan())
        assert tiled_server.uri in info.value.message and why in info.value.message
        assert "not-the-key" not in info.value.message and API_KEY not in info.value.message
    source = TiledSource(tiled_server.uri, API_KEY, 10**7)
    assert API_KEY not in repr(source) and API_KEY not in repr(source._http.headers)


def test_wrong_uris_give_clear_errors(tiled_server):
    with pytest.raises(NotFound, match="no node 'nowhere'"):
        list(TiledSource(f"{tiled_server.uri}/nowhere", API_KEY, 10**7).scan())
    port = free_port()
    with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{port}.*unreachable"):
        list(TiledSource(f"tiled+http://127.0.0.1:{port}/x", API_KEY, 10**7).scan())


def test_browse_lists_children_with_their_item_counts(tiled_server):
    listing = tiled_source.browse(f"{tiled_server.uri}/arrays", API_KEY, 10**7)
    assert (listing.uri, listing.parent) == (f"{tiled_server.uri}/arrays", tiled_server.uri)
    by_name = {n.name: n for n in listing.nodes}
    assert by_name["stack"].items == 3 and by_name["stack"].uri == f"{tiled_server.uri}/arrays/stack"
    assert by_name["flat"].shape == (48, 64)
    top = tiled_source.browse(tiled_server.uri, API_KEY, 10**7)
    assert top.parent is None
    assert {n.name for n in top.nodes if n.family == "container"} == {"arrays", "images", "hdf5", "big"}
    with pytest.raises(Invalid, match="not a container"):
        tiled_source.browse(f"{tiled_server.uri}/arrays/flat", API_KEY, 10**7)


def test_a_sequence_of_tiff_stacks_and_a_scan_grid_are_one_item_per_frame_not_left_out(tmp_path):
    """Tiled serves numbered TIFFs (scan_00001.tif, ...) as one node, of multi-page files as
    (files, pages, H, W), and keeps an HDF5 scan grid (2, 3, H, W): every frame is an item, read
    back as written (4-D arrays were silently left out of the scan)."""
    import h5py
    import tifffile

    from tests.helpers.tiled import TiledServer

    rng = np.random.default_rng(3)
    tree = tmp_path / "tree"
    tree.mkdir()
    pages = rng.integers(0, 60000, (2, 2, 20, 24)).astype(np.uint16)
    for number, stack in enumerate(pages, start=1):
        tifffile.imwrite(tree / f"scan_{number:05d}.tif", stack)
    grid = rng.random((2, 3, 16, 18)).astype(np.float32)
    with h5py.File(tree / "grid.h5", "w") as handle:
        handle["entry/frames"] = grid
    server = TiledServer(tree, tmp_path / "tiled.log")
    server.start()
    try:
        source = TiledSource(server.uri, API_KEY, 10**7)
        entries = list(source.scan())
        frames: dict[str, list[int]] = {}
        for entry in entries:
            assert entry.error is None
            frames.setdefault(entry.uri, []).append(entry.frame)
        assert frames == {"scan_": list(range(4)), "grid/entry/frames": list(range(6))}, frames
        assert {(e.height, e.width, e.dtype) for e in entries if e.uri == "scan_"} == {(20, 24, "uint16")}
        for frame, expected in enumerate(pages.reshape(4, 20, 24)):
            np.testing.assert_array_equal(source.read("scan_", frame), expected)
        np.testing.assert_array_equal(source.read("scan_", 3, stride=2), pages[1, 1, ::2, ::2])
        for frame, expected in enumerate(grid.reshape(6, 16, 18)):
            np.testing.assert_array_equal(source.read("grid/entry/frames", frame), expected)
        with pytest.raises(NotFound):
            source.read("grid/entry/frames", 6)
        by_name = {n.name: n for n in tiled_source.browse(server.uri, API_KEY, 10**7).nodes}
        assert by_name["scan_"].items == 4 and by_name["scan_"].selectable
    finally:
        server.stop()


def test_a_nexus_file_gives_the_frames_of_its_signal_not_its_other_arrays(tmp_path):
    """A NeXus NXdata group served by Tiled: its ``signal`` is the frames, as a folder source
    reads the same file; its other images (a mask, errors) are not items (they were, every one
    of them). A group without NeXus attributes keeps every image."""
    import h5py

    from tests.helpers.tiled import TiledServer

    rng = np.random.default_rng(5)
    tree = tmp_path / "tree"
    tree.mkdir()
    frames = rng.random((3, 16, 20)).astype(np.float32)
    with h5py.File(tree / "saxs.nxs", "w") as handle:
        handle.attrs["default"] = "entry"
        entry = handle.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "data"})
        data = entry.create_group("data")
        data.attrs.update({"NX_class": "NXdata", "signal": "frames"})
        data["frames"] = frames
        data["frames_errors"] = np.sqrt(frames)
        data["mask"] = np.zeros((16, 20), np.uint8)
        plain = handle.create_group("plain")
        plain["a"] = rng.random((16, 20))
        plain["b"] = rng.random((16, 20))
    server = TiledServer(tree, tmp_path / "tiled.log")
    server.start()
    try:
        source = TiledSource(server.uri, API_KEY, 10**7)
        found: dict[str, list[int]] = {}
        for entry in source.scan():
            found.setdefault(entry.uri, []).append(entry.frame)
        assert found == {
            "saxs/entry/data/frames": [0, 1, 2],
            "saxs/plain/a": [0],
            "saxs/plain/b": [0],
        }, found
        np.testing.assert_array_equal(source.read("saxs/entry/data/frames", 2), frames[2])
    finally:
        server.stop()


def test_an_eiger_masters_pixel_mask_and_flat_field_are_not_items_as_in_a_folder_source(tmp_path):
    """An Eiger master served by Tiled: its detectorSpecific/pixel_mask and flatfield describe the
    detector and were items (a mask labeled as an image), where a folder source reading the same
    files gives only the frames. A container holding nothing else still lists them, as a file
    that holds only its pixel mask does."""
    import h5py

    from backend.sources.folder import FolderSource
    from tests.helpers.tiled import TiledServer

    rng = np.random.default_rng(7)
    tree = tmp_path / "tree"
    tree.mkdir()
    stack = rng.integers(0, 100, (3, 16, 20)).astype(np.uint32)
    for name, linked in (("run_master.h5", True), ("inline.h5", False)):
        with h5py.File(tree / name, "w") as handle:
            specific = handle.create_group("entry/instrument/detector/detectorSpecific")
            specific["pixel_mask"] = np.zeros((16, 20), np.uint32)
            specific["flatfield"] = np.ones((16, 20), np.float32)
            if linked:
                handle["entry/data/data_000001"] = h5py.ExternalLink("run_data_000001.h5", "/entry/data/data")
            else:
                handle["entry/data/data"] = stack
    with h5py.File(tree / "run_data_000001.h5", "w") as handle:
        handle["entry/data/data"] = stack
    folder = FolderSource(tree, [tree.resolve()], 10**7)
    assert {(e.uri, e.frame) for e in folder.scan() if e.uri != "inline.h5"} == {
        ("run_master.h5", f) for f in range(3)
    }
    server = TiledServer(tree, tmp_path / "tiled.log")
    server.start()
    try:
        found: dict[str, list[int]] = {}
        for entry in TiledSource(server.uri, API_KEY, 10**7).scan():
            assert entry.error is None
            found.setdefault(entry.uri, []).append(entry.frame)
        assert not [uri for uri in found if "detectorSpecific" in uri], found
        # the data file is read through its master, not listed again (its frames were items twice)
        assert not [uri for uri in found if uri.startswith("run_data_000001")], found
        assert found["run_master/entry/data/data_000001"] == [0, 1, 2]
        assert found["inline/entry/data/data"] == [0, 1, 2]
        assert len([e for e in folder.scan() if e.uri == "inline.h5"]) == 3  # the same, in a folder
        specific = f"{server.uri}/inline/entry/instrument/detector/detectorSpecific"
        assert sorted(e.uri for e in TiledSource(specific, API_KEY, 10**7).scan()) == [
            "flatfield",
            "pixel_mask",
        ]
        alone = TiledSource(f"{specific}/pixel_mask", API_KEY, 10**7)
        assert [(e.uri, e.frame) for e in alone.scan()] == [("", 0)]  # chosen itself
    finally:
        server.stop()
