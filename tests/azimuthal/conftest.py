"""Fixtures of the azimuthal jobs (the in-process job app, a small demo set) and their helpers
(tests/helpers/azimuthal.py)."""

from __future__ import annotations

from tests.helpers.autoencoder import demo, job_settings  # noqa: F401  (fixtures)
from tests.helpers.azimuthal import job_output, run_job  # noqa: F401
from tests.helpers.jobs import jobs_client, wait_for  # noqa: F401  (fixture)
