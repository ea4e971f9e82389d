"""The Alembic chain builds exactly the tables the models describe, and goes down again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import backend.storage.all_tables  # noqa: F401
from backend.storage import migrate
from backend.storage.database import make_engine


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
