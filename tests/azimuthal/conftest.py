"""Fixtures of the azimuthal feature-extractor jobs: the in-process job app and a small demo set."""

from tests.autoencoder.conftest import demo, job_settings  # noqa: F401  (fixtures)
from tests.jobs.conftest import jobs_client  # noqa: F401  (fixture)
