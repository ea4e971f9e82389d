"""Fixtures for the contrastive extractor's tests: the in-process job app and tiny generated datasets."""

from __future__ import annotations

import pytest

from backend.settings import Settings
from tests.helpers.autoencoder import demo, demo_dataset  # noqa: F401  (fixture, factory)
from tests.helpers.jobs import jobs_client  # noqa: F401  (fixture)

# Small and quick: 16-pixel inputs, a few channels, two epochs.
TINY = {
    "image_size": 16,
    "base_channels": 4,
    "depth": 2,
    "projection_size": 8,
    "epochs": 2,
    "batch_size": 16,
    "validation_fraction": 0.25,
}


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Fast heartbeats, but a patient reaper: the first job of a process imports torch, which on a
    busy machine can hold the interpreter for seconds (these tests are not about lost workers)."""
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 30})
