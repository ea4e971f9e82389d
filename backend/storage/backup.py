"""Backing the database up while the server runs, and copying it whole to another database.

``backup_sqlite`` makes a consistent copy of a SQLite database with SQLite's online backup API: one
step, so the copy is the database as one read transaction saw it, while the server goes on
writing (WAL: readers do not block the writer). PostgreSQL is backed up with ``pg_dump``
(``pg_dump_command`` says how, without the password).

``copy_database`` moves everything (datasets, items, classes, the whole tag history, current
labels, rejections, models, jobs with their metrics and logs, accounts, tokens, sessions) from one
database to another, e.g. the embedded SQLite to PostgreSQL: the target is migrated to head with
the project's migrations, must hold no rows, and gets every table in foreign-key order, in
batches, in one transaction (a failure leaves it empty). The source is read in one snapshot and
never written. Rows go through the tables' own column types, so JSON, zoned datetimes and
booleans arrive as they left. Ids are kept; PostgreSQL's sequences (SQLite's ``sqlite_sequence``)
continue after the source's, deleted ids included (a model's id names its artifact directory).

Files stay where they are: model files, vectors and indexes live under the data directory
(``artifact_dir``), and rows name them relative to it; the Tiled keys are encrypted with the
secret key (``LABELWISE_SECRET_KEY`` or ``secret.key`` in the data directory). The server on the
target needs the same data directory (or a copy of it) and the same secret key.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Table, event, func, insert, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import backend.storage.all_tables  # noqa: F401  (every table on the metadata)
from backend.errors import Conflict, Invalid, LabelwiseError, NotFound
from backend.storage import migrate
from backend.storage.database import make_engine, unreachable
from backend.storage.files import FILE_MODE

if TYPE_CHECKING:
    from backend.settings import Settings

BATCH_ROWS = 1000
VERSION_TABLE = "alembic_version"

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in the table)


def masked(url: str) -> str:
    """The URL as it may be shown: the password, if any, replaced by ``***``."""
    return make_url(url).render_as_string(hide_password=True)


def tables() -> list[Table]:
    """Every table of the schema, each after those its foreign keys point to."""
    return list(SQLModel.metadata.sorted_tables)


# ---- backup ----------------------------------------------------------------------------------


class NotSqlite(Invalid):
    """The database is not a SQLite file: its own tools back it up."""


def pg_dump_command(url: str, destination: Path | str) -> str:
    """The ``pg_dump`` line that backs up the PostgreSQL database at ``url`` into ``destination``
    (custom format, for ``pg_restore``). The password is never in it: pg_dump reads it from
    ``PGPASSWORD`` or ``~/.pgpass``."""
    parsed = make_url(url)
    parts = ["pg_dump", "--format=custom", f"--file={destination}"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts.append(parsed.database or "")
    return " ".join(shlex.quote(part) for part in parts)  # a file name with spaces stays one word


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database (or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    revision: str | None
    rows: dict[str, int]


def backup_sqlite(url: str, destination: Path) -> BackupReport:
    """Copy the SQLite database at ``url`` into ``destination`` (a new file, mode 0600) with the
    online backup API, safe while the server writes. The copy is checked (``integrity_check``)
    and left as one file (rollback journal, no ``-wal`` beside it)."""
    source_path = sqlite_path(url)
    if source_path is None:
        if make_url(url).get_backend_name() == "postgresql":
            raise NotSqlite(
                f"the database at {masked(url)} is PostgreSQL; back it up with pg_dump: "
                f"{pg_dump_command(url, destination)} (pg_dump asks for the password, or reads "
                "PGPASSWORD or ~/.pgpass), and restore it with pg_restore"
            )
        raise NotSqlite(f"only a SQLite file can be backed up here, not {masked(url)}")
    if not source_path.is_file():
        raise NotFound(f"there is no database file at {source_path}")
    destination = destination.expanduser().absolute()
    if destination.exists():
        raise Conflict(f"{destination} exists; name a new file (a backup never overwrites one)")
    if not destination.parent.is_dir():
        raise NotFound(f"there is no folder {destination.parent} to write the backup in")
    if destination.resolve() == source_path.resolve():
        raise Invalid("the backup must be another file than the database itself")
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)  # 0600: password hashes
    os.close(fd)
    try:
        source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            target = sqlite3.connect(partial)
            try:
                # pages=-1: all in one step, one read transaction, so a consistent snapshot
                # (stepwise, every write of the server would restart the copy).
                source.backup(target, pages=-1)
                target.execute("PRAGMA journal_mode=DELETE")
                problems = [row[0] for row in target.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise Invalid(f"the copy failed its integrity check: {'; '.join(problems[:5])}")
                rows, revision = _sqlite_rows(target)
            finally:
                target.close()
        finally:
            source.close()
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(destination, destination.stat().st_size, revision, rows)


def _sqlite_rows(connection: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    rows = {
        table.name: connection.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
        for table in tables()
        if table.name in names
    }
    revision = None
    if VERSION_TABLE in names:
        found = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = found[0] if found else None
    return rows, revision


# ---- copy ------------------------------------------------------------------------------------


class SchemaMismatch(Conflict):
    """The source database's schema is not the one this code's migrations end at."""


class TargetNotEmpty(Conflict):
    """The target database already holds rows."""


class TargetUnreachable(LabelwiseError):
    """The target database cannot be reached (a closed port, an unknown host or database, a
    refused password, a SQLite file that cannot be made)."""

    code, status = "DATABASE_UNAVAILABLE", 503


@contextmanager
def _target_errors(url: str) -> Iterator[None]:
    try:
        yield
    except LabelwiseError:
        raise
    except Exception as exc:
        error = unreachable(exc)
        if error is None:
            raise
        reason = f"{type(error).__name__}: {error}".strip()
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise TargetUnreachable(
            f"cannot reach the target database at {masked(url)} ({reason}); is the URL right, does the "
            "database exist, and is its server running?"
        ) from exc


@dataclass
class CopyReport:
    source: str  # masked URLs
    target: str
    revision: str
    rows: dict[str, int] = field(default_factory=dict)  # per table, as counted on the target

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _head() -> tuple[str, Any]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head, script


def _known(script: Any, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _snapshot_engine(url: str) -> AsyncEngine:
    """An engine whose transactions read one snapshot of the source. SQLite's driver begins a
    transaction only before a write, so each SELECT would see its own moment; here BEGIN comes
    first. PostgreSQL: REPEATABLE READ, READ ONLY."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = make_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_implicit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return make_engine(url, isolation_level="REPEATABLE READ")


async def _revision(connection: AsyncConnection) -> str | None:
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    if VERSION_TABLE not in names:
        return None
    found = (await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).first()
    return found[0] if found else None


async def _check_source(connection: AsyncConnection, url: str) -> str:
    head, script = _head()
    revision = await _revision(connection)
    if revision is None:
        raise SchemaMismatch(f"the database at {masked(url)} holds no Labelwise tables: nothing to copy")
    if not _known(script, revision):
        raise SchemaMismatch(
            f"the database at {masked(url)} is at migration {revision}, which this version of "
            f"Labelwise does not know (a newer version wrote it; this one ends at {head}): "
            "copy it with the newer version"
        )
    if revision != head:
        raise SchemaMismatch(
            f"the database at {masked(url)} is at migration {revision}, behind this version's {head}: "
            "run `labelwise migrate` first (after a backup), then copy"
        )
    return head


async def _first_filled_table(connection: AsyncConnection) -> str | None:
    """The first of the schema's tables (those that exist) holding a row, or None."""
    names = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    for table in tables():
        if (
            table.name in names
            and (await connection.execute(select(text("1")).select_from(table).limit(1))).first()
        ):
            return table.name
    return None


async def _check_target(url: str, head: str) -> None:
    """Refuse, before changing anything, a target that holds rows or that newer code migrated."""
    _, script = _head()
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            filled = await _first_filled_table(connection)
            if filled is not None:
                raise TargetNotEmpty(
                    f"the target database {masked(url)} is not empty (table {filled} holds rows); "
                    "copy into a new, empty database"
                )
            revision = await _revision(connection)
            if revision is not None and not _known(script, revision):
                raise SchemaMismatch(
                    f"the target database {masked(url)} is at migration {revision}, which this version "
                    f"of Labelwise (at {head}) does not know"
                )
    finally:
        await engine.dispose()


async def _next_ids(connection: AsyncConnection) -> dict[str, int]:
    """Per table, the last id its sequence handed out (deleted rows' ids included)."""
    dialect = connection.dialect.name
    found: dict[str, int] = {}
    if dialect == "sqlite":
        exists = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        if (await connection.execute(text(exists))).first():
            for name, seq in await connection.execute(text("SELECT name, seq FROM sqlite_sequence")):
                found[name] = int(seq)
    elif dialect == "postgresql":
        for table in tables():
            column = _serial_column(table)
            if column is None:
                continue
            sequence = (
                await connection.execute(
                    text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": table.name, "column": column},
                )
            ).scalar()
            if sequence:
                last, called = (
                    await connection.execute(text(f"SELECT last_value, is_called FROM {sequence}"))
                ).one()
                found[table.name] = int(last) if called else int(last) - 1
    return found


def _serial_column(table: Table) -> str | None:
    """The one integer primary key column that the database numbers, or None."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1 or columns[0].foreign_keys:
        return None
    try:
        python_type = columns[0].type.python_type
    except NotImplementedError:
        return None
    return columns[0].name if python_type is int else None


async def _continue_sequences(connection: AsyncConnection, last_ids: dict[str, int]) -> None:
    """New rows on the target get ids after every id the source handed out."""
    dialect = connection.dialect.name
    for table in tables():
        column = _serial_column(table)
        if column is None:
            continue
        highest = (await connection.execute(select(func.max(table.c[column])))).scalar() or 0
        last = max(int(highest), last_ids.get(table.name, 0))
        if dialect == "postgresql":
            sequence = (
                await connection.execute(
                    text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": table.name, "column": column},
                )
            ).scalar()
            if sequence:
                # is_called false: the next nextval() returns ``last + 1`` (1 on an empty table).
                await connection.execute(
                    text("SELECT setval(CAST(:sequence AS regclass), :value, false)"),
                    {"sequence": sequence, "value": last + 1},
                )
        elif dialect == "sqlite" and table.name in last_ids:
            # AUTOINCREMENT tables: sqlite_sequence already holds the highest id inserted.
            await connection.execute(
                text("UPDATE sqlite_sequence SET seq = :last WHERE name = :name AND seq < :last"),
                {"last": last, "name": table.name},
            )


async def _copy_table(
    source: AsyncConnection, target: AsyncConnection, table: Table, count: int, progress: Progress | None
) -> None:
    order = list(table.primary_key.columns)
    done = 0
    if progress is not None:
        progress(table.name, done, count)
    if not count:
        return
    result = await source.stream(select(table).order_by(*order).execution_options(yield_per=BATCH_ROWS))
    strict_json = [c.name for c in table.columns if isinstance(c.type, JSON)]
    if target.dialect.name != "postgresql":
        strict_json = []
    async for batch in result.partitions(BATCH_ROWS):
        rows = [dict(row._mapping) for row in batch]
        for row in rows:
            _check_json(table, order, row, strict_json)
        try:
            await target.execute(insert(table), rows)
        except Exception as exc:
            first = ", ".join(f"{column.name}={rows[0][column.name]}" for column in order)
            raise CopyFailed(
                f"the target refused rows of table {table.name} (from {first}): "
                f"{type(exc).__name__}: {_first_line(exc)}; nothing was kept on the target"
            ) from exc
        done += len(rows)
        if progress is not None:
            progress(table.name, done, count)


def _check_json(table: Table, order: list[Any], row: dict[str, Any], columns: list[str]) -> None:
    """PostgreSQL's JSON holds no NaN or infinity, which SQLite's text kept (a stale job's
    parameter): name the row instead of the driver's "Token NaN is invalid" for a whole batch."""
    for name in columns:
        try:
            json.dumps(row[name], allow_nan=False)
        except ValueError:
            where = ", ".join(f"{column.name}={row[column.name]}" for column in order)
            raise CopyFailed(
                f"table {table.name}, row {where}: column {name} holds NaN or infinity, which "
                "PostgreSQL's JSON cannot hold; change or delete that row in the source first "
                "(nothing was kept on the target)"
            ) from None


def _first_line(exc: BaseException) -> str:
    """The database's own words: SQLAlchemy's adapted asyncpg errors read "<class '...'>: text"."""
    origin = getattr(exc, "orig", None) or exc
    said = re.sub(r"^<class '[^']*'>:\s*", "", str(origin).strip())
    return said.splitlines()[0] if said else type(origin).__name__


class CopyFailed(Conflict):
    """The target refused a row, or the counts differ at the end."""


DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def check_target_url(url: str) -> None:
    """A URL Labelwise can talk to: SQLite through aiosqlite, PostgreSQL through asyncpg. The
    text is never repeated when it does not parse (it may hold a password)."""
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise Invalid(
            "the target is not a database URL; write it as postgresql+asyncpg://user@host:5432/name "
            "or sqlite+aiosqlite:///path/to/file.sqlite"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    wanted = DRIVERS.get(backend)
    if wanted is None:
        raise Invalid(f"a target database is SQLite or PostgreSQL, not {backend}")
    if f"{backend}+{driver}" != wanted:
        raise Invalid(
            f"Labelwise talks to {backend} through {wanted.split('+')[1]}: write the target as "
            f"{parsed.set(drivername=wanted).render_as_string(hide_password=True)}"
        )


async def _copy(
    source_url: str, target_url: str, settings: Settings | None, progress: Progress | None
) -> CopyReport:
    check_target_url(target_url)
    if make_url(source_url) == make_url(target_url) or _same_file(source_url, target_url):
        raise Invalid("the target is the configured database itself; name another one")
    source_engine = _snapshot_engine(source_url)
    try:
        async with source_engine.connect() as source:
            if source.dialect.name == "postgresql":
                await source.execution_options(postgresql_readonly=True)
            await source.begin()
            head = await _check_source(source, source_url)
            counts = {
                table.name: int((await source.execute(select(func.count()).select_from(table))).scalar() or 0)
                for table in tables()
            }
            last_ids = await _next_ids(source)
            with _target_errors(target_url):
                await _check_target(target_url, head)
                await asyncio.to_thread(migrate.upgrade, target_url, "head", settings)
            target_engine = make_engine(target_url)
            try:
                async with target_engine.begin() as target:
                    filled = await _first_filled_table(target)
                    if filled is not None:  # written between the check and now
                        raise TargetNotEmpty(
                            f"the target database {masked(target_url)} is not empty "
                            f"(table {filled} holds rows)"
                        )
                    for table in tables():
                        await _copy_table(source, target, table, counts[table.name], progress)
                    await _continue_sequences(target, last_ids)
                async with target_engine.connect() as target:
                    copied = {
                        table.name: int(
                            (await target.execute(select(func.count()).select_from(table))).scalar() or 0
                        )
                        for table in tables()
                    }
            finally:
                await target_engine.dispose()
            await source.rollback()
    finally:
        await source_engine.dispose()
    differ = [f"{name} {counts[name]} -> {copied[name]}" for name in counts if counts[name] != copied[name]]
    if differ:
        raise CopyFailed(
            f"row counts differ after the copy: {', '.join(differ)}; do not use the target "
            "(drop and create it again before another try)"
        )
    return CopyReport(masked(source_url), masked(target_url), head, copied)


def _same_file(first: str, second: str) -> bool:
    a, b = sqlite_path(first), sqlite_path(second)
    return a is not None and b is not None and a.resolve() == b.resolve()


async def copy_database(
    source_url: str, target_url: str, settings: Settings | None = None, progress: Progress | None = None
) -> CopyReport:
    """Copy every row of the database at ``source_url`` into the empty one at ``target_url``,
    migrated to head first. Raises ``SchemaMismatch`` (the source is not at this code's head),
    ``TargetNotEmpty``, ``TargetUnreachable``, ``CopyFailed``, ``Invalid`` (a target URL it cannot
    use, or the source itself)."""
    return await _copy(source_url, target_url, settings, progress)


__all__ = [
    "BackupReport",
    "CopyFailed",
    "CopyReport",
    "NotSqlite",
    "SchemaMismatch",
    "TargetNotEmpty",
    "TargetUnreachable",
    "backup_sqlite",
    "copy_database",
    "masked",
    "pg_dump_command",
]
