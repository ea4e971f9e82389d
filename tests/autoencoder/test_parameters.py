"""Autoencoder parameters: the paper's settings pass; networks that cannot be built are refused
before anything is queued, with a sentence that says why."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.algorithms import get_algorithm, validate_parameters
from backend.algorithms.autoencoder import memory_estimate
from backend.errors import Invalid
from backend.storage.job_tables import Job, Model
from tests.helpers.autoencoder import TINY

PAPER = [
    {"image_height": 64, "image_width": 64, "base_channels": 32, "depth": 3, "latent_size": 300},
    {"image_height": 128, "image_width": 128, "base_channels": 64, "depth": 4, "latent_size": 500},
    {"image_height": 256, "image_width": 256, "base_channels": 8, "depth": 5, "latent_size": 300},
]


@pytest.mark.parametrize("shape", PAPER, ids=lambda s: f"{s['image_height']}-B{s['base_channels']}")
def test_the_papers_settings_are_accepted(shape):
    params = validate_parameters("autoencoder", shape)
    assert params["optimizer"] == "adam" and params["fine_tune_from"] == 0  # defaults filled in


def test_the_defaults_are_valid_and_every_field_is_described():
    algorithm = get_algorithm("autoencoder")
    assert algorithm.kind == "feature_extractor"
    validate_parameters("autoencoder", {})
    for name, spec in algorithm.schema["properties"].items():
        assert spec.get("title") and "default" in spec, name
    enums = {k: v.get("enum") for k, v in algorithm.schema["properties"].items()}
    assert enums["optimizer"] == ["adam", "adamw", "sgd", "rmsprop"]
    assert enums["criterion"] == ["mse", "l1", "smooth_l1"]
    assert enums["augment_target"] == ["input", "input_and_target"]


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ({"image_height": 64, "image_width": 64, "depth": 6}, "leaving 1x1 pixels"),
        ({"image_height": 16, "image_width": 128, "depth": 4}, "leaving 1x8 pixels"),
        ({"image_height": 96, "image_width": 12, "depth": 4}, "use depth at most 3"),
        ({"image_height": 1024, "image_width": 1024, "base_channels": 256, "depth": 1}, "weights"),
        (
            {"image_height": 2048, "image_width": 2048, "base_channels": 8, "depth": 8, "batch_size": 512},
            "GiB of memory",
        ),
        ({"early_stopping_patience": 3, "validation_fraction": 0}, "validation fraction above 0"),
        ({"percentile_low": 99, "percentile_high": 1}, "must be below the high percentile"),
    ],
)
def test_infeasible_networks_are_refused_with_the_reason(shape, needle):
    with pytest.raises(Invalid) as refused:
        validate_parameters("autoencoder", shape)
    assert needle in refused.value.message


def test_the_memory_estimate_grows_with_the_batch():
    small = validate_parameters("autoencoder", {"batch_size": 8})
    big = validate_parameters("autoencoder", {"batch_size": 512})
    assert memory_estimate(big) > 10 * memory_estimate(small)


async def test_an_infeasible_network_is_refused_at_submit_and_nothing_is_queued(jobs_client, demo, session):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "kind": "train",
            "dataset_id": demo.id,
            "algorithm": "autoencoder",
            "parameters": {**TINY, "depth": 5},
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID"
    assert "depth 5 halves a 32x32 input 5 times" in error["message"]
    assert "M/2^d and N/2^d must stay above 1" in error["message"]
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert await session.scalar(select(func.count()).select_from(Model)) == 0


async def test_fine_tuning_from_a_missing_model_is_refused_at_submit(jobs_client, demo, session):
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={
            "dataset_id": demo.id,
            "algorithm": "autoencoder",
            "parameters": {**TINY, "fine_tune_from": 999},
        },
    )
    assert response.status_code == 400
    assert "cannot fine-tune from model 999: it does not exist" in response.json()["error"]["message"]
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
