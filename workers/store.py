"""``JobStore``: lets synchronous worker threads call the async domain functions of ``backend.jobs``.

Dramatiq actors and ML loops are synchronous; the database layer is async (aiosqlite/asyncpg).
The store runs one private event loop in a daemon thread with its own engine, and ``call`` runs
``fn(session, *args)`` there and waits for the result. One store per process is enough: calls
from many worker threads run concurrently on the loop, each in its own session.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.settings import Settings
from backend.storage.database import Database

log = logging.getLogger("labelwise.worker")
P = ParamSpec("P")
T = TypeVar("T")


class JobStore:
    def __init__(self, settings: Settings, *, timeout: float = 120.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="labelwise-job-store", daemon=True
        )
        self._thread.start()
        self._database: Database | None = None
        self._closed = False

    def _db(self) -> Database:
        if self._database is None:  # made on the loop's thread: asyncpg binds to its loop
            self._database = Database(self.settings.database)
        return self._database

    async def _in_session(self, fn: Callable[..., Awaitable[T]], args: tuple, kwargs: dict) -> T:
        async with self._db().session() as session:
            return await fn(session, *args, **kwargs)

    def call(
        self, fn: Callable[Concatenate[AsyncSession, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(session, *args, **kwargs)`` on the store's loop; re-raises its errors here."""
        if self._closed:
            raise RuntimeError("the job store is closed")
        future = asyncio.run_coroutine_threadsafe(self._in_session(fn, args, kwargs), self._loop)
        return future.result(self.timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def dispose() -> None:
            if self._database is not None:
                await self._database.dispose()

        try:
            asyncio.run_coroutine_threadsafe(dispose(), self._loop).result(10)
        except Exception as exc:  # closing anyway; the process may be going down
            log.warning("job store: engine not disposed cleanly (%s)", type(exc).__name__)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
