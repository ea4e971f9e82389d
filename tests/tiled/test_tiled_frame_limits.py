"""LABELWISE_MAX_FRAMES_PER_FILE and LABELWISE_MIN_FRAME_SIDE apply to Tiled nodes as to a folder's
files: what is left out is left out the same way, with the same message."""

from __future__ import annotations

import pytest

from backend.errors import Unreadable
from backend.images.decode import FrameLimits
from backend.sources.folder import FolderSource
from backend.sources.registry import open_source
from backend.sources.tiled import TiledSource
from backend.storage.secrets_at_rest import encrypt_secret
from backend.storage.tables import Source
from tests.helpers.tiled import API_KEY

pytestmark = pytest.mark.tiled


def _scan(source) -> dict[str, list]:  # type: ignore[no-untyped-def]
    found: dict[str, list] = {}
    for entry in source.scan():
        found.setdefault(entry.uri, []).append(entry)
    return found


def _folder(tree, limits: FrameLimits) -> dict[str, list]:  # type: ignore[no-untyped-def]
    return _scan(FolderSource(tree, [tree], 10**7, limits))


def test_a_stack_of_more_frames_than_the_limit_is_one_unreadable_entry_as_in_a_folder(
    tiled_server, tiled_tree, settings
):
    limits = FrameLimits(max_frames=2)
    tiled = _scan(TiledSource(tiled_server.uri, API_KEY, 10**7, frame_limits=limits))
    folder = _folder(tiled_tree, limits)
    [stack] = tiled["arrays/stack"]  # 3 frames: refused, not 3 items
    [on_disk] = folder["arrays/stack.npy"]
    assert stack.error and stack.error == on_disk.error and "more than the limit of 2" in stack.error
    assert [e.frame for e in tiled["hdf5/run/entry/data"]] == [0, 1]  # 2 frames: within the limit
    assert all(e.error is None for e in tiled["hdf5/run/entry/data"])
    with pytest.raises(Unreadable, match="more than the limit of 2"):
        TiledSource(tiled_server.uri, API_KEY, 10**7, frame_limits=limits).read("arrays/stack", 0)

    # The app's own adapter takes the limit from the settings.
    row = Source(kind="tiled", uri=tiled_server.uri, api_key=encrypt_secret(settings, API_KEY), dataset_id=0)
    limited = open_source(row, settings.model_copy(update={"max_frames_per_file": 2}))
    assert [e.error for e in _scan(limited)["arrays/stack"]] == [stack.error]
    assert [e.frame for e in _scan(open_source(row, settings))["arrays/stack"]] == [0, 1, 2]


def test_frames_too_small_a_side_are_left_out_as_in_a_folder(tiled_server, tiled_tree, settings):
    # 30 pixels: an HDF5 file's 24x24 array beside a 32x32 one is metadata, skipped, as in the file.
    limits = FrameLimits(min_side=30)
    tiled = _scan(TiledSource(tiled_server.uri, API_KEY, 10**7, frame_limits=limits))
    folder = _folder(tiled_tree, limits)
    assert "hdf5/run/entry/data" not in tiled and "hdf5/run/entry/img" in tiled
    assert [e.height for e in folder["hdf5/run.h5"]] == [32]
    assert all(e.error is None for entries in tiled.values() for e in entries)

    # 50 pixels: no array of the "arrays" node is that wide: each is one entry saying why, as each .npy.
    limits = FrameLimits(min_side=50)
    tiled = _scan(TiledSource(tiled_server.uri, API_KEY, 10**7, frame_limits=limits))
    folder = _folder(tiled_tree, limits)
    for node, file in (("arrays/flat", "arrays/flat.npy"), ("arrays/stack", "arrays/stack.npy")):
        [entry] = tiled[node]
        [on_disk] = folder[file]
        assert entry.error and entry.error == on_disk.error and "smaller than 50 pixels" in entry.error

    row = Source(kind="tiled", uri=tiled_server.uri, api_key=encrypt_secret(settings, API_KEY), dataset_id=0)
    limited = _scan(open_source(row, settings.model_copy(update={"min_frame_side": 50})))
    assert [e.error for e in limited["arrays/flat"]] == [tiled["arrays/flat"][0].error]
