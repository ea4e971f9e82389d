"""`labelwise similar`, `labelwise label-by-probability` and `labelwise jobs build-index`:
AI-guided labeling from the command line, through the same domain calls as REST and GraphQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

import click

from backend.cli.common import _call, _enqueuer, _parse_params, _prepare, _report, _wait
from backend.cli.jobs import jobs
from backend.errors import NotFound
from backend.settings import get_settings
from backend.storage.ids import stored_id

if TYPE_CHECKING:
    from backend.guided.service import AppliedBatch, ProbabilityPage


async def _class_id(session: Any, dataset_id: int, name: str) -> int:
    from backend.labels.classes import list_classes

    for label in await list_classes(session, dataset_id):
        if label.name == name:
            return stored_id(label)
    raise NotFound(f"dataset {dataset_id} has no label class named '{name}'")


@click.command("similar")
@click.argument("dataset_name", metavar="DATASET")
@click.argument("item_ids", nargs=-1, type=int, required=True)
@click.option("--model", "model_id", type=int, required=True, help="A model whose inference wrote vectors.")
@click.option("--mode", type=click.Choice(["mean", "union"]), default="mean", show_default=True)
@click.option("--exclude-labeled", is_flag=True, help="Leave out items that already have a label.")
@click.option("--top", type=int, default=20, show_default=True, help="How many items to show (and label).")
@click.option("--label", "label_name", default=None, help="Label the items shown with this class.")
def similar_cmd(
    dataset_name: str,
    item_ids: tuple[int, ...],
    model_id: int,
    mode: str,
    exclude_labeled: bool,
    top: int,
    label_name: str | None,
) -> None:
    """Items of DATASET most similar to ITEM_ID...; with --label, label them as one event."""
    from backend.datasets.service import get_dataset_by_name
    from backend.guided import service
    from backend.similarity.index import IndexCache

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> tuple[Any, Any]:
        dataset = await get_dataset_by_name(session, dataset_name)
        page = await service.similar_items(
            session,
            settings,
            IndexCache(capacity=1),
            dataset_id=stored_id(dataset),
            model_id=model_id,
            query_item_ids=list(item_ids),
            mode=mode,
            exclude_labeled=exclude_labeled,
            limit=top,
        )
        event = None
        if label_name is not None:
            event = await service.label_similar(
                session,
                settings,
                dataset_id=stored_id(dataset),
                model_id=model_id,
                query_item_ids=page.query_item_ids,
                item_ids=page.item_ids,
                label_id=await _class_id(session, stored_id(dataset), label_name),
                shown=len(page.item_ids),
                mode=mode,
                tagger=settings.tagger,
            )
        return page, event

    page, event = _call(settings, work)
    search = "exact search" if page.exact else "hnswlib index"
    click.echo(f"{page.total} items ranked ({search}); the first {len(page.item_ids)}:")
    for rank, (item_id, similarity) in enumerate(zip(page.item_ids, page.similarities, strict=True), 1):
        click.echo(f"{rank:>5}  item {item_id:>9}  {similarity:.4f}")
    if event is not None:
        click.echo(f"labeled {event.tag_count} items '{label_name}' (event {event.id}, kind similarity)")


@click.command("label-by-probability")
@click.argument("dataset_name", metavar="DATASET")
@click.option("--model", "model_id", type=int, required=True, help="A classifier model.")
@click.option("--class", "class_name", default=None, help="Label items whose probability for it passes.")
@click.option("--all-classes", is_flag=True, help="Give each passing item its most probable class.")
@click.option("--threshold", type=float, required=True, help="Probability at or above which to label.")
@click.option("--overwrite", is_flag=True, help="Also relabel items that already have a label.")
@click.option("--dry-run", is_flag=True, help="Only count the items that would be labeled.")
@click.option("--yes", "confirm", is_flag=True, help="Confirm a batch over confirm_batch_over items.")
@click.option("--override-unfit", is_flag=True, help="Use a model marked unfit (no better than baseline).")
@click.option(
    "--exclude",
    "excluded",
    type=int,
    multiple=True,
    metavar="ITEM_ID",
    help="An item of the batch to leave out, recorded as not its class (not offered again); repeat.",
)
@click.option(
    "--exclude-file",
    type=click.File("r"),
    default=None,
    help="Item ids to leave out, as --exclude: whitespace or comma separated, '#' starts a comment.",
)
@click.option(
    "--left-out",
    "left_out_ids",
    type=int,
    multiple=True,
    metavar="ITEM_ID",
    help="An item of the batch to leave out without a judgement (not recorded: offered again); repeat.",
)
def label_by_probability_cmd(
    dataset_name: str,
    model_id: int,
    class_name: str | None,
    all_classes: bool,
    threshold: float,
    overwrite: bool,
    dry_run: bool,
    confirm: bool = False,
    override_unfit: bool = False,
    excluded: tuple[int, ...] = (),
    exclude_file: TextIO | None = None,
    left_out_ids: tuple[int, ...] = (),
) -> None:
    """Label the items of DATASET a classifier is sure enough about, as one event.

    The items given with --exclude or --exclude-file (those a person looked at and found not to
    be of the class) are left out and recorded as rejected for the class each was offered as, as
    the probability page does with tiles deselected one by one: its later batches do not offer them
    again. Those given with --left-out are left out without a judgement, as the page does with tiles
    deselected in bulk: nothing is recorded, later batches offer them again."""
    from backend.datasets.service import get_dataset_by_name
    from backend.guided import service

    if (class_name is None) == (not all_classes):
        raise click.UsageError("give --class NAME or --all-classes (one of them)")
    left_out = list(dict.fromkeys([*excluded, *(_read_ids(exclude_file) if exclude_file else [])]))
    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> tuple[ProbabilityPage, AppliedBatch | None]:
        dataset = await get_dataset_by_name(session, dataset_name)
        label_id = await _class_id(session, stored_id(dataset), class_name) if class_name else None
        page = await service.probability_candidates(
            session,
            settings,
            dataset_id=stored_id(dataset),
            model_id=model_id,
            threshold=threshold,
            label_id=label_id,
            overwrite=overwrite,
            limit=1,
        )
        if dry_run:
            return page, None
        applied = await service.apply_probability(
            session,
            settings,
            dataset_id=stored_id(dataset),
            model_id=model_id,
            threshold=threshold,
            label_id=label_id,
            all_classes=all_classes,
            overwrite=overwrite,
            tagger=settings.tagger,
            confirm=confirm,
            override_unfit=override_unfit,
            expected_count=page.count,
            rejected_item_ids=left_out,
            left_out_item_ids=list(left_out_ids),
            seen_event_id=page.seen_event_id,  # a label given since the count stays
        )
        return page, applied

    page, applied = _call(settings, work)
    event = applied.event if applied else None
    count = page.count
    what = f"'{class_name}'" if class_name else "their most probable class"
    if dry_run:
        click.echo(f"{count} items would be labeled {what} (probability >= {threshold})")
        if left_out or left_out_ids:
            ids = len(set(left_out) | set(left_out_ids))
            click.echo(
                f"less those of the {ids} excluded or left-out ids in the batch (left out when applied)"
            )
        guess = page.estimate
        if guess is not None and guess.lead_precision is not None:
            click.echo(guess.lead_note())  # the calibrated figure first, as the page and refusals give it
        if page.fitness is not None:
            click.echo(f"model {page.fitness.status}: {page.fitness.reason}")
    elif event is None and count:
        # a rejection is recorded with the batch event that left it out: none without one
        click.echo(f"every passing item is excluded: nothing labeled, no rejection recorded ({count} pass)")
    elif event is None:
        click.echo(f"no item passes: nothing labeled (probability >= {threshold})")
    else:
        click.echo(f"labeled {event.tag_count} items {what} (event {event.id}, kind probability)")
        if left_out:
            recorded = int(event.parameters.get("rejected") or 0)
            click.echo(f"{recorded} excluded item(s) left out: not suggested again as {what}")
            if recorded < len(left_out):
                click.echo(
                    f"{len(left_out) - recorded} excluded id(s) not in the batch or labeled: nothing recorded"
                )
    if applied is not None and applied.skipped_changed:
        changed = applied.skipped_changed
        click.echo(
            f"{changed} were changed since the count (by someone else, or elsewhere): left as they are"
        )
    if applied is not None and applied.left_out_not_in_batch:
        # said whether or not anything was labeled: a mistyped id should not pass in silence
        click.echo(f"{applied.left_out_not_in_batch} left-out id(s) not in the batch: nothing left out")


def _read_ids(source: TextIO) -> list[int]:
    """Item ids from a file: separated by whitespace or commas, '#' to the line's end a comment."""
    ids: list[int] = []
    for number, line in enumerate(source, 1):
        for word in line.split("#", 1)[0].replace(",", " ").split():
            try:
                ids.append(int(word))
            except ValueError:
                raise click.BadParameter(
                    f"line {number}: '{word}' is not an item id", param_hint="--exclude-file"
                ) from None
    return ids


@jobs.command("build-index")
@click.option("--model", "model_id", type=int, required=True, help="Model whose vectors to index.")
@click.option("--dataset", "dataset_name", default=None, help="Dataset (default: the model's).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="m, ef_construction or ef.")
@click.option("--wait", is_flag=True, help="Follow the job to its end (embedded broker: run it here).")
def build_index_cmd(model_id: int, dataset_name: str | None, params: tuple[str, ...], wait: bool) -> None:
    """Queue a job that builds the similarity index of a model's latest feature vectors."""
    from backend.datasets.service import get_dataset_by_name
    from backend.jobs import submission
    from backend.similarity.tasks import BUILD_INDEX

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        dataset_id = (await get_dataset_by_name(session, dataset_name)).id if dataset_name else None
        return await submission.submit_job(
            session,
            settings,
            _enqueuer(settings),
            kind="build-index",
            dataset_id=dataset_id,
            model_id=model_id,
            parameters=_parse_params(BUILD_INDEX.schema, params, None),
            submitted_by=settings.tagger,
        )

    job = _call(settings, work)
    click.echo(f"job {job.id} queued (build-index, model {job.model_id})")
    if wait:
        _report(_wait(settings, job.id, run_here=True))


def add_guided_commands(main: click.Group) -> None:
    main.add_command(similar_cmd)
    main.add_command(label_by_probability_cmd)
