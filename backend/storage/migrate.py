"""Apply Alembic migrations from code: ``labelwise serve`` and ``labelwise migrate`` call this."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from backend.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


SETTINGS_ATTRIBUTE = "labelwise_settings"  # data migrations that need the key (0004) read it here


def alembic_config(database_url: str, settings: Settings | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if settings is not None:
        config.attributes[SETTINGS_ATTRIBUTE] = settings
    return config


@contextmanager
def _sqlite_lock(database_url: str) -> Iterator[None]:
    """SQLite: an exclusive lock on a file beside the database for the whole upgrade, so that
    processes started together (the server, a CLI command) migrate one after the other instead of
    both creating the tables ("table dataset already exists"). PostgreSQL locks in env.py."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    descriptor = os.open(f"{path}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def upgrade(database_url: str, revision: str = "head", settings: Settings | None = None) -> None:
    """Bring the database to ``revision``. Safe to call from inside a running event loop, and from
    several processes at once (one migrates, the others wait and find it done).

    ``settings`` give data migrations the secret key (else, only if they need it, the environment's).
    """
    config = alembic_config(database_url, settings)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with _sqlite_lock(database_url):
            command.upgrade(config, revision)
        return
    # env.py runs its own event loop; give it a thread of its own.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with _sqlite_lock(database_url):
                command.upgrade(config, revision)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
