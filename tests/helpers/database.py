"""Which database the suite runs on (SQLite by default, PostgreSQL when asked) and how to reach its admin."""

from __future__ import annotations

import os

import backend.storage.all_tables  # noqa: F401

PG_ADMIN_URL = os.environ.get(
    "LABELWISE_TEST_PG_ADMIN", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def _backend() -> str:
    return os.environ.get("LABELWISE_TEST_DATABASE", "sqlite")
