"""Autoencoder fixtures shared by the tests: small settings, demo-like datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.service import create_dataset
from backend.demo import generate_demo, read_ground_truth
from backend.settings import Settings
from backend.storage.tables import Dataset

# Small, quick settings: 32x32 inputs, a few channels; the tests change what they exercise.
TINY = {
    "image_height": 32,
    "image_width": 32,
    "base_channels": 4,
    "depth": 2,
    "latent_size": 16,
    "epochs": 3,
    "batch_size": 8,
    "validation_fraction": 0.25,
    "learning_rate": 0.003,
}


async def demo_dataset(
    session: AsyncSession,
    settings: Settings,
    folder: Path,
    count: int = 48,
    seed: int = 0,
    name: str = "demo",
) -> tuple[Dataset, dict[str, str]]:
    """``count`` synthetic scattering images (32 px) as a dataset, and their ground truth by file name."""
    images = folder / name / "images"
    truth = generate_demo(images, count, size=32, seed=seed)
    dataset, _ = await create_dataset(session, settings, f"{name}-{folder.name}", [str(images)])
    return dataset, read_ground_truth(truth)


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Fast heartbeats, but a patient reaper: the first job of a process imports torch, which on a
    busy machine can hold the interpreter for seconds (these tests are not about lost workers)."""
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 30})


@pytest.fixture
async def demo(session: AsyncSession, job_settings: Settings, folder: Path) -> Dataset:
    dataset, _ = await demo_dataset(session, job_settings, folder)
    return dataset
