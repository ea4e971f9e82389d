"""Apply Alembic migrations from code: ``labelwise serve`` and ``labelwise migrate`` call this."""

from __future__ import annotations

import asyncio
import threading
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


def upgrade(database_url: str, revision: str = "head", settings: Settings | None = None) -> None:
    """Bring the database to ``revision``. Safe to call from inside a running event loop.

    ``settings`` give data migrations the secret key (else, only if they need it, the environment's).
    """
    config = alembic_config(database_url, settings)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    # env.py runs its own event loop; give it a thread of its own.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            command.upgrade(config, revision)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
