"""What the DataLoader's worker processes receive of the image array (``MappedImages``): a run of
rows of the scratch file by name, mapped again there, never the pixels themselves."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from workers.algorithms.autoencoder import ImageRows
from workers.algorithms.contrastive import BatchRows


@pytest.fixture
def mapped(tmp_path):
    path = tmp_path / "images.npy"
    store = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(500, 32, 32))
    store[:] = np.arange(500, dtype=np.float32)[:, None, None]
    store.flush()
    del store
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("first, last", [(0, 500), (0, 430), (120, 470)])
def test_a_run_of_mapped_rows_travels_as_the_file_and_reads_the_same_rows(mapped, first, last):
    images = mapped[first:last]
    rows = np.array([0, 7, last - first - 1])
    sent = pickle.dumps(ImageRows(images, rows))
    assert len(sent) < 2_000  # 2 MB of pixels are not in it
    received = pickle.loads(sent)
    assert isinstance(received.images, np.memmap) and len(received.images) == last - first
    assert [float(received[i][0][0, 0, 0]) for i in range(3)] == [first, first + 7, last - 1]
    batch, got_rows = pickle.loads(pickle.dumps(BatchRows(images, rows))).__getitems__([0, 1, 2])
    assert got_rows.tolist() == rows.tolist() and batch[:, 0, 0, 0].tolist() == [first, first + 7, last - 1]


def test_an_array_in_memory_travels_as_itself():
    images = np.random.default_rng(0).random((10, 8, 8), dtype=np.float32)
    received = pickle.loads(pickle.dumps(ImageRows(images, np.arange(10))))
    assert np.array_equal(received.images, images)


def test_a_file_that_changed_under_the_loader_is_an_error_not_other_pixels(mapped, tmp_path):
    sent = pickle.dumps(ImageRows(mapped[100:200], np.arange(5)))
    del mapped
    np.save(tmp_path / "images.npy", np.zeros((50, 16, 16), np.float32))
    with pytest.raises(RuntimeError, match="changed under the loader"):
        pickle.loads(sent)
