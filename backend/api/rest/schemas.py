"""What the REST API returns: msgspec structs, each filled from its concept's read model
(``backend/*/views.py``) by field name. No secret column has a field here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from backend.api.rest.common import from_view, rest_struct
from backend.datasets.ingest import ScanReport
from backend.datasets.views import DatasetView, DisplayView, ItemMetadataView, ItemView, SourceView
from backend.guided.quality import ModelFitness
from backend.labels.views import ClassProgressView, ClassView, EventView, ProgressView, TagView

if TYPE_CHECKING:  # handlers are checked against the read models themselves
    FitnessOut = ModelFitness
    DisplayOut = DisplayView
    DatasetOut = DatasetView
    SourceOut = SourceView
    ItemMetadataOut = ItemMetadataView
    ItemOut = ItemView
    ItemDetail = ItemView
    ClassOut = ClassView
    EventOut = EventView
    TagOut = TagView
    ClassProgress = ClassProgressView
    ProgressOut = ProgressView
else:
    FitnessOut = rest_struct(ModelFitness, "FitnessOut")
    DisplayOut = rest_struct(DisplayView, "DisplayOut")
    DatasetOut = rest_struct(DatasetView, "DatasetOut")
    SourceOut = rest_struct(SourceView, "SourceOut")
    ItemMetadataOut = rest_struct(ItemMetadataView, "ItemMetadataOut", omit_defaults=True)
    ItemOut = rest_struct(ItemView, "ItemOut", constructors=("of", "with_labels"))
    ItemDetail = rest_struct(ItemView, "ItemDetail", extra=(("location", str),), constructors=())
    ClassOut = rest_struct(ClassView, "ClassOut")
    EventOut = rest_struct(EventView, "EventOut")
    TagOut = rest_struct(TagView, "TagOut")
    ClassProgress = rest_struct(ClassProgressView, "ClassProgress")
    ProgressOut = rest_struct(ProgressView, "ProgressOut")


class ScanReportOut(msgspec.Struct, kw_only=True):
    """What a scan found: new items; items that cannot be read (new ones, and known ones that no
    longer read); vanished files; items usable again (a file back, or one that reads now)."""

    added: int
    unreadable: int
    missing: int
    restored: int

    @classmethod
    def of(cls, report: ScanReport) -> ScanReportOut:
        return from_view(cls, report)


class CreatedDataset(msgspec.Struct, kw_only=True):
    dataset: DatasetOut
    scan: ScanReportOut


class ItemPageOut(msgspec.Struct, kw_only=True):
    items: list[ItemOut]
    total: int
    offset: int
    limit: int


class ClassDeleted(msgspec.Struct, kw_only=True):
    """The event that unlabeled the class's items, when it had any."""

    deleted_class_id: int
    unlabel_event_id: int | None


class EventPageOut(msgspec.Struct, kw_only=True):
    events: list[EventOut]
    total: int
    offset: int
    limit: int


class EventDetail(msgspec.Struct, kw_only=True):
    event: EventOut
    tags: list[TagOut]
    tags_offset: int
    tags_limit: int


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One change an event made to the item."""

    event: EventOut
    op: str
    label_id: int | None


class ItemLabels(msgspec.Struct, kw_only=True):
    item_id: int
    label_ids: list[int]


class RefusedLine(msgspec.Struct, kw_only=True):
    line: int
    reason: str


class ImportReportOut(msgspec.Struct, kw_only=True):
    event_id: int | None
    accepted: int
    refused: list[RefusedLine]


class ErrorInfo(msgspec.Struct, kw_only=True):
    """The error as API v1 answered it before problem+json: the same code, message and details."""

    code: str
    message: str
    details: dict[str, Any] | None = None


class Problem(msgspec.Struct, kw_only=True):
    """Every error answer: an RFC 9457 problem (``application/problem+json``). ``code`` is the
    machine-readable code (one of those ``backend.api.errors.ERROR_CODES`` lists: INVALID,
    UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_LARGE, UNREADABLE, RATE_LIMITED,
    SOURCE_UNAVAILABLE, BROKER_UNAVAILABLE, DATABASE_UNAVAILABLE, ...), ``type`` is
    ``urn:labelwise:error:<code>``, ``detail`` says what went wrong for this request, ``details``
    holds what the code needs (``max_limit`` of a page too large, the rows an import refused...)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    details: dict[str, Any] | None = None
    error: ErrorInfo | None = None  # deprecated: code, message and details again, as API v1 had them
