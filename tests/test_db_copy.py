"""`labelwise db backup` (a consistent copy of SQLite while the server writes) and `labelwise db copy`
(the whole database to another: SQLite -> PostgreSQL, refusals, masked passwords)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, func, select, text
from sqlmodel import SQLModel

from backend.accounts import service as accounts
from backend.labels import events
from backend.labels.events import TagRequest
from backend.settings import Settings
from backend.storage import migrate
from backend.storage.database import Database
from backend.storage.job_tables import Job, JobLog, JobMetric, Model
from backend.storage.tables import CurrentLabel, Tag, TagEvent
from tests.helpers.cli import invoke
from tests.helpers.database import empty_postgres_database
from tests.helpers.labels import assert_consistent, cat_dog_dataset

API = "/api/v1"


def _env(settings: Settings) -> dict[str, str]:
    return {
        "LABELWISE_DATA_DIR": str(settings.data_dir),
        "LABELWISE_DATABASE_URL": settings.database,
        "LABELWISE_DATA_ROOTS": settings.data_roots,
    }


async def _labelwise(settings: Settings, *args: str) -> Any:
    return await invoke(CliRunner(env=_env(settings)), list(args))


@pytest.fixture
async def source(tmp_path: Path, settings: Settings) -> AsyncIterator[tuple[Settings, Database]]:
    """An embedded SQLite installation of its own (whatever database the suite runs on)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'source.sqlite'}"
    mine = settings.model_copy(update={"database_url": url, "data_dir": tmp_path / "data"})
    mine.ensure_dirs()
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    yield mine, database
    await database.dispose()


async def _fill(database: Database, settings: Settings, folder: Path) -> dict[str, Any]:
    """A week of labeling: classes, events (one undone), models (one deleted), jobs with metrics
    and logs, an account with a token."""
    async with database.session() as session:
        dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder, count=8)
        await events.record_event(session, TagRequest(dataset.id, "ann", ids[:3], cat.id))
        await events.record_event(
            session,
            TagRequest(
                dataset.id, "bob", ids[3:6], dog.id, kind="similarity", parameters={"k": 3, "q": [0.5]}
            ),
        )
        await events.record_event(session, TagRequest(dataset.id, "ann", ids[5:6], cat.id))
        when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
        kept = Model(
            name="ae",
            algorithm="autoencoder",
            kind="feature_extractor",
            parameters={"epochs": 3, "lr": 0.001, "nested": {"a": [1, None, "x"]}},
            dataset_id=dataset.id,
            state="ready",
            artifact_path="models/1",
            summary={"loss": 0.25},
            created_at=when,
            ready_at=when + timedelta(minutes=5),
        )
        dropped = Model(name="old", algorithm="pca", kind="feature_extractor", dataset_id=dataset.id)
        session.add_all([kept, dropped])
        await session.commit()
        job = Job(
            kind="train",
            state="succeeded",
            algorithm="autoencoder",
            parameters={"epochs": 3},
            dataset_id=dataset.id,
            model_id=kept.id,
            cancel_requested=True,
            chain=True,
            followed_up=True,
            outputs={"dir": "jobs/1", "files": ["vectors.npy"]},
            started_at=when,
            finished_at=when + timedelta(seconds=90),
        )
        session.add(job)
        await session.commit()
        session.add_all(
            [
                JobMetric(job_id=job.id, epoch=1, metrics={"loss": 0.5}),
                JobLog(job_id=job.id, message="started"),
            ]
        )
        await session.execute(delete(Model).where(Model.id == dropped.id))  # its id is never reused
        await session.commit()
        user = await accounts.add_user(session, "ann", "admin")
        _, secret = await accounts.create_token(session, user.id, "laptop")
        return {
            "dataset": dataset.id,
            "ids": ids,
            "cat": cat.id,
            "dropped_model": dropped.id,
            "token": secret,
        }


async def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, through the tables' own types, in primary-key order."""
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in await connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        await database.dispose()


# ---- backup -------------------------------------------------------------------------------------


async def test_backup_while_a_session_writes_is_a_consistent_copy(source, folder, tmp_path):
    settings, database = source
    made = await _fill(database, settings, folder)
    stop = asyncio.Event()
    written = [0]

    async def tagger() -> None:  # the server, labeling on while the backups run
        async with database.session() as session:
            while not stop.is_set():
                ids = made["ids"]
                await events.record_event(
                    session, TagRequest(made["dataset"], "writer", [ids[written[0] % len(ids)]], made["cat"])
                )
                written[0] += 1
                await asyncio.sleep(0)

    writer = asyncio.create_task(tagger())
    copies = []
    try:
        while written[0] < 5:
            await asyncio.sleep(0.01)
        for n in range(4):
            copies.append(tmp_path / f"backup-{n}.sqlite")
            result = await _labelwise(settings, "db", "backup", str(copies[-1]))
            assert result.exit_code == 0, result.output
            assert f"wrote {copies[-1]}" in result.output
            assert str(settings.data_dir) in result.output  # the files to keep with it
    finally:
        stop.set()
        await writer
    assert written[0] > 5
    counts = []
    for copy in copies:
        assert copy.stat().st_mode & 0o077 == 0  # password hashes: the owner's only
        assert not Path(f"{copy}-wal").exists()  # one self-contained file
        with sqlite3.connect(copy) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        url = f"sqlite+aiosqlite:///{copy}"
        backup = Database(url)
        try:
            async with backup.session() as session:
                await assert_consistent(session, made["dataset"])  # labels = what its events replay to
                counts.append(await session.scalar(select(func.count()).select_from(TagEvent)))
        finally:
            await backup.dispose()
    assert counts == sorted(counts) and counts[0] >= 3 + 5  # each later than the one before
    # The writer stopped: a last backup is the source, row for row.
    final = tmp_path / "final.sqlite"
    assert (await _labelwise(settings, "db", "backup", str(final))).exit_code == 0
    assert await _rows(f"sqlite+aiosqlite:///{final}") == await _rows(settings.database)


async def test_backup_never_overwrites_a_file(source, tmp_path):
    settings, _ = source
    there = tmp_path / "there.sqlite"
    there.write_bytes(b"keep me")
    result = await _labelwise(settings, "db", "backup", str(there))
    assert result.exit_code == 1 and "exists" in result.output
    assert there.read_bytes() == b"keep me"


async def test_backup_of_postgresql_names_pg_dump_without_the_password(settings, tmp_path):
    url = "postgresql+asyncpg://lab:s3cretpw@db.example:5433/labelwise"
    result = await invoke(CliRunner(env={"LABELWISE_DATABASE_URL": url}), ["db", "backup", "out.dump"])
    assert result.exit_code == 1
    assert (
        "pg_dump --format=custom --file=out.dump --host=db.example --port=5433 --username=lab labelwise"
        in (result.output)
    )
    assert "s3cretpw" not in result.output and "lab:***@db.example" in result.output
    spaced = await invoke(CliRunner(env={"LABELWISE_DATABASE_URL": url}), ["db", "backup", "my backup.dump"])
    assert "'--file=my backup.dump'" in spaced.output  # one word for the shell


# ---- copy ---------------------------------------------------------------------------------------


@pytest.fixture
async def pg_target() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (skipped where no PostgreSQL answers; CI has one)."""
    async with empty_postgres_database("labelwise_copy") as url:
        yield url


async def test_copy_to_postgresql_moves_everything_and_the_app_goes_on_there(source, folder, pg_target):
    settings, database = source
    made = await _fill(database, settings, folder)
    result = await _labelwise(settings, "db", "copy", "--to", pg_target)
    assert result.exit_code == 0, result.output
    assert "row counts checked" in result.output and str(settings.data_dir) in result.output

    before, after = await _rows(settings.database), await _rows(pg_target)
    assert after == before  # every table, row for row: JSON, zoned times and booleans intact
    assert {name for name, rows in after.items() if not rows} <= {"rejection", "signin_session"}
    job = after["job"][0]
    assert job["cancel_requested"] is True and job["chain"] is True
    assert job["started_at"] == datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert after["model"][0]["parameters"]["nested"] == {"a": [1, None, "x"]}

    target = settings.model_copy(update={"database_url": pg_target})
    from backend.app import create_app

    headers = {"Authorization": f"Bearer {made['token']}"}  # the account and its token came along
    base = f"{API}/datasets/{made['dataset']}"
    async with AsyncTestClient(app=create_app(settings)) as old:
        expected = (await old.get(f"{base}/labels", headers=headers)).json()
    async with AsyncTestClient(app=create_app(target)) as new:
        response = await new.get(f"{base}/labels", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == expected
        label = made["ids"][7]
        response = await new.post(
            f"{base}/tags", json={"item_ids": [label], "label_id": made["cat"]}, headers=headers
        )
        assert response.status_code == 201, response.text
    copied = await _rows(pg_target)
    assert copied["tag_event"][-1]["id"] == before["tag_event"][-1]["id"] + 1  # a fresh id, no clash
    assert copied["tag"][-1]["id"] == before["tag"][-1]["id"] + 1
    assert {r["item_id"] for r in copied["current_label"]} == {
        r["item_id"] for r in before["current_label"]
    } | {label}
    # A new model continues after the deleted one (model ids name artifact directories).
    target_db = Database(pg_target)
    try:
        async with target_db.session() as session:
            model = Model(name="n", algorithm="pca", kind="feature_extractor", dataset_id=made["dataset"])
            session.add(model)
            await session.commit()
            assert model.id == made["dropped_model"] + 1
    finally:
        await target_db.dispose()


async def test_copy_refuses_a_target_that_holds_data(source, folder, tmp_path, settings):
    mine, database = source
    await _fill(database, mine, folder)
    other = tmp_path / "other"
    other.mkdir()
    target_url = f"sqlite+aiosqlite:///{tmp_path / 'target.sqlite'}"
    await asyncio.to_thread(migrate.upgrade, target_url)
    target = Database(target_url)
    try:
        async with target.session() as session:
            await accounts.add_user(session, "someone", "admin")
    finally:
        await target.dispose()
    before = await _rows(target_url)
    result = await _labelwise(mine, "db", "copy", "--to", target_url)
    assert result.exit_code == 1
    assert "not empty (table user_account holds rows)" in result.output
    assert await _rows(target_url) == before


async def test_copy_into_an_empty_sqlite_file_and_sequences_go_on(source, folder, tmp_path):
    settings, database = source
    made = await _fill(database, settings, folder)
    target_url = f"sqlite+aiosqlite:///{tmp_path / 'copy.sqlite'}"
    result = await _labelwise(settings, "db", "copy", "--to", target_url)
    assert result.exit_code == 0, result.output
    assert await _rows(target_url) == await _rows(settings.database)
    target = Database(target_url)
    try:
        async with target.session() as session:
            model = Model(name="n", algorithm="pca", kind="feature_extractor", dataset_id=made["dataset"])
            session.add(model)
            await session.commit()
            assert model.id == made["dropped_model"] + 1
            await assert_consistent(session, made["dataset"])
            assert await session.scalar(select(func.count()).select_from(Tag)) > 0
            assert await session.scalar(select(func.count()).select_from(CurrentLabel)) > 0
    finally:
        await target.dispose()


async def test_copy_to_an_unreachable_target_says_so_with_the_password_masked(source):
    settings, _ = source
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://lab:s3cretpw@127.0.0.1:{port}/labelwise"
    result = await _labelwise(settings, "db", "copy", "--to", url)
    assert result.exit_code == 1
    shown = f"postgresql+asyncpg://lab:***@127.0.0.1:{port}/labelwise"
    assert f"cannot reach the target database at {shown}" in result.output
    assert "s3cretpw" not in result.output


async def test_copy_refuses_a_source_newer_than_the_code(source, tmp_path):
    settings, database = source
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    target = tmp_path / "t.sqlite"
    result = await _labelwise(settings, "db", "copy", "--to", f"sqlite+aiosqlite:///{target}")
    assert result.exit_code == 1
    assert "at migration 9999_from_the_future, which this version of Labelwise does not know" in result.output
    assert not target.exists()


async def test_copy_to_postgresql_names_a_json_nan_and_leaves_the_target_empty(source, folder, pg_target):
    settings, database = source
    made = await _fill(database, settings, folder)
    async with database.session() as session:
        stale = Job(
            kind="train", algorithm="autoencoder", parameters={"lr": float("nan")}, dataset_id=made["dataset"]
        )
        session.add(stale)
        await session.commit()
        stale_id = stale.id
    result = await _labelwise(settings, "db", "copy", "--to", pg_target)
    assert result.exit_code == 1
    assert f"table job, row id={stale_id}: column parameters holds NaN or infinity" in result.output
    assert all(rows == [] for rows in (await _rows(pg_target)).values())  # one transaction: nothing kept


async def test_copy_back_from_postgresql_to_sqlite_keeps_every_row_and_the_sequences(
    source, folder, pg_target, tmp_path
):
    settings, database = source
    made = await _fill(database, settings, folder)
    assert (await _labelwise(settings, "db", "copy", "--to", pg_target)).exit_code == 0
    on_postgres = settings.model_copy(update={"database_url": pg_target})
    back = f"sqlite+aiosqlite:///{tmp_path / 'back.sqlite'}"
    result = await _labelwise(on_postgres, "db", "copy", "--to", back)
    assert result.exit_code == 0, result.output
    assert await _rows(back) == await _rows(settings.database)
    target = Database(back)
    try:
        async with target.session() as session:
            model = Model(name="n", algorithm="pca", kind="feature_extractor", dataset_id=made["dataset"])
            session.add(model)
            await session.commit()
            assert model.id == made["dropped_model"] + 1  # PostgreSQL's sequence said so
    finally:
        await target.dispose()


async def test_a_row_postgresql_refuses_is_named_in_the_databases_words(source, folder, pg_target):
    settings, database = source
    made = await _fill(database, settings, folder)
    async with database.engine.begin() as connection:  # SQLite does not hold VARCHAR(7) to 7
        await connection.execute(
            text("UPDATE label_class SET color = '#ff0000-and-more' WHERE id = :id"), {"id": made["cat"]}
        )
    result = await _labelwise(settings, "db", "copy", "--to", pg_target)
    assert result.exit_code == 1
    assert "the target refused rows of table label_class (from id=" in result.output
    assert "value too long for type character varying(7)" in result.output
    assert "<class" not in result.output
    assert all(rows == [] for rows in (await _rows(pg_target)).values())


async def test_backup_of_a_database_named_by_a_relative_path(source, tmp_path, monkeypatch):
    settings, _ = source
    monkeypatch.chdir(tmp_path)  # the source fixture's file is tmp_path / "source.sqlite"
    relative = settings.model_copy(update={"database_url": "sqlite+aiosqlite:///source.sqlite"})
    result = await _labelwise(relative, "db", "backup", "copy.sqlite")
    assert result.exit_code == 0, result.output
    assert await _rows(f"sqlite+aiosqlite:///{tmp_path / 'copy.sqlite'}") == await _rows(settings.database)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql://lab:s3cretpw@db.example/labelwise",
            "postgresql+asyncpg://lab:***@db.example/labelwise",
        ),
        ("lab:s3cretpw@db.example", "is not a database URL"),
        ("mysql://lab:s3cretpw@db.example/labelwise", "SQLite or PostgreSQL, not mysql"),
    ],
)
async def test_copy_says_how_to_write_a_target_url_it_cannot_use(source, url, said):
    settings, _ = source
    result = await _labelwise(settings, "db", "copy", "--to", url)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # one line, no traceback
    assert said in result.output and "s3cretpw" not in result.output


async def test_copy_refuses_a_source_behind_the_code_and_leaves_both_alone(source, tmp_path):
    settings, database = source
    await database.dispose()
    from alembic import command
    from alembic.script import ScriptDirectory

    config = migrate.alembic_config(settings.database)
    head = ScriptDirectory.from_config(config).get_revision("head")
    await asyncio.to_thread(command.downgrade, config, head.down_revision)
    target = tmp_path / "t.sqlite"
    result = await _labelwise(settings, "db", "copy", "--to", f"sqlite+aiosqlite:///{target}")
    assert result.exit_code == 1
    said = (
        f"at migration {head.down_revision}, behind this version's {head.revision}: run `labelwise migrate`"
    )
    assert said in result.output
    assert not target.exists()
    with sqlite3.connect(settings.database.split("///", 1)[1]) as check:  # not migrated behind one's back
        assert check.execute("SELECT version_num FROM alembic_version").fetchone() == (head.down_revision,)
