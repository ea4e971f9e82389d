"""The Alembic chain builds exactly the tables the models describe, and goes down again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import backend.storage.all_tables  # noqa: F401
from backend.storage import migrate
from backend.storage.database import make_engine
from tests.helpers.cli import ROOT
from tests.helpers.database import PG_ADMIN_URL, _backend


def _diff(url: str) -> list:
    async def run() -> list:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrated_database_matches_the_models(migrated):
    diff = _diff(migrated)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_chain_downgrades_to_base_and_upgrades_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'chain.sqlite'}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "base")
    migrate.upgrade(url)
    assert _diff(url) == []


def _sql(url: str, statement: str, **params: object) -> list:
    from sqlalchemy import text

    async def run() -> list:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0004_encrypts_clear_tiled_keys_and_downgrade_restores_them(tmp_path):
    from backend.settings import Settings
    from backend.storage.secrets_at_rest import decrypt_secret

    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_dirs()
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.sqlite'}"
    migrate.upgrade(url, "0003")
    _sql(
        url,
        "INSERT INTO dataset (id, name, multi_label, created_at, updated_at) VALUES (1, 'd', false, :t, :t)",
        t="2026-01-01 00:00:00",
    )
    for source_id, key in ((1, "clearTiledKey-0004"), (2, None)):
        _sql(
            url,
            "INSERT INTO source (id, dataset_id, kind, uri, api_key, position, created_at) "
            "VALUES (:id, 1, 'tiled', 'tiled+http://127.0.0.1:1/x', :key, 0, :t)",
            id=source_id,
            key=key,
            t="2026-01-01 00:00:00",
        )
    migrate.upgrade(url, settings=settings)
    stored = dict(_sql(url, "SELECT id, api_key FROM source"))
    assert stored[2] is None and "clearTiledKey" not in stored[1]
    assert decrypt_secret(settings, stored[1]) == "clearTiledKey-0004"
    assert settings.secret_key_file.exists()
    migrate.upgrade(url, settings=settings)  # again: nothing is encrypted twice
    assert dict(_sql(url, "SELECT id, api_key FROM source"))[1] == stored[1]
    command.downgrade(migrate.alembic_config(url, settings), "0003")
    assert dict(_sql(url, "SELECT id, api_key FROM source"))[1] == "clearTiledKey-0004"


def test_the_data_dir_is_private_and_the_database_and_key_files_are_0600(tmp_path):
    import stat

    from backend.settings import Settings
    from backend.storage.secrets_at_rest import encrypt_secret

    loose = tmp_path / "data"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)  # as an older version (or a umask of 022) left it
    settings = Settings(data_dir=loose)
    settings.ensure_dirs()
    migrate.upgrade(settings.database, settings=settings)
    encrypt_secret(settings, "k")  # makes the key file
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(loose) == 0o700
    assert mode(loose / "labelwise.sqlite") == 0o600
    assert mode(settings.secret_key_file) == 0o600
    wal = loose / "labelwise.sqlite-wal"
    assert not wal.exists() or mode(wal) == 0o600


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's backend: a new SQLite file, or a new PostgreSQL database."""
    if _backend() != "postgres":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"labelwise_fresh_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_processes_started_together_migrate_one_after_the_other(fresh_url, tmp_path):
    """A first `compose up` starts the web server and its workers at once on an empty database;
    each migrates. One creates the tables, the others wait and find them there (before, all but
    one died: "table dataset already exists", a duplicate key in pg_type)."""
    env = {
        **os.environ,
        "LABELWISE_DATABASE_URL": fresh_url,
        "LABELWISE_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "backend.cli", "migrate"]
    runs = [
        subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], "\n".join(o[-2000:] for o in outputs)
    assert _diff(fresh_url) == []
