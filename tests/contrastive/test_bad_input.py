"""Bad input to every extractor: mixed sizes and dtypes, constant images, NaN/Inf, tiny datasets.

Each case trains (and gives a finite vector for every readable item) or fails the job with an
error that names the problem; none crashes the worker (the next job runs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from backend.datasets.refs import item_refs
from backend.datasets.service import create_dataset
from tests.contrastive.conftest import TINY
from tests.helpers.contrastive import infer, submit, train
from tests.helpers.jobs import wait_for

pytestmark = pytest.mark.ml

SMALL = {
    "contrastive": {**TINY, "epochs": 1},
    "autoencoder": {
        "image_height": 16,
        "image_width": 16,
        "base_channels": 2,
        "depth": 2,
        "latent_size": 4,
        "epochs": 1,
        "batch_size": 8,
    },
    "pca": {"n_components": 2, "image_size": 8, "batch_size": 8},
    "azimuthal": {"radial_bins": 12, "angular_bins": 34},
}


def mixed_folder(root: Path) -> Path:
    """Every size and pixel type a folder may hold, constant images and non-finite floats among them."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(root / f"digit_{i}.png")
        Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(root / f"rgb_{i}.png")
        tifffile.imwrite(root / f"cell_{i}.tif", rng.integers(0, 3000, (40, 40)).astype(np.uint16))
        tifffile.imwrite(
            root / f"sat_{i}.tif",
            np.full((40, 40), 65535, np.uint16) - rng.integers(0, 2, (40, 40)).astype(np.uint16),
        )
        np.save(root / f"frame_{i}.npy", rng.random((64, 48)).astype(np.float32) * 10.0**i)
    np.save(root / "const.npy", np.full((32, 32), 7.0, np.float32))
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / "black.png")
    holes = rng.random((32, 32)).astype(np.float32)
    holes[:4] = np.nan
    holes[-4:, :4] = np.inf
    holes[-4:, -4:] = -np.inf
    np.save(root / "holes.npy", holes)
    np.save(root / "all_nan.npy", np.full((16, 16), np.nan, np.float32))
    return root


async def dataset_of(session, settings, folder: Path, name: str) -> int:
    dataset, _ = await create_dataset(session, settings, name, [str(folder)])
    return dataset.id


@pytest.mark.parametrize("algorithm", sorted(SMALL))
async def test_mixed_sizes_dtypes_constant_and_non_finite_images_train_with_intensity(
    algorithm, jobs_client, session, job_settings, folder
):
    dataset_id = await dataset_of(session, job_settings, mixed_folder(folder / "mixed"), f"mixed-{algorithm}")
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "kind": "train",
            "dataset_id": dataset_id,
            "algorithm": algorithm,
            "parameters": {**SMALL[algorithm], "intensity_features": True},
        },
    )
    assert response.status_code == 201, response.text
    job = await wait_for(jobs_client, response.json()["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]
    vectors, item_ids, _ = await infer(jobs_client, job["model_id"])
    refs = await item_refs(session, dataset_id)
    assert len(refs) == 24 and set(item_ids.tolist()) == {ref.item_id for ref in refs}
    assert np.isfinite(vectors).all()


async def test_a_dataset_of_constant_images_fails_with_a_clear_error(
    jobs_client, session, job_settings, folder
):
    root = folder / "flat"
    root.mkdir()
    for i in range(6):
        np.save(root / f"flat_{i}.npy", np.full((20, 20), float(i), np.float32))
    job = await submit(jobs_client, await dataset_of(session, job_settings, root, "flat"), **TINY)
    assert job["state"] == "failed"
    assert "all 6 readable images are constant" in job["error"]
    # the worker lives on: the next job runs
    demo_root = folder / "fine"
    demo_root.mkdir()
    for i in range(6):
        np.save(demo_root / f"fine_{i}.npy", np.random.default_rng(i).random((20, 20)).astype(np.float32))
    await train(jobs_client, await dataset_of(session, job_settings, demo_root, "fine"), **TINY)


async def test_a_dataset_smaller_than_a_batch_trains_in_one_batch(jobs_client, session, job_settings, folder):
    root = folder / "three"
    root.mkdir()
    for i in range(3):
        np.save(root / f"x_{i}.npy", np.random.default_rng(i).random((20, 20)).astype(np.float32))
    dataset_id = await dataset_of(session, job_settings, root, "three")
    job = await train(jobs_client, dataset_id, **{**TINY, "batch_size": 256, "validation_fraction": 0})
    vectors, item_ids, _ = await infer(jobs_client, job["model_id"])
    assert vectors.shape[0] == len(item_ids) == 3

    too_few = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "kind": "train",
            "dataset_id": await dataset_of(session, job_settings, _two(folder), "two"),
            "algorithm": "contrastive",
            "parameters": {**TINY, "validation_fraction": 0.1},
        },
    )
    assert too_few.status_code == 400
    assert "needs at least 3 readable items" in too_few.json()["error"]["message"]


def _two(folder: Path) -> Path:
    root = folder / "two"
    root.mkdir()
    for i in range(2):
        np.save(root / f"y_{i}.npy", np.random.default_rng(i).random((20, 20)).astype(np.float32))
    return root


def test_intensity_descriptors_ignore_non_finite_pixels_and_see_saturation():
    from workers.intensity import NAMES, describe_intensity

    image = np.array([[0, 10, np.nan], [np.inf, 100, -np.inf]], np.float32)
    d = dict(zip(NAMES, describe_intensity(image), strict=True))
    assert d["log_total"] == pytest.approx(np.log1p(110))
    assert d["zero"] == pytest.approx(1 / 3) and d["saturated"] == 0
    assert not describe_intensity(np.full((4, 4), np.nan)).any()
    counts = np.array([[65535, 65535], [3, 0]], np.uint16)
    d = dict(zip(NAMES, describe_intensity(counts, stride=2), strict=True))
    assert d["saturated"] == 0.5 and d["log_total"] == pytest.approx(np.log1p(4 * (2 * 65535 + 3)))


def test_intensity_block_is_zero_where_a_descriptor_is_constant():
    from workers.intensity import standardise

    rng = np.random.default_rng(0)
    descriptors = np.column_stack([rng.random(50), np.full(50, 3.0)])
    vectors = rng.normal(size=(50, 10)) * 2.0
    block, fitted = standardise(descriptors, vectors, weight=0.5)
    assert not block[:, 1].any() and fitted["scale"][1] == 0
    assert block[:, 0].var() == pytest.approx(0.5 * vectors.var(axis=0).sum(), rel=1e-5)
