"""`labelwise features report|suggest`: the feature report and the training suggestion from the
command line, through the same domain calls as REST, GraphQL and the pages."""

from __future__ import annotations

from typing import Any

import click

from backend.cli.common import _call, _enqueuer, _prepare, _report, _wait
from backend.settings import get_settings
from backend.storage.ids import stored_id


@click.group("features")
def features() -> None:
    """Which features separate the labels best, and what to train next."""


def _print_report(report: Any) -> None:
    click.echo(report.explanation)
    if report.models:
        click.echo(
            f"{'model':>6}  {'algorithm':<16} {'kNN':>5} {'linear':>6}  {'balanced':>9}"
            "  weakest class (linear)"
        )
    for m in report.models:
        if m.get("skipped"):
            click.echo(f"{m['model_id']:>6}  {m['algorithm']:<16} skipped: {m['skipped']}")
            continue
        weakest = min(m["per_class"], key=lambda c: c["linear"])
        intensity = ""
        if m.get("score_with_intensity") is not None:
            intensity = f"  {'with' if m.get('with_intensity') else 'without'} intensity"
        click.echo(
            f"{m['model_id']:>6}  {m['algorithm']:<16} {m['knn_accuracy']:>5.0%} {m['linear_accuracy']:>6.0%}"
            f"  {m['knn_balanced']:>4.0%}/{m['linear_balanced']:<4.0%}"
            f"  {weakest['name']} {weakest['linear']:.0%}{intensity}"
            f"{'' if m.get('available') else '  (gone)'}"
        )
    for note in report.notes:
        click.echo(f"note: {note}")


@features.command("report")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--run", is_flag=True, help="Run a new report on the current labels first (and wait).")
def report_cmd(dataset_name: str, run: bool) -> None:
    """Print the newest feature report of a dataset (accuracies, balanced too; best model first)."""
    from backend.datasets.service import get_dataset_by_name
    from backend.feature_report import report, service

    settings = get_settings()
    _prepare(settings)
    if run:

        async def submit(session: Any) -> Any:
            dataset = await get_dataset_by_name(session, dataset_name)
            return await service.submit_report(
                session, settings, _enqueuer(settings), stored_id(dataset), submitted_by=settings.tagger
            )

        job = _call(settings, submit)
        _report(_wait(settings, job.id, run_here=True))

    async def read(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await report.latest_report(session, stored_id(dataset))

    _print_report(_call(settings, read))


@features.command("suggest")
@click.argument("dataset_name", metavar="DATASET")
def suggest_cmd(dataset_name: str) -> None:
    """What to train next on a dataset, and why."""
    from backend.datasets.service import get_dataset_by_name
    from backend.feature_report import service

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await service.suggest_training(session, stored_id(dataset))

    suggestion = _call(settings, work)
    click.echo(suggestion.reason)
    if suggestion.untrained:
        click.echo(f"not trained yet: {', '.join(suggestion.untrained)}")


def add_feature_commands(main: click.Group) -> None:
    main.add_command(features)
