"""The command line in tests: the environment a CLI or worker process needs, CLI runners."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backend.cli import main
from backend.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    """LABELWISE_* variables that make a CLI or worker process see the test installation."""
    return {
        "LABELWISE_DATA_DIR": str(settings.data_dir),
        "LABELWISE_DATABASE_URL": settings.database,
        "LABELWISE_DATA_ROOTS": settings.data_roots,
        "LABELWISE_TAGGER": "cli-user",
        "LABELWISE_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
        "LABELWISE_HEARTBEAT_TIMEOUT_SECONDS": str(settings.heartbeat_timeout_seconds),
        "LABELWISE_CANCEL_GRACE_SECONDS": str(settings.cancel_grace_seconds),
        "LABELWISE_ALGORITHM_MODULES": "tests.jobs.sleeper",
        **extra,
    }


@pytest.fixture
def cli(job_settings: Settings) -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner(env=env_of(job_settings))
    get_settings.cache_clear()


async def invoke(cli: CliRunner, args: list[str]) -> Any:
    """Run the command in a thread: it runs its own event loop, as from a shell. Settings cached by
    the server in this process are dropped first, so the command reads the runner's environment."""
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(cli.invoke, main, args)
    finally:
        get_settings.cache_clear()


@pytest.fixture
def run_cli(monkeypatch, settings, database, data_root):
    """``run_cli("datasets", "list")``: the `labelwise` command in process against the test database."""
    monkeypatch.setenv("LABELWISE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LABELWISE_DATABASE_URL", settings.database)
    monkeypatch.setenv("LABELWISE_DATA_ROOTS", str(data_root))
    monkeypatch.setenv("LABELWISE_TAGGER", "cli-user")
    monkeypatch.setenv("LABELWISE_TILED_HOSTS", settings.tiled_hosts)
    get_settings.cache_clear()

    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    yield run
    get_settings.cache_clear()
