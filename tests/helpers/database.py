"""Which database the suite runs on (SQLite by default, PostgreSQL when asked) and how to reach its admin."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import backend.storage.all_tables  # noqa: F401

PG_ADMIN_URL = os.environ.get(
    "LABELWISE_TEST_PG_ADMIN", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def _backend() -> str:
    return os.environ.get("LABELWISE_TEST_DATABASE", "sqlite")


async def _admin(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def empty_postgres_database(prefix: str) -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped after, for a test that needs PostgreSQL whatever the
    suite's backend (a copy from SQLite to it): skipped where none answers at the admin URL."""
    try:
        await _admin("SELECT 1")
    except Exception as exc:  # refused, unknown host, wrong password: no PostgreSQL here
        pytest.skip(f"PostgreSQL is not reachable ({type(exc).__name__})")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
