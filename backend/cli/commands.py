"""The `labelwise` command line: serve, demo, migrate, datasets, export/import, openapi."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from backend.cli.common import MOMENT, _Bar, _migrate, _run
from backend.errors import LabelwiseError
from backend.settings import Settings, get_settings
from backend.storage.ids import stored_id


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from backend.accounts.local import refuse_unsafe_bind
    from backend.app import create_app
    from backend.serving import uvicorn_options

    _run(refuse_unsafe_bind, settings, host)  # no accounts: loopback only
    app = create_app(settings)
    click.echo(f"Labelwise is running at http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(app, **uvicorn_options(settings, host, port))


@click.group()
@click.version_option(package_name="labelwise")
def main() -> None:
    """Labelwise: label scientific image data sets with ML assistance."""


@main.command()
@click.option("--host", default=None, help="Address to bind (default LABELWISE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LABELWISE_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Apply pending migrations and serve the app."""
    settings = get_settings()
    _migrate(settings)
    _serve(settings, host or settings.host, port or settings.port)


@main.command()
@click.option("--host", default=None, help="Address to bind (default LABELWISE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LABELWISE_PORT or 8000).")
@click.option("--count", default=2000, show_default=True, help="Number of demo images to generate.")
@click.option("--no-serve", is_flag=True, help="Only make the demo data set.")
def demo(host: str | None, port: int | None, count: int, no_serve: bool) -> None:
    """Make the synthetic X-ray scattering demo data set (once) and serve the app."""
    from backend.demo import install_demo

    settings = get_settings()
    _migrate(settings)
    bar = _Bar("demo")

    async def work(session: Any, settings: Settings) -> Any:
        return await install_demo(session, settings, count=count, progress=bar)

    dataset = _run(work, settings)
    bar.close()
    click.echo(f"Demo dataset '{dataset.name}' is ready (ground truth kept apart in {settings.demo_dir}).")
    if not no_serve:
        _serve(settings, host or settings.host, port or settings.port)


@main.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    settings = get_settings()
    _migrate(settings)
    click.echo("database is up to date")


@main.group()
def dataset() -> None:
    """Create, list, extend, re-scan, rename and delete datasets."""


@dataset.command("add")
@click.argument("name")
@click.argument("sources", nargs=-1, required=True)
@click.option("--multi-label", is_flag=True, help="Items may hold several labels.")
@click.option("--api-key", envvar="LABELWISE_TILED_API_KEY", default=None, help="API key for Tiled sources.")
def dataset_add(name: str, sources: tuple[str, ...], multi_label: bool, api_key: str | None) -> None:
    """Make dataset NAME from folders (under the data roots) or Tiled URIs; extends it if it exists."""
    from backend.datasets import service

    settings = get_settings()
    _migrate(settings)
    bar = _Bar("scan")
    keys = dict.fromkeys(sources, api_key) if api_key else None

    async def work(session: Any, settings: Settings) -> str:
        try:
            existing = await service.get_dataset_by_name(session, name)
        except LabelwiseError:
            existing = None
        if existing is None:
            ds, report = await service.create_dataset(
                session, settings, name, list(sources), multi_label=multi_label, api_keys=keys, progress=bar
            )
            return f"dataset '{ds.name}' (id {ds.id}): {report.added} items, {report.unreadable} unreadable"
        added = unreadable = 0
        for spec in sources:
            report = await service.add_source(
                session, settings, stored_id(existing), spec, api_key=api_key, progress=bar
            )
            added += report.added
            unreadable += report.unreadable
        return f"dataset '{name}' extended: {added} items added, {unreadable} unreadable"

    message = _run(work, settings)
    bar.close()
    click.echo(message)


@dataset.command("list")
def dataset_list() -> None:
    """List datasets with their size and labeling progress."""
    from backend.datasets import service

    settings = get_settings()
    _migrate(settings)
    rows = _run(lambda session, settings: service.list_datasets(session), settings)
    if not rows:
        click.echo("no datasets yet")
    for row in rows:
        click.echo(
            f"{row.dataset.id:>5}  {row.dataset.name:<30} {row.item_count:>8} items  "
            f"{row.labeled_count:>8} labeled  {row.unreadable_count:>6} unreadable"
        )


@dataset.command("rescan")
@click.argument("name")
def dataset_rescan(name: str) -> None:
    """Pick up new files and mark vanished ones missing."""
    from backend.datasets import service

    settings = get_settings()
    _migrate(settings)
    bar = _Bar("rescan")

    async def work(session: Any, settings: Settings) -> Any:
        ds = await service.get_dataset_by_name(session, name)
        return await service.rescan_dataset(session, settings, stored_id(ds), progress=bar)

    report = _run(work, settings)
    bar.close()
    click.echo(
        f"{report.added} added, {report.missing} missing, {report.restored} back, "
        f"{report.unreadable} unreadable"
    )


@dataset.command("rename")
@click.argument("name")
@click.argument("new_name")
def dataset_rename(name: str, new_name: str) -> None:
    """Rename a dataset."""
    from backend.datasets import service

    settings = get_settings()

    async def work(session: Any, settings: Settings) -> None:
        ds = await service.get_dataset_by_name(session, name)
        await service.rename_dataset(session, stored_id(ds), new_name)

    _run(work, settings)
    click.echo(f"renamed '{name}' to '{new_name}'")


@dataset.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def dataset_delete(name: str, yes: bool) -> None:
    """Delete a dataset and its labels from the database (image files are never touched)."""
    from backend.datasets import service

    if not yes:
        click.confirm(f"Delete dataset '{name}' and all its labels?", abort=True)
    settings = get_settings()

    async def work(session: Any, settings: Settings) -> None:
        ds = await service.get_dataset_by_name(session, name)
        await service.delete_dataset(session, stored_id(ds))

    _run(work, settings)
    click.echo(f"deleted '{name}'")


@main.command("export")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet", "json", "zip"]), default="csv", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--as-of", type=MOMENT, default=None, help="Labels as they stood at this time (no zone: UTC).")
@click.option("--tagger", default=None, help="Only the labels this tagger's events add up to.")
@click.option("--labeled-only", is_flag=True, help="Leave out unlabeled items (CSV, Parquet, JSON).")
def export_cmd(
    name: str, fmt: str, output: Path, as_of: datetime | None, tagger: str | None, labeled_only: bool
) -> None:
    """Export the labels of dataset NAME (CSV, Parquet, JSON, or a ZIP of label folders).

    CSV and Parquet hold one row per (item, label); the ZIP one folder of images per label.
    """
    from tqdm import tqdm

    from backend.datasets import service
    from backend.labels.transfer import export_labels

    settings = get_settings()
    _migrate(settings)

    async def work(session: Any, settings: Settings) -> int:
        ds = await service.get_dataset_by_name(session, name)
        stream = await export_labels(
            session, settings, stored_id(ds), fmt, as_of=as_of, tagger=tagger, unlabeled=not labeled_only
        )
        written = 0
        tmp = output.with_name(output.name + ".part")
        try:
            with (
                tmp.open("wb") as handle,
                tqdm(unit="B", unit_scale=True, file=sys.stderr, desc="export") as bar,
            ):
                async for chunk in stream.chunks:
                    handle.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(output)  # a failed export never leaves a file that looks complete
        return written

    size = _run(work, settings)
    click.echo(f"wrote {output} ({size} bytes)")


@main.command("import")
@click.argument("name")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--create-classes", is_flag=True, help="Create label classes the file names but the dataset lacks."
)
def import_cmd(name: str, csv_file: Path, create_classes: bool) -> None:
    """Import labels from a CSV (item_id or uri, label) as one 'import' event."""
    from backend.datasets import service
    from backend.labels.transfer import import_labels_csv

    settings = get_settings()
    _migrate(settings)

    async def work(session: Any, settings: Settings) -> Any:
        ds = await service.get_dataset_by_name(session, name)
        return await import_labels_csv(
            session,
            stored_id(ds),
            csv_file.read_bytes(),
            settings.tagger,
            create_classes=create_classes,
            filename=csv_file.name,
            max_classes=settings.max_classes_per_dataset,
        )

    report = _run(work, settings)
    click.echo(f"{report.accepted} rows accepted, {len(report.refused)} refused")
    if report.unlabeled:
        click.echo(
            f"unlabeled {report.unlabeled} items that had labels (rows with an empty label clear them)"
        )
    if report.created_classes:
        click.echo(f"created classes: {', '.join(report.created_classes)}")
    for row in report.refused[:50]:
        click.echo(f"  line {row.line}: {row.reason}")
    if len(report.refused) > 50:
        click.echo(f"  ... and {len(report.refused) - 50} more refused lines")


@main.command()
@click.option("--write", is_flag=True, help="Write openapi/openapi.json and openapi/schema.graphql.")
@click.option("--check", is_flag=True, help="Exit 1 if the files differ from the live app.")
def openapi(write: bool, check: bool) -> None:
    """Export the OpenAPI document and the GraphQL SDL (kept in openapi/)."""
    from backend.api.graphql.schema import sdl
    from backend.api.openapi_export import openapi_text

    root = Path(__file__).resolve().parents[2] / "openapi"
    files = {root / "openapi.json": openapi_text(), root / "schema.graphql": sdl()}
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
    if write:
        root.mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text)
        click.echo(f"wrote {', '.join(p.name for p in files)}")
    elif check and stale:
        raise click.ClickException(f"out of date: {', '.join(stale)} (run `make openapi`)")
    elif not write:
        click.echo(files[root / "openapi.json"])


def _add_job_commands() -> None:
    from backend.cli.guided import add_guided_commands
    from backend.cli.jobs import jobs, worker

    main.add_command(jobs)
    main.add_command(worker)
    add_guided_commands(main)
    from backend.cli.stopping import add_stopping_commands  # stopping-estimate, auto-label-rest, keep-fresh

    add_stopping_commands(main)
    from backend.cli.revoke import add_revoke_commands  # labelwise undo / revoke

    add_revoke_commands(main)
    from backend.cli.features import add_feature_commands  # labelwise features report / suggest

    add_feature_commands(main)
    from backend.cli.next_actions import add_next_action_commands  # labelwise next-actions / accept

    add_next_action_commands(main)
    from backend.cli.accounts import add_account_commands  # labelwise user / token

    add_account_commands(main)
    from backend.cli.database import add_database_commands  # labelwise db backup / copy

    add_database_commands(main)


_add_job_commands()

if __name__ == "__main__":
    main()
