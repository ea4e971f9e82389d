"""`labelwise undo` and `labelwise revoke`: take one event back, or every label a model (or one kind
of batch in a time range) produced, through the same domain calls as REST and GraphQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from backend.cli.common import MOMENT, _call, _prepare
from backend.settings import get_settings

KINDS = ["manual", "similarity", "probability", "explorer", "import", "review"]


@click.command("undo")
@click.argument("event_id", type=int)
def undo_cmd(event_id: int) -> None:
    """Undo one tag event by a new 'undo' event (items changed since are left and counted)."""
    from backend.labels.events import undo_event

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        return await undo_event(session, event_id, settings.tagger)

    event = _call(settings, work)
    skipped = int(event.parameters.get("skipped_count", 0))
    click.echo(
        f"event {event.id} undid event {event_id}: {event.tag_count} tag(s), {skipped} item(s) skipped"
    )


@click.command("revoke")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--model", "model_id", type=int, default=None, help="Every label this model produced.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Every label events of this kind made.")
@click.option("--since", type=MOMENT, default=None, help="With --kind: events from this time (no zone: UTC).")
@click.option(
    "--until", type=MOMENT, default=None, help="With --kind: events up to this time (no zone: UTC)."
)
def revoke_cmd(
    dataset_name: str, model_id: int | None, kind: str | None, since: datetime | None, until: datetime | None
) -> None:
    """Take back, as one 'undo' event, the labels a model (or a kind of batch) made in DATASET.

    Items relabeled since by another event are left as they are and counted."""
    from backend.datasets.service import get_dataset_by_name
    from backend.labels.revoke import revoke_labels

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset = await get_dataset_by_name(session, dataset_name)
        return await revoke_labels(
            session,
            int(dataset.id),  # type: ignore[arg-type]
            tagger=settings.tagger,
            model_id=model_id,
            kind=kind,
            since=since,
            until=until,
        )

    result = _call(settings, work)
    click.echo(
        f"event {result.event.id}: revoked the labels of {result.revoked} item(s) from "
        f"{result.event_count} event(s); {result.skipped} item(s) changed since were left as they are"
    )


def add_revoke_commands(main: click.Group) -> None:
    main.add_command(undo_cmd)
    main.add_command(revoke_cmd)
