"""Label classes of a dataset: name, color, hotkey. Deleting one unlabels through a recorded event."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, NotFound
from backend.labels.events import lock_dataset
from backend.storage.tables import CurrentLabel, LabelClass, TagEvent
from backend.storage.types import utcnow

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Keys the label page keeps for itself: navigation, selection, help, undo.
RESERVED_HOTKEYS = frozenset("?znpa ")
# Keys a class is given when it is added without one (the class panel): the digits first, as the
# demo dataset's classes have them, then the letters. Never a reserved key, nor one another page
# takes for itself (0: fit the item view's zoom; b, l, f: the explorer's box, lasso and "leave the
# flagged out"); a person may still choose those by hand.
AUTO_HOTKEYS = "123456789" + "".join(
    c for c in "abcdefghijklmnopqrstuvwxyz" if c not in RESERVED_HOTKEYS and c not in "blf"
)
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def default_color(position: int) -> str:
    """The color a class is given without one: the palette's, by its position in the dataset."""
    return PALETTE[position % len(PALETTE)]


def clean_class_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid("a class name is required")
    if len(name) > 100:
        raise Invalid("a class name has at most 100 characters")
    return name


def clean_color(color: str) -> str:
    if not COLOR.match(color or ""):
        raise Invalid(f"color must look like #1f77b4, got '{color}'")
    return color.lower()


def clean_hotkey(hotkey: str | None) -> str | None:
    if hotkey is None or hotkey == "":
        return None
    hotkey = hotkey.lower()
    if len(hotkey) != 1 or not (hotkey.isalnum() and hotkey.isascii()):
        raise Invalid(f"a hotkey is one letter or digit, got '{hotkey}'")
    if hotkey in RESERVED_HOTKEYS:
        raise Invalid(
            f"hotkey '{hotkey}' is reserved by the label page (n/p: next/previous page, a: select the "
            "page, z: undo, ?: help); choose another letter or a digit",
            reserved=sorted(RESERVED_HOTKEYS - {" "}),
        )
    return hotkey


async def list_classes(session: AsyncSession, dataset_id: int) -> list[LabelClass]:
    await get_dataset(session, dataset_id)
    rows = await session.scalars(
        select(LabelClass)
        .where(col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None))
        .order_by(col(LabelClass.position), col(LabelClass.id))
    )
    return list(rows.all())


async def get_class(session: AsyncSession, class_id: int, *, include_deleted: bool = False) -> LabelClass:
    label = await session.get(LabelClass, class_id)
    if label is None or (label.deleted_at is not None and not include_deleted):
        raise NotFound(f"label class {class_id} does not exist", id=class_id)
    return label


async def _check_unique(
    session: AsyncSession,
    dataset_id: int,
    *,
    name: str | None,
    hotkey: str | None,
    except_id: int | None,
) -> None:
    live = select(LabelClass).where(
        col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None)
    )
    if except_id is not None:
        live = live.where(col(LabelClass.id) != except_id)
    for other in (await session.scalars(live)).all():
        if name is not None and other.name.lower() == name.lower():
            raise Conflict(f"a class named '{other.name}' already exists in this dataset")
        if hotkey is not None and other.hotkey == hotkey:
            raise Conflict(f"hotkey '{hotkey}' is already used by class '{other.name}'")


async def next_free_hotkey(session: AsyncSession, dataset_id: int) -> str | None:
    """The first of ``AUTO_HOTKEYS`` no live class of the dataset holds; None when all are taken."""
    taken = set(
        (
            await session.scalars(
                select(col(LabelClass.hotkey)).where(
                    col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None)
                )
            )
        ).all()
    )
    return next((key for key in AUTO_HOTKEYS if key not in taken), None)


async def create_class(
    session: AsyncSession,
    dataset_id: int,
    name: str,
    color: str | None = None,
    hotkey: str | None = None,
    *,
    auto_hotkey: bool = False,
) -> LabelClass:
    """``auto_hotkey``: a class added without a hotkey gets the next free one (``AUTO_HOTKEYS``)."""
    name = clean_class_name(name)
    hotkey = clean_hotkey(hotkey)
    # the dataset's write lock until the commit: classes added at once are checked against each
    # other's names and hotkeys and get their own position, color and free hotkey (they read the
    # same before)
    await lock_dataset(session, dataset_id)
    count = await session.scalar(select(func.count()).where(col(LabelClass.dataset_id) == dataset_id)) or 0
    if hotkey is None and auto_hotkey:
        hotkey = await next_free_hotkey(session, dataset_id)
    color = clean_color(color) if color else default_color(count)
    await _check_unique(session, dataset_id, name=name, hotkey=hotkey, except_id=None)
    label = LabelClass(dataset_id=dataset_id, name=name, color=color, hotkey=hotkey, position=count)
    session.add(label)
    await session.commit()
    return label


async def update_class(
    session: AsyncSession,
    class_id: int,
    *,
    name: str | None = None,
    color: str | None = None,
    hotkey: str | None = None,
    clear_hotkey: bool = False,
) -> LabelClass:
    """Rename, recolor or re-key a class. Its tags follow it: they point at the class id."""
    label = await get_class(session, class_id)
    new_name = clean_class_name(name) if name is not None else None
    new_hotkey = clean_hotkey(hotkey) if hotkey is not None else None
    if new_name is not None or new_hotkey is not None:
        await lock_dataset(session, label.dataset_id)  # as create_class: checked against each other
        await session.refresh(label)
        if label.deleted_at is not None:  # deleted meanwhile
            raise NotFound(f"label class {class_id} does not exist", id=class_id)
    await _check_unique(session, label.dataset_id, name=new_name, hotkey=new_hotkey, except_id=label.id)
    if new_name is not None:
        label.name = new_name
    if color is not None:
        label.color = clean_color(color)
    if clear_hotkey:
        label.hotkey = None
    elif new_hotkey is not None:
        label.hotkey = new_hotkey
    await session.commit()
    return label


async def class_item_count(session: AsyncSession, class_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(col(CurrentLabel.label_id) == class_id)) or 0)


async def delete_class(session: AsyncSession, class_id: int, tagger: str) -> TagEvent | None:
    """Delete a class; items holding it are unlabeled by one recorded event (kind 'review')."""
    from backend.labels.events import TagRequest, record_event

    label = await get_class(session, class_id)
    # the dataset's write lock first: a second delete at once waits, then finds the class deleted
    # (NotFound) instead of recording the unlabel event again
    await lock_dataset(session, label.dataset_id)
    await session.refresh(label)
    if label.deleted_at is not None:
        raise NotFound(f"label class {class_id} does not exist", id=class_id)
    item_ids = list(
        (
            await session.scalars(
                select(col(CurrentLabel.item_id)).where(col(CurrentLabel.label_id) == label.id)
            )
        ).all()
    )
    event = None
    if item_ids:
        event = await record_event(
            session,
            TagRequest(
                dataset_id=label.dataset_id,
                tagger=tagger,
                item_ids=item_ids,
                label_id=label.id,
                op="remove",
                kind="review",
                parameters={"reason": "class deleted", "label_class": label.name},
            ),
            commit=False,
            allow_deleted_label=True,
        )
    label.deleted_at = utcnow()
    session.add(label)
    await session.commit()
    return event
