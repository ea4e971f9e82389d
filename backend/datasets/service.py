"""Dataset rules: create from sources, rename, extend, re-scan, delete (never touching files)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.display import default_preset, store_preset
from backend.datasets.ingest import Progress, ScanReport, scan_entries, store_entries
from backend.errors import Conflict, Invalid, NotFound
from backend.settings import Settings
from backend.sources.registry import prepare_source
from backend.storage.tables import CurrentLabel, Dataset, Item, LabelClass, Rejection, Source, Tag, TagEvent
from backend.storage.types import utcnow


@dataclass
class DatasetSummary:
    dataset: Dataset
    item_count: int
    labeled_count: int
    unreadable_count: int


def clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid("a dataset name is required")
    if len(name) > 200:
        raise Invalid("a dataset name has at most 200 characters")
    return name


async def get_dataset(session: AsyncSession, dataset_id: int) -> Dataset:
    dataset = await session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} does not exist", id=dataset_id)
    return dataset


async def get_dataset_by_name(session: AsyncSession, name: str) -> Dataset:
    dataset = await session.scalar(select(Dataset).where(col(Dataset.name) == name))
    if dataset is None:
        raise NotFound(f"dataset '{name}' does not exist")
    return dataset


async def _ensure_name_free(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    clash = await session.scalar(select(col(Dataset.id)).where(col(Dataset.name) == name))
    if clash is not None and clash != except_id:
        raise Conflict(f"a dataset named '{name}' already exists")


async def _name_taken_meanwhile(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    """After the unique index refused a dataset name: Conflict when another request took the name
    between the check and the commit (two at once), as the check says it; else nothing."""
    await session.rollback()
    await _ensure_name_free(session, name, except_id)


async def _scan_new_source(settings: Settings, source: Source, progress: Progress | None) -> list:
    entries = await asyncio.to_thread(scan_entries, source, settings, progress)
    if not entries:
        raise Invalid(f"'{source.uri}' holds no images (PNG, JPEG, TIFF, NPY or HDF5)")
    return entries


async def create_dataset(
    session: AsyncSession,
    settings: Settings,
    name: str,
    sources: list[str],
    *,
    multi_label: bool = False,
    api_keys: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> tuple[Dataset, ScanReport]:
    """Make a dataset from folders / Tiled URIs in one transaction: all of it, or nothing."""
    name = clean_name(name)
    if not sources:
        raise Invalid("a dataset needs at least one folder or Tiled source")
    await _ensure_name_free(session, name)
    prepared = [prepare_source(spec, settings, (api_keys or {}).get(spec)) for spec in sources]
    scanned = []
    for position, source in enumerate(prepared):
        source.position = position
        scanned.append((source, await _scan_new_source(settings, source, progress)))
    dataset = Dataset(name=name, multi_label=multi_label)
    store_preset(dataset, default_preset(entry for _, entries in scanned for entry in entries))
    report = ScanReport()
    try:
        session.add(dataset)
        await session.flush()
        for source, entries in scanned:
            source.dataset_id = dataset.id  # type: ignore[assignment]
            source.scanned_at = utcnow()
            session.add(source)
            await session.flush()
            part = await store_entries(session, source, entries)
            report.added += part.added
            report.unreadable += part.unreadable
        await session.commit()
    except IntegrityError:
        await _name_taken_meanwhile(session, name)
        raise
    return dataset, report


async def add_source(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    spec: str,
    *,
    api_key: str | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Extend a dataset with another folder or Tiled node; its items go after the existing ones."""
    dataset = await get_dataset(session, dataset_id)
    source = prepare_source(spec, settings, api_key)
    await _ensure_new_source(session, dataset, source)
    entries = await _scan_new_source(settings, source, progress)
    # the dataset's write lock (the scan is done: tagging waited not for it), then the check again:
    # the same folder added twice at once is one source and one CONFLICT, not its items twice
    await session.execute(update(Dataset).where(col(Dataset.id) == dataset.id).values(updated_at=utcnow()))
    await _ensure_new_source(session, dataset, source)
    count = await session.scalar(select(func.count()).where(col(Source.dataset_id) == dataset.id))
    source.dataset_id = dataset.id  # type: ignore[assignment]
    source.position = int(count or 0)
    source.scanned_at = utcnow()
    session.add(source)
    await session.flush()
    report = await store_entries(session, source, entries)
    dataset.updated_at = utcnow()
    await session.commit()
    return report


async def _ensure_new_source(session: AsyncSession, dataset: Dataset, source: Source) -> None:
    duplicate = await session.scalar(
        select(col(Source.id)).where(col(Source.dataset_id) == dataset.id, col(Source.uri) == source.uri)
    )
    if duplicate is not None:
        # The stored form, not what was typed: a Tiled URI may carry its key in the query.
        raise Conflict(f"'{source.uri}' is already a source of dataset '{dataset.name}'")


async def rescan_dataset(
    session: AsyncSession, settings: Settings, dataset_id: int, progress: Progress | None = None
) -> ScanReport:
    """Pick up new files, mark vanished ones missing (their labels and history stay), read known
    files again (their renderings are made again when next shown)."""
    dataset = await get_dataset(session, dataset_id)
    sources = (
        await session.scalars(
            select(Source).where(col(Source.dataset_id) == dataset.id).order_by(col(Source.position))
        )
    ).all()
    scanned = [(s, await asyncio.to_thread(scan_entries, s, settings, progress)) for s in sources]
    report = ScanReport()
    for source, entries in scanned:
        part = await store_entries(session, source, entries)
        source.scanned_at = utcnow()
        report.added += part.added
        report.unreadable += part.unreadable
        report.missing += part.missing
        report.restored += part.restored
    dataset.updated_at = utcnow()
    # a re-scan reads the files again: a file rewritten under its name keeps its item, so the
    # renderings made before (thumbnails, full views; their URLs carry this epoch) may be stale
    dataset.display_changed_at = dataset.updated_at
    await session.commit()
    return report


async def rename_dataset(session: AsyncSession, dataset_id: int, name: str) -> Dataset:
    dataset = await get_dataset(session, dataset_id)
    name = clean_name(name)
    await _ensure_name_free(session, name, except_id=dataset.id)
    dataset.name = name
    dataset.updated_at = utcnow()
    try:
        await session.commit()
    except IntegrityError:
        await _name_taken_meanwhile(session, name, except_id=dataset_id)
        raise
    return dataset


async def set_multi_label(session: AsyncSession, dataset_id: int, multi_label: bool) -> Dataset:
    """Switching back to single-label is refused while any item holds several labels."""
    dataset = await get_dataset(session, dataset_id)
    if not multi_label and dataset.multi_label:
        crowded = await session.scalar(
            select(col(CurrentLabel.item_id))
            .where(col(CurrentLabel.dataset_id) == dataset.id)
            .group_by(col(CurrentLabel.item_id))
            .having(func.count() > 1)
            .limit(1)
        )
        if crowded is not None:
            raise Conflict("some items hold several labels; unlabel them before going single-label")
    dataset.multi_label = multi_label
    await session.commit()
    return dataset


async def delete_dataset(session: AsyncSession, dataset_id: int) -> None:
    """Remove the dataset's rows. Image files are never touched."""
    dataset = await get_dataset(session, dataset_id)
    event_ids = select(col(TagEvent.id)).where(col(TagEvent.dataset_id) == dataset.id)
    await session.execute(delete(CurrentLabel).where(col(CurrentLabel.dataset_id) == dataset.id))
    await session.execute(delete(Rejection).where(col(Rejection.dataset_id) == dataset.id))
    await session.execute(delete(Tag).where(col(Tag.event_id).in_(event_ids)))
    # SQLModel gives table classes __table__ at class creation; mypy cannot see it
    tag_events = TagEvent.__table__  # type: ignore[attr-defined]
    await session.execute(
        tag_events.update().where(col(TagEvent.dataset_id) == dataset.id).values(undoes_event_id=None)
    )
    await session.execute(delete(TagEvent).where(col(TagEvent.dataset_id) == dataset.id))
    await session.execute(delete(Item).where(col(Item.dataset_id) == dataset.id))
    await session.execute(delete(LabelClass).where(col(LabelClass.dataset_id) == dataset.id))
    await session.execute(delete(Source).where(col(Source.dataset_id) == dataset.id))
    await session.delete(dataset)
    await session.commit()


async def list_datasets(session: AsyncSession, *, dataset_id: int | None = None) -> list[DatasetSummary]:
    """Datasets by name with their counts; ``dataset_id`` narrows to one (an empty list if unknown)."""
    datasets_query, items_query = select(Dataset), select(col(Item.dataset_id), func.count())
    labeled_query = select(col(CurrentLabel.dataset_id), func.count(func.distinct(col(CurrentLabel.item_id))))
    if dataset_id is not None:
        datasets_query = datasets_query.where(col(Dataset.id) == dataset_id)
        items_query = items_query.where(col(Item.dataset_id) == dataset_id)
        labeled_query = labeled_query.where(col(CurrentLabel.dataset_id) == dataset_id)
    datasets = (await session.scalars(datasets_query.order_by(col(Dataset.name)))).all()
    items: dict[int | None, int] = dict(
        (await session.execute(items_query.group_by(col(Item.dataset_id)))).tuples().all()
    )
    unreadable: dict[int | None, int] = dict(
        (await session.execute(items_query.where(col(Item.status) != "ok").group_by(col(Item.dataset_id))))
        .tuples()
        .all()
    )
    labeled: dict[int | None, int] = dict(
        (await session.execute(labeled_query.group_by(col(CurrentLabel.dataset_id)))).tuples().all()
    )
    return [
        DatasetSummary(d, items.get(d.id, 0), labeled.get(d.id, 0), unreadable.get(d.id, 0)) for d in datasets
    ]


async def dataset_summary(session: AsyncSession, dataset_id: int) -> DatasetSummary:
    """One dataset with its counts (NotFound when it does not exist)."""
    summaries = await list_datasets(session, dataset_id=dataset_id)
    if not summaries:
        raise NotFound(f"dataset {dataset_id} does not exist", id=dataset_id)
    return summaries[0]


async def update_dataset(
    session: AsyncSession, dataset_id: int, *, name: str | None = None, multi_label: bool | None = None
) -> Dataset:
    """Rename and/or switch multi-label; a refused change (bad or taken name) changes nothing."""
    dataset = await get_dataset(session, dataset_id)
    if name is not None:
        # Check the new name before changing anything, so a refused rename changes nothing.
        name = clean_name(name)
        await _ensure_name_free(session, name, except_id=dataset.id)
    if multi_label is not None:
        dataset = await set_multi_label(session, dataset_id, multi_label)
    if name is not None:
        dataset = await rename_dataset(session, dataset_id, name)
    return dataset


async def list_sources(session: AsyncSession, dataset_id: int) -> list[Source]:
    await get_dataset(session, dataset_id)
    return list(
        (
            await session.scalars(
                select(Source).where(col(Source.dataset_id) == dataset_id).order_by(col(Source.position))
            )
        ).all()
    )


async def unreadable_reasons(session: AsyncSession, dataset_id: int, limit: int = 3) -> list[tuple[str, int]]:
    """The most frequent reasons items of a dataset cannot be read, with their counts (the
    datasets page shows them: a corrupt header, a missing Eiger data file, a filter not installed)."""
    count = func.count().label("n")
    rows = await session.execute(
        select(col(Item.error), count)
        .where(col(Item.dataset_id) == dataset_id, col(Item.status) != "ok")
        .group_by(col(Item.error))
        .order_by(count.desc(), col(Item.error))
        .limit(limit)
    )
    return [(str(error or "the file is gone since the last scan"), int(n)) for error, n in rows.all()]
