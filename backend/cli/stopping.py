"""`labelwise stopping-estimate`, `labelwise auto-label-rest` and `labelwise keep-fresh`: where to
stop and keeping models fresh, through the same domain calls as REST and GraphQL."""

from __future__ import annotations

import json
from typing import Any

import click

from backend.cli.common import _call, _prepare
from backend.settings import get_settings
from backend.storage.ids import stored_id


def _estimate_text(e: Any) -> str:
    lines = [f"{e.unlabeled} unlabeled, {e.labeled} labeled items"]
    if e.model_id is None:
        return "\n".join([*lines, e.reason])
    accuracy = "unknown" if e.expected_accuracy is None else f"{e.expected_accuracy:.1%}"
    at = f"{e.auto_label_count} items at p >= {e.threshold:g}"
    lines.append(f"model {e.model_id}: {at}, expected accuracy {accuracy}")
    lines += [f"  with {k} more labels: {a:.1%}" for k, a in e.with_more_labels]
    return "\n".join([*lines, e.reason])


@click.command("stopping-estimate")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--threshold", type=float, default=None, help="p of 'auto-label the rest at >= p' (0.9).")
@click.option(
    "--model", "model_id", type=int, default=None, help="A classifier (default: the newest fit one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def stopping_estimate_cmd(
    dataset_name: str, threshold: float | None, model_id: int | None, as_json: bool
) -> None:
    """How many items of DATASET are left and how well they would be auto-labeled now."""
    from backend.datasets.service import get_dataset_by_name
    from backend.guided.stopping import stopping_estimate

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await stopping_estimate(
            session, settings, stored_id(dataset), threshold=threshold, model_id=model_id
        )

    estimate = _call(settings, work)
    click.echo(json.dumps(estimate.as_dict(), indent=2) if as_json else _estimate_text(estimate))


@click.command("auto-label-rest")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--model", "model_id", type=int, required=True, help="A classifier with probabilities.")
@click.option("--threshold", type=float, required=True, help="Label items whose top probability is >= this.")
@click.option(
    "--expected-count", type=int, default=None, help="Refuse when the batch is no longer this size."
)
@click.option("--override-unfit", is_flag=True, help="Use a model the quality gate calls unfit.")
def auto_label_rest_cmd(
    dataset_name: str, model_id: int, threshold: float, expected_count: int | None, override_unfit: bool
) -> None:
    """Label the rest of DATASET at >= threshold as one revocable event."""
    from backend.datasets.service import get_dataset_by_name
    from backend.guided.stopping import auto_label_rest

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await auto_label_rest(
            session,
            settings,
            stored_id(dataset),
            model_id=model_id,
            threshold=threshold,
            tagger=settings.tagger,
            override_unfit=override_unfit,
            expected_count=expected_count,
        )

    result = _call(settings, work)
    click.echo(f"labeled {result.labeled} items in event #{result.event.id} (undo it to take them back)")
    if result.flagged:
        click.echo(f"{result.flagged} flagged by the batch guardrails are left for you to label")


@click.command("keep-fresh")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--on/--off", "on", default=None, help="Switch keeping the dataset's models fresh on or off.")
@click.option(
    "--growth", type=float, default=None, help="Retrain a classifier when labels grew by this fraction."
)
def keep_fresh_cmd(dataset_name: str, on: bool | None, growth: float | None) -> None:
    """Show or set whether the server keeps DATASET's models fresh (a running server follows up)."""
    from backend.datasets.service import get_dataset_by_name
    from backend.jobs.fresh import set_fresh

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await set_fresh(session, stored_id(dataset), keep_models_fresh=on, growth=growth)

    value = _call(settings, work)
    state = "on" if value.keep_models_fresh else "off"
    click.echo(f"keep models fresh: {state}; retrain classifiers when labels grow by {value.growth:.0%}")


def add_stopping_commands(main: click.Group) -> None:
    main.add_command(stopping_estimate_cmd)
    main.add_command(auto_label_rest_cmd)
    main.add_command(keep_fresh_cmd)
