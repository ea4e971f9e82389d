"""What the `labelwise` commands share: running a domain call on a fresh connection, migrating,
progress bars, and following jobs (moved here from cli.py and cli_jobs.py unchanged)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from backend.errors import LabelwiseError
from backend.settings import Settings
from backend.storage.database import unreachable as _unreachable

T = TypeVar("T")


@contextmanager
def _database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached ends the command with one line naming it (password
    hidden) and the reason, instead of a driver traceback."""
    try:
        yield
    except (LabelwiseError, click.ClickException):
        raise  # the domain's own answer (a broker down is BROKER_UNAVAILABLE), whatever it wraps
    except Exception as exc:
        error = _unreachable(exc)
        if error is None:
            raise
        from sqlalchemy.engine import make_url

        url = make_url(settings.database)
        reason = f"{type(error).__name__}: {error}".strip()
        if url.password:
            reason = reason.replace(str(url.password), "***")
        raise click.ClickException(
            f"cannot reach the database at {url.render_as_string(hide_password=True)} ({reason}); "
            "is LABELWISE_DATABASE_URL right, and is the database server running?"
        ) from exc


def _run(work: Callable[..., Awaitable[T]], settings: Settings, *args: Any, **kwargs: Any) -> T:
    """Run one domain call with a fresh database connection; domain errors become clean exits."""
    from backend.storage.database import Database

    async def main() -> T:
        database = Database(settings.database)
        try:
            async with database.session() as session:
                return await work(session, settings, *args, **kwargs)
        finally:
            await database.dispose()

    try:
        with _database_errors(settings):
            return asyncio.run(main())
    except LabelwiseError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except OSError as exc:  # a full disk, a refused permission: say so, without a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"{exc.strerror or exc}{where}") from exc


class _Bar:
    """A tqdm progress bar fed by the domain's (done, total) callbacks."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="file", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _migrate(settings: Settings) -> None:
    from backend.storage import migrate

    settings.ensure_dirs()
    with _database_errors(settings):
        migrate.upgrade(settings.database, settings=settings)


FINISHED = ("succeeded", "failed", "canceled")


def _call(settings: Settings, work: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run ``work(session, *args)`` on a fresh connection; domain errors become clean exits."""
    from backend.storage.database import Database

    async def main() -> T:
        database = Database(settings.database)
        try:
            async with database.session() as session:
                return await work(session, *args, **kwargs)
        finally:
            await database.dispose()

    try:
        with _database_errors(settings):
            return asyncio.run(main())
    except LabelwiseError as exc:
        problems = exc.details.get("errors") if isinstance(exc.details, dict) else None
        lines = [f"{exc.code}: {exc.message}"]
        if problems:
            lines += [f"  - {p['field'] or '(parameters)'}: {p['message']}" for p in problems]
        raise click.ClickException("\n".join(lines)) from exc


def _prepare(settings: Settings) -> None:
    _migrate(settings)


def _parse_params(schema: dict[str, Any], pairs: tuple[str, ...], as_json: str | None) -> dict[str, Any]:
    """``--param name=value`` pairs typed by the schema, over ``--params-json``."""
    from backend.algorithms.forms import parse_text_params
    from backend.errors import Invalid

    params: dict[str, Any] = json.loads(as_json) if as_json else {}
    texts = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"'{pair}' is not name=value", param_hint="--param")
        texts[name.strip()] = value
    typed, problems = parse_text_params(schema, texts)
    if problems:
        raise Invalid("; ".join(str(p["message"]) for p in problems), errors=problems)
    params.update(typed)
    return params


def _line(job: Any) -> str:
    """One job in a listing; it names what the job runs ("project umap of model 5 (pca)"), not its
    algorithm, which for a task is its model's."""
    from backend.jobs.naming import job_title

    progress = f"{job.done}/{job.total}" if job.total else "-"
    epoch = f"epoch {job.epoch}/{job.epochs}" if job.epoch else ""
    return (
        f"{job.id:>6}  {job_title(job):<28} {job.state:<10} {progress:>12} {epoch:<14} "
        f"model {job.model_id or '-'}"
    )


def _enqueuer(settings: Settings) -> Any:
    """The broker's enqueue with Redis; None with the embedded broker (the server picks jobs up)."""
    if not settings.broker_url:
        return None
    from workers.runtime import JobRuntime

    return JobRuntime(settings).enqueue


def _worker_presence(settings: Settings) -> Any:
    """Whether a worker consumes the queue (``backend/jobs/presence.py``); None when unknown."""
    from backend.jobs.presence import WorkerPresence

    if not settings.broker_url:
        return WorkerPresence(embedded=True)
    from workers.broker import make_broker
    from workers.liveness import presence_of

    broker = make_broker(settings)
    try:
        return presence_of(broker, settings)
    finally:
        broker.close()


def _no_worker_notes(settings: Settings, jobs: list[Any]) -> dict[int, str]:
    """The note of each queued job that no worker will pick up (none asked for without one queued)."""
    from backend.jobs import states
    from backend.jobs.presence import no_worker_note

    if not settings.broker_url or not any(job.state == states.QUEUED for job in jobs):
        return {}
    workers = _worker_presence(settings)
    return {job.id: note for job in jobs if (note := no_worker_note(job, workers, settings))}


def _wait(settings: Settings, job_id: int, run_here: bool) -> Any:
    """Follow a job to its end with a progress bar; with ``run_here`` also run jobs in process."""
    from tqdm import tqdm

    from backend.jobs import queries as job_queries

    runtime = None
    if run_here and not settings.broker_url:
        from workers.runtime import JobRuntime

        runtime = JobRuntime(settings).start()
    bar = tqdm(desc=f"job {job_id}", unit="item", file=sys.stderr, dynamic_ncols=True)
    told, next_look = False, 0.0
    try:
        while True:
            job = _call(settings, job_queries.get_job, job_id)
            if not told and time.monotonic() >= next_look:  # said once; Redis asked every 5 s
                next_look = time.monotonic() + 5.0
                note = _no_worker_notes(settings, [job]).get(job_id)
                if note:
                    told = True
                    bar.write(f"job {job_id} is queued but {note}", file=sys.stderr)
            bar.total = job.total or None
            bar.n = job.done
            bar.set_postfix_str(f"{job.state}" + (f" epoch {job.epoch}/{job.epochs}" if job.epoch else ""))
            if job.state in FINISHED:
                return job
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo(f"\nstopped waiting; job {job_id} goes on (see `labelwise jobs show {job_id}`)", err=True)
        raise SystemExit(130) from None
    finally:
        bar.close()
        if runtime is not None:
            runtime.stop()


def _report(job: Any) -> None:
    click.echo(_line(job))
    if job.state == "failed":
        raise click.ClickException(f"job {job.id} failed: {job.error}")


class _Moment(click.ParamType):
    """A time option read as REST and GraphQL read times (``parse_time``: ISO 8601, a date alone,
    a zone or none for UTC), so one text means one moment at every door."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from backend.api.common import parse_time

        if not isinstance(value, str):
            return value
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = _Moment()
