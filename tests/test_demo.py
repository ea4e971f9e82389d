"""The synthetic X-ray scattering demo: deterministic images, ground truth kept apart, one install."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile
from sqlalchemy import func, select

from backend import demo
from backend.datasets.service import list_datasets
from backend.labels.classes import list_classes
from backend.settings import Settings
from backend.storage.tables import Item

CLASS_NAMES = [name for name, _, _ in demo.DEMO_CLASSES]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_classes_have_distinct_names_colors_and_free_hotkeys():
    from backend.labels.classes import clean_color, clean_hotkey

    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES) >= 5
    assert len({c for _, c, _ in demo.DEMO_CLASSES}) == len(CLASS_NAMES)
    assert len({k for _, _, k in demo.DEMO_CLASSES}) == len(CLASS_NAMES)
    for _, color, hotkey in demo.DEMO_CLASSES:
        clean_color(color)
        assert clean_hotkey(hotkey) == hotkey  # not a key the label page keeps for itself


def test_images_are_16_bit_tiffs_with_ground_truth_beside_the_folder(tmp_path):
    truth = demo.generate_demo(tmp_path / "images", 24, seed=3)
    assert truth == tmp_path / "ground_truth.csv"
    assert not list((tmp_path / "images").glob("*.csv"))  # a scan of the folder never sees it
    assert truth.read_text().splitlines()[0] == "path,label"
    labels = demo.read_ground_truth(truth)
    assert sorted(labels) == sorted(p.name for p in (tmp_path / "images").iterdir())
    assert set(labels.values()) == set(CLASS_NAMES)
    assert max(Counter(labels.values()).values()) - min(Counter(labels.values()).values()) <= 1
    image = tifffile.imread(tmp_path / "images" / next(iter(labels)))
    assert image.dtype == np.uint16 and image.shape == (256, 256)


def test_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path):
    first = demo.generate_demo(tmp_path / "a" / "images", 12, size=64, seed=7)
    second = demo.generate_demo(tmp_path / "b" / "images", 12, size=64, seed=7)
    other = demo.generate_demo(tmp_path / "c" / "images", 12, size=64, seed=8)
    assert first.read_text() == second.read_text()
    assert _digest(tmp_path / "a" / "images") == _digest(tmp_path / "b" / "images")
    assert _digest(tmp_path / "a" / "images") != _digest(tmp_path / "c" / "images")
    assert other.read_text() != first.read_text()


def test_parallel_generation_writes_the_same_images_as_one_process(tmp_path):
    count = demo.PARALLEL_THRESHOLD  # the smallest run that uses the process pool
    seen: list[tuple[int, int]] = []
    truth = demo.generate_demo(
        tmp_path / "images", count, size=48, seed=1, progress=lambda d, t: seen.append((d, t))
    )
    labels = demo.read_ground_truth(truth)
    for index in (0, 57, count - 1):
        name = demo.image_name(index)
        expected = demo.render_image(index, labels[name], 48, seed=1)
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "images" / name), expected)
    assert seen[-1] == (count, count) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_frames_show_detector_gaps_beam_stop_and_counting_noise():
    size = 128
    frame = demo.render_image(5, "empty", size, seed=0)
    gaps = demo._detector_mask(size)
    assert gaps.any() and (frame[gaps] == 0).all()
    # The beam stop arm runs from the centre down to the bottom edge: far darker than its sides.
    column = frame[-10:, size // 2 - 20 : size // 2 + 20].astype(float)
    assert column.min() * 10 < np.median(column)
    # Poisson counts: integers whose variance follows the mean in a flat patch away from the beam.
    patch = frame[2:20, 2:30].astype(float)
    assert 0.3 < patch.var() / patch.mean() < 3.0


def test_each_motif_adds_signal_where_it_should():
    """Not a classifier: a cheap check that the motifs change the frames as they should."""
    size = 128

    def brightest_share(label: str) -> float:
        frames = [demo.render_image(i, label, size, seed=2).astype(float) for i in range(12)]
        return float(np.mean([np.sort(f.ravel())[-30:].sum() / f.sum() for f in frames]))

    assert brightest_share("peaks") > 2 * brightest_share("empty")  # a few bright spots
    assert brightest_share("arcs") > 1.3 * brightest_share("rings")  # rings spread over every angle


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="count"):
        demo.generate_demo(tmp_path / "images", 0)
    with pytest.raises(ValueError, match="outside"):
        demo.generate_demo(tmp_path / "images", 2, ground_truth=tmp_path / "images" / "truth.csv")


@pytest.fixture
def demo_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "data"})


async def test_install_makes_the_dataset_once_and_reuses_it(session, database, demo_settings):
    progress: list[tuple[int, int]] = []
    dataset = await demo.install_demo(
        session, demo_settings, count=18, progress=lambda d, t: progress.append((d, t))
    )
    assert dataset.name == demo.DEMO_NAME and progress
    images, truth, _ = demo.demo_paths(demo_settings)
    assert truth.exists() and truth.parent == images.parent
    assert await session.scalar(select(func.count()).where(Item.dataset_id == dataset.id)) == 18
    classes = await list_classes(session, dataset.id)
    assert [(c.name, c.color, c.hotkey) for c in classes] == demo.DEMO_CLASSES
    stamp_before = (images / demo.image_name(0)).stat().st_mtime_ns

    again = await demo.install_demo(session, demo_settings, count=18)
    assert again.id == dataset.id
    assert len(await list_datasets(session)) == 1
    assert (images / demo.image_name(0)).stat().st_mtime_ns == stamp_before


async def test_install_reuses_finished_files_but_not_a_run_cut_short(session, database, demo_settings):
    truth = demo.ensure_demo_files(demo_settings, 12, size=64)
    images, _, stamp = demo.demo_paths(demo_settings)
    before = _digest(images)
    mtime = (images / demo.image_name(0)).stat().st_mtime_ns
    assert demo.ensure_demo_files(demo_settings, 12, size=64) == truth
    assert (images / demo.image_name(0)).stat().st_mtime_ns == mtime
    stamp.unlink()  # as if the first run had been killed before it finished
    (images / demo.image_name(3)).write_bytes(b"half a file")
    demo.ensure_demo_files(demo_settings, 12, size=64)
    assert _digest(images) == before
