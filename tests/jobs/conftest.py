"""Fixtures for job tests (fast heartbeats, servers whose jobs run in process, image datasets, the CLI
runner, Redis workers, the browser), from tests/helpers/ where other packages import them too."""

from __future__ import annotations

import tests.jobs.sleeper  # noqa: F401  (registers the test algorithm)
from tests.helpers.browser import chromium, served  # noqa: F401  (fixtures of the browser tests)
from tests.helpers.cli import cli  # noqa: F401  (fixture)
from tests.helpers.jobs import (  # noqa: F401
    FINISHED,
    image_dataset,
    job_settings,
    jobs_client,
    make_dataset,
    serve,
    wait_for,
    wait_until,
)
from tests.helpers.redis import redis_client, redis_settings, redis_worker  # noqa: F401  (fixtures)
