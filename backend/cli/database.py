"""`labelwise db backup FILE` and `labelwise db copy --to URL` (the work: backend/storage/backup.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import click

from backend.cli.common import _database_errors
from backend.errors import LabelwiseError
from backend.settings import get_settings

DATA_DIR_NOTE = (
    "Files are not in the database: model files, vectors and indexes stay in the data directory "
    "({data_dir}), and Tiled keys are encrypted with the secret key (LABELWISE_SECRET_KEY, or "
    "secret.key in that directory). Run the server on the {what} with the same data directory "
    "(or a copy of it) and the same secret key."
)


@click.group("db")
def db() -> None:
    """Back the database up, or copy it whole to another (SQLite -> PostgreSQL)."""


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_cmd(file: Path) -> None:
    """Copy the SQLite database into FILE, safely while the server runs (PostgreSQL: use pg_dump)."""
    from backend.storage import backup

    settings = get_settings()
    try:
        report = backup.backup_sqlite(settings.database, file)
    except LabelwiseError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"{exc.strerror or exc}{where}") from exc
    except sqlite3.Error as exc:  # a locked or damaged database: one line, no traceback
        raise click.ClickException(f"cannot back the database up: {exc}") from exc
    rows = sum(report.rows.values())
    click.echo(
        f"wrote {report.path} ({report.size} bytes, {rows} rows, migration {report.revision or '-'}); "
        "restore it by stopping the server, putting it in place of the database file and deleting "
        "that file's -wal and -shm files"
    )
    click.echo(DATA_DIR_NOTE.format(data_dir=settings.data_dir, what="restored database"))


@db.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The database to fill, empty (e.g. postgresql+asyncpg://user@host/labelwise).",
)
def copy_cmd(target: str) -> None:
    """Copy every table of the configured database into an empty one (migrated to head first).

    The configured database is only read, in one snapshot; stop the server first, or what it
    writes after the copy began stays behind."""
    from tqdm import tqdm

    from backend.storage import backup

    settings = get_settings()
    bars: dict[str, tqdm] = {}

    def progress(table: str, done: int, total: int) -> None:
        bar = bars.get(table)
        if bar is None:
            bar = bars[table] = tqdm(desc=table, total=total, unit="row", leave=False, dynamic_ncols=True)
        bar.n = done
        bar.refresh()

    try:
        with _database_errors(settings):
            report = asyncio.run(backup.copy_database(settings.database, target, settings, progress))
    except LabelwiseError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(
        f"copied {report.total} rows from {report.source} to {report.target} (migration {report.revision})"
    )
    for name, count in report.rows.items():
        click.echo(f"  {name:<16} {count:>10}")
    click.echo("row counts checked: the target holds what the source held")
    click.echo(DATA_DIR_NOTE.format(data_dir=settings.data_dir, what="target"))
    click.echo("Then point LABELWISE_DATABASE_URL at the target.")


def add_database_commands(main: click.Group) -> None:
    main.add_command(db)
