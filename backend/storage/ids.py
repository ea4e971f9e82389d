"""The id of a stored row, as an ``int``.

SQLModel types a row's primary key ``int | None``: ``None`` until the row is flushed. A row read
back from the database, or flushed by the call that made it, has one; ``stored_id`` says so once
instead of ``int(row.id)`` with a ``type: ignore`` at each use, and fails loudly if it is not so."""

from __future__ import annotations

from typing import Protocol


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _Stored) -> int:
    """The id of a row read back from the database (or flushed): set once stored."""
    if row.id is None:
        raise AssertionError(f"{type(row).__name__} has no id: it was never stored")
    return row.id
