"""The SQLModel tables. Big arrays never live here: rows point at files under the artifact dir."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from backend.storage.types import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE", index: bool = True) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column_args=[ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


class Dataset(SQLModel, table=True):
    __tablename__ = "dataset"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    multi_label: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # ---- keep models fresh (backend/jobs/fresh.py; migration 0007) ----
    # On: a finished training enqueues its inference, an inference its index build, and a
    # classifier is retrained once the labels grew by ``fresh_growth`` since its training.
    # Only jobs finished after ``fresh_since`` (when it was switched on) are followed up.
    keep_models_fresh: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    fresh_growth: float = Field(default=0.2, sa_column_kwargs={"server_default": "0.2"})
    fresh_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The display preset every page starts from (backend/images/display.py); a viewer may still
    # change it for one page through the URL.
    display_scale: str = Field(default="linear", max_length=10)
    display_colormap: str = Field(default="gray", max_length=20)
    display_p_low: float = 1.0
    display_p_high: float = 99.0
    # When the preset or a source's mask changed: renderings made before are stale.
    display_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Source(SQLModel, table=True):
    """Where a dataset's items come from: a folder under a data root, or a Tiled node."""

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = _fk("dataset.id")
    kind: str = Field(max_length=20)  # "folder" | "tiled"
    uri: str = Field(sa_type=Text)
    # Server-side secret (a Tiled API key), encrypted (backend/storage/secrets_at_rest.py).
    # Never leaves the server: no API type exposes it.
    api_key: str | None = Field(default=None, sa_type=Text, repr=False)
    position: int = 0
    created_at: datetime = _ts()
    scanned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Detector setup (backend/sources/detector.py): files as absolute paths inside the data roots.
    mask_path: str | None = Field(default=None, sa_type=Text)
    mask_rules: str = Field(default="", max_length=100)  # comma-separated backend.images.masks.MASK_RULES
    poni_path: str | None = Field(default=None, sa_type=Text)


class Item(SQLModel, table=True):
    """One image of a dataset. ``uri`` is source-relative; ``frame`` picks a TIFF page / stack frame."""

    __tablename__ = "item"
    __table_args__ = (
        Index("ix_item_dataset_position", "dataset_id", "position"),
        Index("ux_item_source_uri_frame", "source_id", "uri", "frame", unique=True),
    )

    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True)
    dataset_id: int = _fk("dataset.id", index=False)
    source_id: int = _fk("source.id")
    uri: str = Field(sa_type=Text)
    frame: int = 0
    position: int = Field(default=0, sa_type=BigInteger)
    height: int | None = None
    width: int | None = None
    channels: int | None = None
    dtype: str | None = Field(default=None, max_length=20)
    status: str = Field(default="ok", max_length=20)  # ok | unreadable | missing
    error: str | None = Field(default=None, sa_type=Text)
    # What the file's header says about the acquisition: run, sample, exposure (s), time (ISO),
    # temperature; only the keys present (backend/images/detector.py METADATA_KEYS).
    meta: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )


class LabelClass(SQLModel, table=True):
    __tablename__ = "label_class"
    __table_args__ = (
        # Names and hotkeys are unique among a dataset's live classes; deleted ones keep history.
        Index(
            "ux_label_class_live_name",
            "dataset_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = _fk("dataset.id")
    name: str = Field(max_length=100)
    color: str = Field(max_length=7)
    hotkey: str | None = Field(default=None, max_length=1)
    position: int = 0
    created_at: datetime = _ts()
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TagEvent(SQLModel, table=True):
    """An append-only record of one labeling action."""

    __tablename__ = "tag_event"
    __table_args__ = (Index("ix_tag_event_dataset_time", "dataset_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = _fk("dataset.id", index=False)
    tagger: str = Field(max_length=100, index=True)
    created_at: datetime = _ts()
    kind: str = Field(max_length=20)  # manual | similarity | probability | explorer | import | review | undo
    model_id: int | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    undoes_event_id: int | None = Field(default=None, sa_column_args=[ForeignKey("tag_event.id")])
    tag_count: int = 0


class Tag(SQLModel, table=True):
    """One change an event made to one item: set / add / remove a label, or clear all labels."""

    __tablename__ = "tag"
    __table_args__ = (Index("ix_tag_item_event", "item_id", "event_id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    event_id: int = _fk("tag_event.id")
    item_id: int = _fk("item.id", index=False)
    op: str = Field(max_length=6)  # set | add | remove | clear
    label_id: int | None = Field(default=None, sa_column_args=[ForeignKey("label_class.id")])


class CurrentLabel(SQLModel, table=True):
    """The labels the events add up to, kept in the same transaction as each event."""

    __tablename__ = "current_label"
    __table_args__ = (Index("ix_current_label_dataset_label", "dataset_id", "label_id"),)

    item_id: int = Field(sa_column_args=[ForeignKey("item.id", ondelete="CASCADE")], primary_key=True)
    label_id: int = Field(sa_column_args=[ForeignKey("label_class.id")], primary_key=True)
    dataset_id: int = Field(sa_column_args=[ForeignKey("dataset.id", ondelete="CASCADE")])
    event_id: int = Field(sa_column_args=[ForeignKey("tag_event.id")])
    tagger: str = Field(max_length=100)
    updated_at: datetime = _ts()


class Rejection(SQLModel, table=True):
    """ "Not this class": an item someone left out of a batch of that class (docs/decisions/0015).

    Active while ``cleared_event_id`` is null; a later label of the item as that class, or an undo
    of the batch that recorded it, clears it (and undoing that clears the clearing)."""

    __tablename__ = "rejection"
    __table_args__ = (Index("ix_rejection_dataset_label", "dataset_id", "label_id"),)

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = _fk("dataset.id", index=False)
    item_id: int = _fk("item.id")
    label_id: int = Field(sa_column_args=[ForeignKey("label_class.id")])
    event_id: int = _fk("tag_event.id")  # the batch that left the item out
    tagger: str = Field(max_length=100)
    created_at: datetime = _ts()
    cleared_event_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("tag_event.id")], index=True
    )
