"""The script client against the real app served over HTTP (uvicorn in a thread, jobs in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.guided.fixed_classifier  # registers a classifier whose probabilities are known
import tests.jobs.sleeper  # noqa: F401  (registers the test algorithm, for a job that fails)
from backend.settings import Settings
from labelwise_client import Client
from tests.factories import image_folder
from tests.helpers.accounts import Account, accounts  # noqa: F401  (fixture used here too)
from tests.helpers.jobs import job_settings  # noqa: F401
from tests.live import live_app


@pytest.fixture
def server(job_settings: Settings, database) -> Iterator[str]:  # noqa: F811
    with live_app(job_settings) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[Client]:
    with Client(server, tagger="notebook", timeout=30) as c:
        yield c


@pytest.fixture
def dataset(client: Client, folder: Path) -> dict:
    image_folder(folder, count=40)
    return client.create_dataset(f"client-{folder.name}", [str(folder)])
