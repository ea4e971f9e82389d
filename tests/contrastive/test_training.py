"""Contrastive jobs end to end through the in-process worker: training, vectors for every item,
reproducibility, fine-tuning, the intensity option."""

from __future__ import annotations

import numpy as np
import pytest

from backend.datasets.refs import item_refs
from tests.contrastive.conftest import TINY, demo_dataset
from tests.helpers.contrastive import infer, train
from workers.intensity import NAMES

pytestmark = pytest.mark.ml


async def test_training_reports_epochs_and_inference_writes_a_vector_for_every_item(
    jobs_client, demo, session
):
    job = await train(jobs_client, demo.id, **TINY)
    metrics = (await jobs_client.get(f"/api/v1/jobs/{job['id']}/metrics")).json()
    assert [m["epoch"] for m in metrics] == [1, 2]
    for m in metrics:
        assert m["metrics"]["train_loss"] > 0 and m["metrics"]["val_loss"] > 0
        assert 0 <= m["metrics"]["val_accuracy"] <= 1 and m["metrics"]["epoch_seconds"] > 0
    assert job["done"] == job["total"] == 2 * 3  # 36 training items in batches of 16
    assert sorted(job["outputs"]) == ["best.pt", "feature_mean.npy", "last.pt", "model.json"]

    vectors, item_ids, _ = await infer(jobs_client, job["model_id"])
    refs = await item_refs(session, demo.id)
    # the means over the four quarters of a B * 2^d = 4 * 2**2 map: orientation is kept by default
    assert vectors.dtype == np.float32 and vectors.shape == (48, 4 * 4 * 2**2)
    assert item_ids.tolist() == [ref.item_id for ref in refs]
    assert np.isfinite(vectors).all() and len(np.unique(vectors.round(5), axis=0)) == 48


async def test_the_same_seed_gives_equal_vectors_and_another_seed_other_ones(jobs_client, demo):
    params = {**TINY, "noise_poisson": 50.0, "augment_rotation": True}
    first = await train(jobs_client, demo.id, **params)
    second = await train(jobs_client, demo.id, **params)
    other = await train(jobs_client, demo.id, **{**params, "seed": 1})
    a, _, _ = await infer(jobs_client, first["model_id"])
    b, _, _ = await infer(jobs_client, second["model_id"])
    c, _, _ = await infer(jobs_client, other["model_id"])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


async def test_fine_tuning_starts_from_the_earlier_models_weights(
    jobs_client, demo, session, job_settings, folder
):
    source = await train(jobs_client, demo.id, **{**TINY, "epochs": 3})
    source_model = (await jobs_client.get(f"/api/v1/models/{source['model_id']}")).json()
    tuned = await train(jobs_client, demo.id, **{**TINY, "epochs": 1, "fine_tune_from": source_model["id"]})
    tuned_model = (await jobs_client.get(f"/api/v1/models/{tuned['model_id']}")).json()
    assert tuned_model["summary"]["fine_tuned_from"] == source_model["id"]
    # on the same data and split, the run starts where the source's best epoch ended
    assert tuned_model["summary"]["initial_val_loss"] == pytest.approx(
        source_model["summary"]["best_val_loss"], rel=1e-4
    )
    other, _ = await demo_dataset(session, job_settings, folder, count=20, seed=3, name="other")
    await train(jobs_client, other.id, **{**TINY, "epochs": 1, "fine_tune_from": source_model["id"]})

    other_shape = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": demo.id,
            "algorithm": "contrastive",
            "parameters": {**TINY, "base_channels": 8, "fine_tune_from": source_model["id"]},
        },
    )
    assert other_shape.status_code == 400
    assert "its network has another shape" in other_shape.json()["error"]["message"]


async def test_intensity_option_appends_standardised_descriptors(jobs_client, demo):
    plain = await train(jobs_client, demo.id, **TINY)
    with_intensity = await train(jobs_client, demo.id, **TINY, intensity_features=True, intensity_weight=1.0)
    base, _, _ = await infer(jobs_client, plain["model_id"])
    vectors, _, job = await infer(jobs_client, with_intensity["model_id"])
    assert vectors.shape == (48, base.shape[1] + len(NAMES))
    np.testing.assert_allclose(vectors[:, : base.shape[1]], base, rtol=1e-5, atol=1e-6)
    block = vectors[:, base.shape[1] :].astype(np.float64)
    assert np.isfinite(block).all()
    assert np.sum(block.var(axis=0)) == pytest.approx(np.sum(base.astype(np.float64).var(axis=0)), rel=1e-3)
    assert "intensity.json" in job["outputs"]


async def test_upright_data_get_vectors_of_the_four_quarters(jobs_client, demo):
    """Flips and rotation off (orientation matters): the vectors pool each quarter, 4x as long; the
    weights train the same way, so the globally pooled vectors are the quarters' means."""
    grid = await train(jobs_client, demo.id, **TINY, augment_flips=False)
    pooled = await train(jobs_client, demo.id, **TINY, augment_flips=False, pooling="global")
    quarters, ids, _ = await infer(jobs_client, grid["model_id"])
    means, same_ids, _ = await infer(jobs_client, pooled["model_id"])
    assert quarters.shape == (48, 4 * 4 * 2**2) and means.shape == (48, 4 * 2**2)
    assert ids.tolist() == same_ids.tolist()
    # the stored vectors are centred on the training mean of their own kind: compare the deviations
    np.testing.assert_allclose(
        quarters.reshape(48, -1, 4).mean(axis=2) - quarters.reshape(48, -1, 4).mean(axis=(0, 2)),
        means - means.mean(axis=0),
        rtol=1e-3,
        atol=1e-4,
    )
