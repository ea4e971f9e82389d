"""Alembic environment: runs migrations over the async engine (aiosqlite or asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import backend.storage.all_tables  # noqa: F401  (registers every table on the metadata)
from backend.storage.database import make_engine

config = context.config
target_metadata = SQLModel.metadata

# Processes started together (the web server and its workers on a first `compose up`) migrate one
# after the other: each holds this advisory lock for its whole migration transaction, and reads
# the version only once it has it (SQLite: a file lock in backend/storage/migrate.py).
POSTGRES_MIGRATION_LOCK = 0x6C6162656C77  # "labelw"


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_online(config.get_main_option("sqlalchemy.url") or ""))
