"""Contrastive parameters and views: defaults valid and described, impossible networks refused with
the reason, every extractor offers the intensity option, and the views do what their parameters say."""

from __future__ import annotations

import numpy as np
import pytest

from backend.algorithms import get_algorithm, list_algorithms, validate_parameters
from backend.errors import Invalid


def test_the_defaults_are_valid_and_every_field_is_described():
    algorithm = get_algorithm("contrastive")
    assert algorithm.kind == "feature_extractor" and not algorithm.needs_labels
    params = validate_parameters("contrastive", {})
    # orientation kept unless the user says it means nothing: turns and flips erase a digit's class
    assert not params["augment_flips"] and not params["augment_rotation"]
    for name, spec in algorithm.schema["properties"].items():
        assert spec.get("title") and "default" in spec, name


def test_every_feature_extractor_offers_the_intensity_option_off_by_default():
    extractors = {a.key for a in list_algorithms("feature_extractor")}
    assert {"pca", "autoencoder", "azimuthal", "contrastive"} <= extractors
    for key in ("pca", "autoencoder", "azimuthal", "contrastive"):
        params = validate_parameters(key, {})
        assert params["intensity_features"] is False and params["intensity_weight"] == 0.5, key


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"image_size": 16, "depth": 4}, "leaving 1 pixels"),
        ({"base_channels": 256, "depth": 8, "image_size": 1024}, "weights"),
        ({"early_stopping_patience": 2, "validation_fraction": 0}, "validation fraction above 0"),
        ({"percentile_low": 90, "percentile_high": 10}, "must be below the high percentile"),
    ],
)
def test_impossible_settings_are_refused_with_the_reason(params, needle):
    with pytest.raises(Invalid) as refused:
        validate_parameters("contrastive", params)
    assert needle in refused.value.message


@pytest.mark.ml
def test_views_are_seeded_per_item_and_keep_what_they_must():
    import torch

    from workers.algorithms.contrastive_views import Views

    images = torch.from_numpy(np.random.default_rng(0).random((6, 1, 16, 16), dtype=np.float32))
    rows = torch.arange(6)
    params = validate_parameters("contrastive", {"noise_poisson": 100.0, "augment_rotation": True})
    views = Views(params, 6)
    views.set_epoch(3)
    first = views(images, rows, 0, step=0)
    assert first.shape == images.shape and torch.isfinite(first).all()
    # an item's view depends on the item, not on the batch it lands in
    again = Views(params, 6)
    again.set_epoch(3)
    alone = again(images[2:3], rows[2:3], 0, step=0)
    off = {**params, "noise_poisson": 0, "noise_gaussian": 0}
    a, b = Views(off, 6), Views(off, 6)
    a.set_epoch(3)
    b.set_epoch(3)
    torch.testing.assert_close(a(images, rows, 0, 0)[2:3], b(images[2:3], rows[2:3], 0, 0))
    assert alone.shape == (1, 1, 16, 16)
    assert not torch.allclose(first, views(images, rows, 1, step=0))  # the two views differ

    # with every change off, a view is the image itself; 90-degree turns keep every pixel value
    none = {**off, "augment_flips": False, "augment_rotation": False, "crop_scale_min": 1.0,
            "intensity_scale": 0, "gamma": 0, "blur_sigma": 0}  # fmt: skip
    torch.testing.assert_close(Views(none, 6)(images, rows, 0, 0), images)
    turns = Views({**none, "augment_flips": True}, 6)
    turns.set_epoch(1)
    turned = turns(images, rows, 0, 0)
    for i in range(6):
        assert np.allclose(np.sort(turned[i].numpy().ravel()), np.sort(images[i].numpy().ravel()), atol=1e-5)


@pytest.mark.ml
def test_a_small_set_trains_in_smaller_batches_so_an_epoch_has_enough_steps():
    from workers.algorithms.contrastive import batch_for

    params = validate_parameters("contrastive", {})
    assert params["batch_size"] == 256 and params["min_steps_per_epoch"] == 8
    assert batch_for(params, 4500) == 256  # a large set: the batch as set
    assert batch_for(params, 540) == 68  # 8 steps of ceil(540 / 8)
    assert batch_for(params, 100) == 32  # never below 32 images...
    assert batch_for(params, 20) == 20  # ...nor more than the set: one batch
    assert batch_for({**params, "batch_size": 16}, 540) == 16  # never above what was asked
    assert batch_for({**params, "min_steps_per_epoch": 0}, 540) == 256  # 0: the batch as set


def test_vectors_keep_the_layout_only_where_orientation_is_not_augmented_away():
    from backend.algorithms.contrastive import grid_pooling, vector_length

    upright = validate_parameters("contrastive", {})  # the default keeps orientation (digits, text)
    assert upright["pooling"] == "auto" and grid_pooling(upright) and vector_length(upright) == 4 * 128
    flipping = validate_parameters("contrastive", {"augment_flips": True})  # cells, scattering
    assert not grid_pooling(flipping) and vector_length(flipping) == 128
    turning = validate_parameters("contrastive", {"augment_rotation": True})
    assert not grid_pooling(turning)
    assert grid_pooling({**flipping, "pooling": "grid"})
    assert not grid_pooling({**upright, "pooling": "global"})
    with pytest.raises(Invalid):
        validate_parameters("contrastive", {"pooling": "max"})


@pytest.mark.ml
def test_grid_vectors_are_the_quarters_means_of_the_feature_map():
    import torch

    from workers.algorithms.contrastive_net import Architecture, build

    net = build(Architecture(image_size=16, base_channels=4, depth=2, projection_size=8), 0).eval()
    images = torch.from_numpy(np.random.default_rng(0).random((3, 1, 16, 16), dtype=np.float32))
    with torch.no_grad():
        pooled, grid = net.vectors(images, grid=False), net.vectors(images, grid=True)
    assert pooled.shape == (3, 16) and grid.shape == (3, 64)
    torch.testing.assert_close(pooled, net.encode(images))
    # the four quarters' means average to the global mean: the grid adds where, loses nothing
    torch.testing.assert_close(grid.view(3, 16, 4).mean(dim=2), pooled)
