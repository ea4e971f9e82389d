"""Fixtures for autoencoder tests: the in-process job app, and small demo-like datasets
(tests/helpers/autoencoder.py, shared with the azimuthal and contrastive tests)."""

from __future__ import annotations

from tests.helpers.autoencoder import TINY, demo, demo_dataset, job_settings  # noqa: F401
from tests.helpers.jobs import jobs_client  # noqa: F401  (fixture)
