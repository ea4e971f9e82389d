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
    assert params["augment_flips"] and not params["augment_rotation"]  # rotation: only when told
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
