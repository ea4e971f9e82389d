"""The bright object above the border's background (``workers.intensity.signal_descriptors``):
integrated counts without the camera's offset, size, edges and texture, the same at any exposure;
and models or inferences of the seven descriptors of before still read as they were written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workers.algorithms.brightness import fitted_columns
from workers.feature_report import appended_block
from workers.intensity import NAMES, SIGNAL_NAMES, describe_intensity

SIDE = 40
OLD_NAMES = list(NAMES[:7])  # what models fitted before the signal descriptors stored


def _square(offset: float = 0.0, amplitude: float = 1000.0, granular: bool = False) -> np.ndarray:
    """A 12 x 12 bright square in the middle of a flat frame at ``offset``; ``granular``: half of it
    (a checkerboard of 2 x 2 grains) twice as bright, the other half dark, the same total."""
    image = np.full((SIDE, SIDE), offset, np.float64)
    inside = np.zeros((SIDE, SIDE), bool)
    inside[14:26, 14:26] = True
    if granular:
        grain = np.arange(SIDE) // 2
        checker = (np.add.outer(grain, grain) % 2).astype(bool)
        image[inside & checker] += 2 * amplitude
    else:
        image[inside] += amplitude
    return image


def _signal(image: np.ndarray, **kw) -> dict[str, float]:
    return dict(zip(NAMES, describe_intensity(image, **kw), strict=True))


def test_the_square_above_an_offset_background_is_measured_without_the_offset():
    found = _signal(_square(offset=100.0))
    assert found["log_background"] == pytest.approx(np.log1p(100.0))
    assert found["log_signal"] == pytest.approx(np.log1p(144 * 1000.0))  # the square's counts alone
    assert found["signal_area"] == pytest.approx(144 / SIDE**2)  # no noise: every pixel above it
    assert found["bright_area"] == pytest.approx(144 / SIDE**2)
    assert found["edge"] > 0 and found["texture"] > 0
    # a camera offset moves the total counts, not the counts above the background
    higher = _signal(_square(offset=5000.0))
    assert higher["log_total"] > found["log_total"] + 1
    assert higher["log_signal"] == pytest.approx(found["log_signal"])
    assert higher["log_background"] > found["log_background"]


def test_a_longer_exposure_moves_the_counts_only():
    dim, bright = _signal(_square(amplitude=100.0)), _signal(_square(amplitude=1000.0))
    assert bright["log_signal"] - dim["log_signal"] == pytest.approx(np.log(10.0), abs=1e-3)
    for name in ("signal_area", "bright_area", "edge", "texture"):
        assert bright[name] == pytest.approx(dim[name]), name


def test_texture_tells_condensed_from_even_objects_of_the_same_counts():
    even, granular = _signal(_square()), _signal(_square(granular=True))
    assert granular["log_signal"] == pytest.approx(even["log_signal"])
    assert granular["texture"] > 3 * even["texture"]
    assert granular["edge"] > 3 * even["edge"]
    assert granular["bright_area"] == pytest.approx(even["bright_area"] / 2)


def test_masked_and_non_finite_pixels_are_left_out():
    image = _square(offset=100.0)
    plain = describe_intensity(image)
    hot = image.copy()
    hot[:, :2] = 60000.0  # a hot border column, masked
    mask = np.zeros(image.shape, bool)
    mask[:, :2] = True
    masked = _signal(hot, mask=mask)
    assert masked["log_background"] == pytest.approx(np.log1p(100.0))
    assert masked["log_signal"] == pytest.approx(plain[NAMES.index("log_signal")])
    assert masked["signal_area"] == pytest.approx(144 / (SIDE * (SIDE - 2)))
    holes = image.copy()
    holes[0, :] = np.nan
    holes[20, 20] = np.inf
    found = _signal(holes)
    assert all(np.isfinite(v) for v in found.values())
    assert found["log_background"] == pytest.approx(np.log1p(100.0))
    assert found["log_signal"] == pytest.approx(np.log1p(143 * 1000.0))  # the inf pixel counts as none


def test_flat_empty_and_tiny_images_give_zeros_not_errors():
    flat = _signal(np.full((SIDE, SIDE), 7.0))
    assert flat["log_background"] == pytest.approx(np.log1p(7.0))
    assert all(flat[name] == 0 for name in SIGNAL_NAMES if name != "log_background")
    assert not describe_intensity(np.full((8, 8), np.nan)).any()
    tiny = describe_intensity(np.asarray([[1.0, 9.0]]))
    assert np.isfinite(tiny).all() and tiny[NAMES.index("edge")] == 0  # too small for a gradient


def test_a_strided_read_counts_the_pixels_it_skipped():
    image = _square(offset=10.0)
    assert _signal(image[::2, ::2], stride=2)["log_signal"] == pytest.approx(np.log1p(36 * 1000.0 * 4))


def test_a_model_fitted_on_the_seven_descriptors_of_before_reads_those_seven():
    assert fitted_columns(OLD_NAMES) == list(range(7))
    assert fitted_columns(list(NAMES)) == list(range(len(NAMES)))
    with pytest.raises(ValueError, match="train a new intensity model"):
        fitted_columns([*OLD_NAMES, "from_a_newer_worker"])


def test_the_report_slices_the_block_an_inference_appended_as_it_was_written(tmp_path: Path):
    assert appended_block(tmp_path, 40) == 0  # nothing appended
    (tmp_path / "intensity.json").write_text(json.dumps({"names": OLD_NAMES}))
    assert appended_block(tmp_path, 16 + 7) == 7  # an inference of older code: 7, not len(NAMES)
    assert appended_block(tmp_path, 7) == 0  # no vector left of the extractor's own
    (tmp_path / "intensity.json").write_text(json.dumps({"names": list(NAMES)}))
    assert appended_block(tmp_path, 16 + len(NAMES)) == len(NAMES)
