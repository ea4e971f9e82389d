"""Items of a dataset: paged, filtered by label state or header metadata, sorted; with their
current labels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.paging import check_page
from backend.settings import Settings
from backend.sources.registry import open_source
from backend.storage.tables import CurrentLabel, Item, LabelClass, Source

FILTERS = ("all", "labeled", "unlabeled", "unreadable")
META_SORTS = ("run", "sample", "exposure", "time")
SORTS = ("position", "label", *META_SORTS)
MAX_META_VALUES = 500  # distinct runs or samples listed for a filter menu


@dataclass(frozen=True)
class MetaFilter:
    """Items whose header metadata match: run and sample exactly, exposure within 0.1 %, time
    (ISO text) in [time_from, time_to]. Empty: no condition."""

    run: str | None = None
    sample: str | None = None
    exposure: float | None = None
    time_from: str | None = None
    time_to: str | None = None

    def is_empty(self) -> bool:
        return not self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None and v != ""}

    def apply(self, query: Any) -> Any:
        if self.exposure is not None and not math.isfinite(self.exposure):
            raise Invalid(f"exposure must be a finite number of seconds, got {self.exposure}")
        if self.run:
            query = query.where(col(Item.meta)["run"].as_string() == self.run)
        if self.sample:
            query = query.where(col(Item.meta)["sample"].as_string() == self.sample)
        if self.exposure is not None:
            slack = abs(self.exposure) * 1e-3
            exposure = col(Item.meta)["exposure"].as_float()
            query = query.where(exposure >= self.exposure - slack, exposure <= self.exposure + slack)
        if self.time_from:
            query = query.where(col(Item.meta)["time"].as_string() >= self.time_from)
        if self.time_to:
            query = query.where(col(Item.meta)["time"].as_string() <= self.time_to)
        return query


def _meta_order(sort: str) -> Any:
    column = col(Item.meta)[sort]
    return column.as_float() if sort == "exposure" else column.as_string()


@dataclass
class ItemWithLabels:
    item: Item
    label_ids: list[int]


@dataclass
class ItemPage:
    items: list[ItemWithLabels]
    total: int
    offset: int
    limit: int


async def frame_counts(session: AsyncSession, items: list[Item]) -> dict[tuple[int, str], int]:
    """How many frames (items) the file of each item holds, by (source id, uri): one query. The
    first frame of a stack is then told from a file of one frame ("scan_master.h5 [0]")."""
    if not items:
        return {}
    uris = {item.uri for item in items}
    sources = {item.source_id for item in items}
    rows = await session.execute(
        select(col(Item.source_id), col(Item.uri), func.count())
        .where(col(Item.source_id).in_(sources), col(Item.uri).in_(uris))
        .group_by(col(Item.source_id), col(Item.uri))
    )
    return {(int(source_id), str(uri)): int(count) for source_id, uri, count in rows.tuples().all()}


async def get_item(session: AsyncSession, item_id: int) -> Item:
    item = await session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist", id=item_id)
    return item


async def items_before(session: AsyncSession, item: Item) -> int:
    """How many items of its dataset come before ``item`` in the dataset's own order (file order)."""
    return int(
        await session.scalar(
            select(func.count()).where(
                col(Item.dataset_id) == item.dataset_id, col(Item.position) < item.position
            )
        )
        or 0
    )


async def item_location(session: AsyncSession, settings: Settings, item: Item) -> str:
    """Where the item's pixels are read from (a path or a Tiled URI; never a key)."""
    source = await session.get(Source, item.source_id)
    if source is None:  # the foreign key makes this impossible short of a broken database
        raise NotFound(f"the source of item {item.id} does not exist")
    return open_source(source, settings).location(item.uri, item.frame)


async def item_counts(session: AsyncSession, dataset_ids: list[int]) -> dict[int, int]:
    """Items per dataset (unknown datasets are absent): what an unpaged item listing will cost."""
    if not dataset_ids:
        return {}
    rows = await session.execute(
        select(col(Item.dataset_id), func.count())
        .where(col(Item.dataset_id).in_(dataset_ids))
        .group_by(col(Item.dataset_id))
    )
    return {int(dataset_id): int(count) for dataset_id, count in rows.all()}


async def item_locations(
    session: AsyncSession, settings: Settings, places: list[tuple[int, str, int]]
) -> list[str]:
    """Locations of many items given as (source id, uri, frame): one query for their sources and
    each source opened once (GraphQL lists batch ``location`` through this, not one item at a time)."""
    source_ids = sorted({source_id for source_id, _, _ in places})
    rows = (
        (await session.scalars(select(Source).where(col(Source.id).in_(source_ids)))).all() if places else []
    )
    opened = {row.id: open_source(row, settings) for row in rows}
    missing = [s for s in source_ids if s not in opened]
    if missing:  # the foreign key makes this impossible short of a broken database
        raise NotFound(f"source(s) {missing} do not exist")
    return [opened[source_id].location(uri, frame) for source_id, uri, frame in places]


async def labels_of(session: AsyncSession, item_ids: list[int]) -> dict[int, list[int]]:
    if not item_ids:
        return {}
    rows = await session.execute(
        select(col(CurrentLabel.item_id), col(CurrentLabel.label_id))
        .join(LabelClass, col(LabelClass.id) == col(CurrentLabel.label_id))
        .where(col(CurrentLabel.item_id).in_(item_ids))
        .order_by(col(LabelClass.position), col(LabelClass.id))
    )
    out: dict[int, list[int]] = {}
    for item_id, label_id in rows.all():
        out.setdefault(item_id, []).append(label_id)
    return out


async def _check_class_filter(session: AsyncSession, dataset_id: int, label_id: int) -> None:
    """Refuse a class filter that names no live class of the dataset: it listed nothing in silence."""
    rows = await session.execute(
        select(col(LabelClass.id), col(LabelClass.name)).where(
            col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None)
        )
    )
    names = dict(rows.tuples().all())
    if label_id not in names:
        known = ", ".join(f"{name} ({class_id})" for class_id, name in sorted(names.items())) or "none yet"
        raise Invalid(
            f"unknown class {label_id}: not a class of this dataset (its classes: {known})",
            field="label_id",
        )


async def list_items(
    session: AsyncSession,
    dataset_id: int,
    *,
    filter: str = "all",
    label_id: int | None = None,
    sort: str = "position",
    offset: int = 0,
    limit: int = 48,
    max_limit: int = 500,
    meta: MetaFilter | None = None,
) -> ItemPage:
    """A page of items. ``label_id`` narrows to one class; ``filter`` to a label state; ``meta`` to
    what the files' headers say (a run, a sample, an exposure, a time range)."""
    await get_dataset(session, dataset_id)
    if filter not in FILTERS:
        raise Invalid(f"unknown filter '{filter}' (use one of {', '.join(FILTERS)})")
    if sort not in SORTS:
        raise Invalid(f"unknown sort '{sort}' (use one of {', '.join(SORTS)})")
    check_page(offset, limit, max_limit)
    if label_id is not None:
        await _check_class_filter(session, dataset_id, label_id)
    labeled = exists().where(col(CurrentLabel.item_id) == col(Item.id))
    query = select(Item).where(col(Item.dataset_id) == dataset_id)
    if filter == "labeled":
        query = query.where(labeled)
    elif filter == "unlabeled":
        query = query.where(~labeled)
    elif filter == "unreadable":
        query = query.where(col(Item.status) != "ok")
    if label_id is not None:
        query = query.where(
            exists().where(col(CurrentLabel.item_id) == col(Item.id), col(CurrentLabel.label_id) == label_id)
        )
    if meta is not None:
        query = meta.apply(query)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if sort == "label":
        first_label = (
            select(func.min(col(LabelClass.position)))
            .join(CurrentLabel, col(CurrentLabel.label_id) == col(LabelClass.id))
            .where(col(CurrentLabel.item_id) == col(Item.id))
            .scalar_subquery()
        )
        query = query.order_by(first_label.is_(None), first_label, col(Item.position))
    elif sort in META_SORTS:  # items without the field last, then in dataset order
        key = _meta_order(sort)
        query = query.order_by(key.is_(None), key, col(Item.position))
    else:
        query = query.order_by(col(Item.position))
    rows = list((await session.scalars(query.offset(offset).limit(limit))).all())
    labels = await labels_of(session, [r.id for r in rows if r.id is not None])
    return ItemPage(
        [ItemWithLabels(r, labels.get(r.id, []) if r.id is not None else []) for r in rows],
        int(total),
        offset,
        limit,
    )


async def items_by_ids(session: AsyncSession, dataset_id: int, item_ids: list[int]) -> list[ItemWithLabels]:
    """Items in the order asked for (similarity rankings); unknown ids are an error."""
    rows = {
        r.id: r
        for r in (
            await session.scalars(
                select(Item).where(col(Item.dataset_id) == dataset_id, col(Item.id).in_(item_ids))
            )
        ).all()
    }
    missing = [i for i in item_ids if i not in rows]
    if missing:
        raise NotFound(f"item(s) {missing[:20]} are not in dataset {dataset_id}")
    labels = await labels_of(session, item_ids)
    return [ItemWithLabels(rows[i], labels.get(i, [])) for i in item_ids]


async def meta_values(session: AsyncSession, dataset_id: int) -> dict[str, list[Any]]:
    """Distinct runs, samples and exposures of a dataset's items (for filter menus), at most
    ``MAX_META_VALUES`` each, sorted."""
    await get_dataset(session, dataset_id)
    out: dict[str, list[Any]] = {}
    for key in ("run", "sample", "exposure"):
        column = col(Item.meta)[key].as_float() if key == "exposure" else col(Item.meta)[key].as_string()
        rows = await session.scalars(
            select(column)
            .where(col(Item.dataset_id) == dataset_id, column.is_not(None))
            .distinct()
            .order_by(column)
            .limit(MAX_META_VALUES)
        )
        values = [v for v in rows.all() if v not in (None, "")]
        out[key] = [float(v) for v in values] if key == "exposure" else [str(v) for v in values]
    return out


async def matching_item_ids(session: AsyncSession, dataset_id: int, meta: MetaFilter) -> list[int]:
    """Readable items that match ``meta``, in dataset order (what 'label this run' labels)."""
    await get_dataset(session, dataset_id)
    query = meta.apply(
        select(col(Item.id)).where(col(Item.dataset_id) == dataset_id, col(Item.status) == "ok")
    )
    return [int(i) for i in (await session.scalars(query.order_by(col(Item.position)))).all()]
