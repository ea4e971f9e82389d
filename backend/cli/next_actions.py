"""`labelwise next-actions` and `labelwise accept-suggestion`: the next-best-action queue from the
command line, through the same domain calls as REST and GraphQL."""

from __future__ import annotations

import json
from typing import Any

import click

from backend.cli.common import _call, _enqueuer, _prepare
from backend.settings import get_settings
from backend.storage.ids import stored_id


def _as_json(found: Any) -> Any:
    """The REST answer's shape, from the REST module's own structs."""
    import msgspec

    from backend.api.rest.next_actions import NextActionsOut

    return msgspec.to_builtins(NextActionsOut.of(found))


@click.command("next-actions")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True, help="Most suggestions.")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON (the REST shape).")
def next_actions_cmd(dataset_name: str, limit: int, as_json: bool) -> None:
    """What to do next on DATASET, most expected labels per action first (with the keys to accept)."""
    from backend.datasets.service import get_dataset_by_name
    from backend.guided.next_actions import next_actions

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await next_actions(session, settings, int(dataset.id), limit=limit)  # type: ignore[arg-type]

    found = _call(settings, work)
    if as_json:
        click.echo(json.dumps(_as_json(found), indent=2))
        return
    for need in found.needs:
        click.echo(f"needs: {need}")
    if found.stopping is not None:
        click.echo(f"stopping: {found.stopping.reason}")
    if not found.suggestions:
        click.echo("no suggestion")
    for rank, s in enumerate(found.suggestions, 1):
        precision = "" if s.expected_precision is None else f", precision {s.expected_precision:.1%}"
        click.echo(
            f"{rank:>2}. {s.title}  [{s.kind}: {s.expected_labels:g} labels / {s.expected_actions:g} "
            f"actions{precision}]"
        )
        click.echo(f"    {s.reason}")
        click.echo(f"    key: {s.key}")


@click.command("accept-suggestion")
@click.argument("dataset_name", metavar="DATASET")
@click.argument("key")
@click.option("--items", default=None, help="Comma-separated item ids to keep (default: all of the batch).")
@click.option("--class", "class_name", default=None, help="Label the batch with this class instead.")
@click.option(
    "--rejected",
    default=None,
    metavar="IDS",
    help="Comma-separated members left out that are not the class, recorded as rejected (default: "
    "every member left out).",
)
@click.option(
    "--params-json",
    default=None,
    metavar="JSON",
    help="A training suggestion's algorithm parameters changed, as a JSON object (e.g. '{\"epochs\": 5}').",
)
def accept_suggestion_cmd(
    dataset_name: str,
    key: str,
    items: str | None,
    class_name: str | None,
    rejected: str | None = None,
    params_json: str | None = None,
) -> None:
    """Carry out the suggestion KEY of DATASET (from `labelwise next-actions`): a batch is labeled as
    one event, a job is queued; items to label one by one that show the classifier's class take
    it (those still unlabeled, or --items).

    A batch's members left out of --items are recorded as rejected for the class (not suggested
    again as it) unless --rejected names the ones that are: the others are left out unjudged."""
    from backend.cli.guided import _class_id
    from backend.datasets.service import get_dataset_by_name
    from backend.errors import Invalid
    from backend.guided.next_actions import accept_suggestion

    kept = _id_list(items, "--items")
    refused = _id_list(rejected, "--rejected")
    parameters = _json_object(params_json, "--params-json")
    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        label_id = await _class_id(session, stored_id(dataset), class_name) if class_name else None
        try:
            return await accept_suggestion(
                session,
                settings,
                stored_id(dataset),
                key,
                item_ids=kept,
                label_id=label_id,
                tagger=settings.tagger,
                enqueue=_enqueuer(settings),
                rejected_item_ids=refused,
                parameters=parameters,
            )
        except Invalid as exc:  # REST's 400 on the list: a usage error here, naming the option
            if exc.details.get("field") == "rejected_item_ids":
                raise click.UsageError(
                    f"--rejected: {exc.message}", ctx=click.get_current_context(silent=True)
                ) from exc
            raise

    result = _call(settings, work)
    if result.batch_id is not None:
        skipped = f"; {result.skipped} left as they were (labeled already)" if result.skipped else ""
        if result.rejected:
            skipped += f"; {result.rejected} left out: not suggested again as that class"
        click.echo(f"labeled {result.labeled} items (event {result.batch_id}){skipped}")
    for job_id in result.job_ids:
        click.echo(f"job {job_id} queued")


def _id_list(text: str | None, option: str) -> list[int] | None:
    """Comma-separated item ids; None when the option is not given."""
    if text is None:
        return None
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise click.UsageError(f"{option} takes comma-separated item ids") from None


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object option; None when the option is not given."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.UsageError(f"{option} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise click.UsageError(f"{option} takes a JSON object, e.g. '{{\"epochs\": 5}}'")
    return value


def add_next_action_commands(main: click.Group) -> None:
    main.add_command(next_actions_cmd)
    main.add_command(accept_suggestion_cmd)
