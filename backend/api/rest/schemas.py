"""What the REST API returns: msgspec structs, each filled from its concept's read model
(``backend/*/views.py``) by field name. No secret column has a field here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from backend.api.rest.common import from_view
from backend.datasets.ingest import ScanReport
from backend.datasets.items import ItemWithLabels
from backend.datasets.service import DatasetSummary
from backend.datasets.views import DatasetView, ItemView, SourceView
from backend.guided.quality import ModelFitness
from backend.labels.progress import Progress
from backend.labels.views import ClassView, EventView, ProgressView, TagView
from backend.settings import Settings
from backend.storage.tables import Item, LabelClass, Source, Tag, TagEvent


class DisplayOut(msgspec.Struct, kw_only=True):
    """The display preset every page starts from: scale (linear, log, sqrt), colour map (gray,
    viridis, magma, inferno, cividis), and the percentiles of the unmasked positive pixels mapped
    to the ends of the map."""

    scale: str
    colormap: str
    p_low: float
    p_high: float


class DatasetOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    multi_label: bool
    created_at: datetime
    updated_at: datetime
    item_count: int
    labeled_count: int
    unreadable_count: int
    display: DisplayOut

    @classmethod
    def of(cls, summary: DatasetSummary) -> DatasetOut:
        return from_view(cls, DatasetView.of(summary))


class ScanReportOut(msgspec.Struct, kw_only=True):
    """What a scan found: new items, how many of them cannot be read, vanished and returned files."""

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


class SourceOut(msgspec.Struct, kw_only=True):
    """A source without its API key: only whether one is stored."""

    id: int
    kind: str
    uri: str
    position: int
    created_at: datetime
    scanned_at: datetime | None
    has_api_key: bool
    mask_path: str | None = None  # a mask file: nonzero pixels are masked
    mask_rules: list[str] = msgspec.field(default_factory=list)  # zero, negative, saturated, gaps
    poni_path: str | None = None  # a PONI geometry file (pyFAI-calib2)
    problems: list[str] = msgspec.field(default_factory=list)  # a mask or PONI left out, and why

    @classmethod
    def of(
        cls, source: Source, viewer_of: Settings | None = None, problems: list[str] | None = None
    ) -> SourceOut:
        """``viewer_of``: the caller is a viewer, who sees folders relative to their data root."""
        return from_view(cls, SourceView.of(source, viewer_of, problems))


class ItemMetadataOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the file's header says about the acquisition (EDF/CBF headers, NeXus and Eiger
    fields, the TIFF DateTime tag); each field only where present."""

    run: str | None = None
    sample: str | None = None
    exposure: float | None = None  # seconds
    time: str | None = None  # ISO 8601 where the header's form is known, else as written
    temperature: float | None = None


class ItemOut(msgspec.Struct, kw_only=True):
    id: int
    dataset_id: int
    source_id: int
    uri: str
    frame: int
    position: int
    height: int | None
    width: int | None
    channels: int | None
    dtype: str | None
    status: str
    error: str | None
    label_ids: list[int]
    metadata: ItemMetadataOut | None = None

    @classmethod
    def of(cls, item: Item, label_ids: list[int]) -> ItemOut:
        return from_view(cls, ItemView.of(item, label_ids))

    @classmethod
    def with_labels(cls, entry: ItemWithLabels) -> ItemOut:
        return from_view(cls, ItemView.with_labels(entry))


class ItemDetail(ItemOut, kw_only=True):
    location: str


class ItemPageOut(msgspec.Struct, kw_only=True):
    items: list[ItemOut]
    total: int
    offset: int
    limit: int


class ClassOut(msgspec.Struct, kw_only=True):
    id: int
    dataset_id: int
    name: str
    color: str
    hotkey: str | None
    position: int
    created_at: datetime

    @classmethod
    def of(cls, label: LabelClass) -> ClassOut:
        return from_view(cls, ClassView.of(label))


class ClassDeleted(msgspec.Struct, kw_only=True):
    """The event that unlabeled the class's items, when it had any."""

    deleted_class_id: int
    unlabel_event_id: int | None


class EventOut(msgspec.Struct, kw_only=True):
    id: int
    dataset_id: int
    tagger: str
    created_at: datetime
    kind: str
    model_id: int | None
    parameters: dict[str, Any]
    undoes_event_id: int | None
    tag_count: int

    @classmethod
    def of(cls, event: TagEvent) -> EventOut:
        return from_view(cls, EventView.of(event))


class TagOut(msgspec.Struct, kw_only=True):
    item_id: int
    op: str
    label_id: int | None

    @classmethod
    def of(cls, tag: Tag) -> TagOut:
        return from_view(cls, TagView.of(tag))


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


class ClassProgress(msgspec.Struct, kw_only=True):
    id: int
    name: str
    color: str
    hotkey: str | None
    count: int


class ProgressOut(msgspec.Struct, kw_only=True):
    total: int
    labeled: int
    unlabeled: int
    fraction: float
    classes: list[ClassProgress]

    @classmethod
    def of(cls, progress: Progress) -> ProgressOut:
        return from_view(cls, ProgressView.of(progress))


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


class FitnessOut(msgspec.Struct, kw_only=True):
    """A classifier's held-out accuracy beside the majority-class baseline: fit | unfit |
    unmeasured, and the rule's verdict in words (``reason``)."""

    status: str
    accuracy: float | None
    baseline_accuracy: float | None
    baseline_class: str | None
    min_accuracy: float
    held_out_items: int
    split: str | None
    per_class_recall: dict[str, float | None]
    reason: str

    @classmethod
    def of(cls, fitness: ModelFitness) -> FitnessOut:
        return from_view(cls, fitness)
