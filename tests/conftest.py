"""Fixtures that start real things: the database (SQLite or PostgreSQL), the app in process.

``LABELWISE_TEST_DATABASE=postgres`` runs the suite against PostgreSQL on 127.0.0.1:5432 in a
fresh database made for this run and dropped after it. The default is a SQLite file.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlmodel import SQLModel

import backend.storage.all_tables  # noqa: F401
from backend.settings import Settings
from backend.storage import migrate
from backend.storage.database import Database
from tests.helpers.cli import run_cli  # noqa: F401  (fixture: the `labelwise` command in process)
from tests.helpers.database import PG_ADMIN_URL, _backend


async def _pg_admin(sql: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def test_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labelwise")


@pytest.fixture(scope="session")
def data_root(test_root: Path) -> Path:
    root = test_root / "data-root"
    root.mkdir()
    return root.resolve()


@pytest.fixture(scope="session")
def database_url(test_root: Path) -> Iterator[str]:
    if _backend() == "postgres":
        name = f"labelwise_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield f"sqlite+aiosqlite:///{test_root / 'test.sqlite'}"


@pytest.fixture(scope="session")
def settings(test_root: Path, data_root: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=test_root / "data-dir",
        database_url=database_url,
        data_roots=str(data_root),
        tagger="tester",
        max_image_pixels=4_000_000,
        tiled_hosts="127.0.0.1",  # the tests' own `tiled serve` (no Tiled host is allowed by default)
    )


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
async def database(migrated: str, settings: Settings) -> AsyncIterator[Database]:
    settings.ensure_dirs()
    db = Database(migrated)
    yield db
    await db.dispose()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts with empty tables (only when it uses the database)."""
    yield
    if "database" not in request.fixturenames:
        return
    db: Database = request.getfixturevalue("database")
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE tag_event SET undoes_event_id = NULL"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.session() as s:
        yield s


@pytest.fixture
def folder(data_root: Path) -> Path:
    """A fresh folder inside the data root, unique per test."""
    path = data_root / f"f_{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


@pytest.fixture
async def app(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    """The real app on the test database. It opens its own engine: the test client runs the app
    on another event loop, and asyncpg connections cannot cross loops."""
    from backend.app import create_app

    return create_app(settings)


@pytest.fixture
async def client(app):  # type: ignore[no-untyped-def]
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app) as c:
        yield c
