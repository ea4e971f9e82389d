"""The explorer's tests run real jobs: reuse the job tests' servers and datasets."""

from tests.helpers.jobs import image_dataset, job_settings, jobs_client  # noqa: F401
