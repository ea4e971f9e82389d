"""Fixtures for classifier tests: the in-process job app, demo datasets with known classes, labels
(tests/helpers/classifier.py, shared with the azimuthal and feature-report tests)."""

from __future__ import annotations

from tests.helpers.classifier import TINY, LabeledDemo, demo_dataset, job_settings, label  # noqa: F401
from tests.helpers.jobs import jobs_client  # noqa: F401  (fixture)
