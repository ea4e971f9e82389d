"""Fixtures of the feature-report tests: the in-process job app, demo scattering frames, helpers."""

from __future__ import annotations

import pytest

from tests.helpers.classifier import demo_dataset, label
from tests.helpers.feature_report import features_of
from tests.helpers.jobs import image_dataset, job_settings, jobs_client  # noqa: F401  (fixtures)

CLASSES = ("empty", "rings", "peaks")


@pytest.fixture
async def scattering(session, job_settings, folder):  # noqa: F811
    """90 demo frames of 64 px, three classes, two of every three labeled."""
    demo = await demo_dataset(session, job_settings, folder, count=90, size=64, class_names=CLASSES)
    labeled = [i for name in CLASSES for i in demo.items_of(name) if i % 3]
    await label(session, demo, labeled)
    return demo, labeled


@pytest.fixture
async def two_extractors(jobs_client, scattering):  # noqa: F811
    """Azimuthal descriptors (they separate the demo classes) and a 1-component PCA of 8-px
    thumbnails (it cannot): (demo, labeled, azimuthal model id, pca model id)."""
    demo, labeled = scattering
    azimuthal = await features_of(jobs_client, demo.id, "azimuthal")
    pca = await features_of(
        jobs_client, demo.id, "pca", {"n_components": 1, "image_size": 8, "batch_size": 8}
    )
    return demo, labeled, azimuthal, pca
