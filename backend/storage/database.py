"""The async engine and sessions. SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backend.storage.files import private_sqlite_file

# SQLSTATE classes of a connection the server would not open: connection exceptions, a wrong
# user or password, no such database, too many connections, a server still starting up.
_CONNECT_SQLSTATES = ("08", "28", "3D000", "53300", "57P03")


def unreachable(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says the database cannot be reached (a closed port, an
    unknown host, a missing database or role, a refused password, a SQLite file that cannot be
    opened), or None. asyncpg raises these bare; SQLAlchemy may wrap them (``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ConnectionError | socket.gaierror | TimeoutError):
            return error
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_CONNECT_SQLSTATES):
            return error
        if isinstance(error, sqlite3.OperationalError) and "unable to open database file" in str(error):
            return error
        todo += [getattr(error, "orig", None), error.__cause__, error.__context__]
    return None


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine with the settings each backend needs to be safe under concurrent taggers."""
    if url.startswith("sqlite"):
        # aiosqlite logs every statement with its parameters at DEBUG: Tiled keys would be in the log.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        private_sqlite_file(url)  # 0600: it holds password hashes and encrypted keys
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


class Database:
    """Holds the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
