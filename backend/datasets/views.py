"""Read models of a dataset, a source and an item: what every door shows of one, built once.

REST and GraphQL each mapped these rows field by field; now both render the views below by field
name (``backend/api/rest/common.py::from_view``, ``backend/api/graphql/views.py::from_view``), so
a field added here shows in both or fails their schema tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from backend.accounts.disclosure import public_error, public_location
from backend.datasets.items import ItemWithLabels
from backend.datasets.service import DatasetSummary
from backend.settings import Settings
from backend.storage.tables import Item, Source


@dataclass(frozen=True, kw_only=True)
class DisplayView:
    """The display preset every page starts from: scale (linear, log, sqrt), colour map, and the
    percentiles of the unmasked positive pixels mapped to the ends of the map."""

    scale: str
    colormap: str
    p_low: float
    p_high: float


@dataclass(frozen=True, kw_only=True)
class DatasetView:
    """A dataset with its counts and display preset."""

    id: int
    name: str
    multi_label: bool
    created_at: datetime
    updated_at: datetime
    item_count: int
    labeled_count: int
    unreadable_count: int
    display: DisplayView

    @classmethod
    def of(cls, summary: DatasetSummary) -> DatasetView:
        d = summary.dataset
        assert d.id is not None, "a dataset read back from the database has an id"
        return cls(
            id=d.id,
            name=d.name,
            multi_label=d.multi_label,
            created_at=d.created_at,
            updated_at=d.updated_at,
            item_count=summary.item_count,
            labeled_count=summary.labeled_count,
            unreadable_count=summary.unreadable_count,
            display=DisplayView(
                scale=d.display_scale,
                colormap=d.display_colormap,
                p_low=d.display_p_low,
                p_high=d.display_p_high,
            ),
        )


@dataclass(frozen=True, kw_only=True)
class SourceView:
    """A source without its API key (only whether one is stored); ``problems``: a mask or PONI
    file left out, and why."""

    id: int
    kind: str
    uri: str
    position: int
    created_at: datetime
    scanned_at: datetime | None
    has_api_key: bool
    mask_path: str | None = None  # a mask file: nonzero pixels are masked
    mask_rules: list[str] = field(default_factory=list)  # zero, negative, saturated, gaps
    poni_path: str | None = None  # a PONI geometry file (pyFAI-calib2)
    problems: list[str] = field(default_factory=list)  # a mask or PONI left out, and why

    @classmethod
    def of(
        cls, source: Source, viewer_of: Settings | None = None, problems: list[str] | None = None
    ) -> SourceView:
        """``viewer_of``: the caller is a viewer, who sees folders relative to their data root and
        problems without the server's paths (decision 0007)."""
        assert source.id is not None, "a source read back from the database has an id"

        def shown(path: str | None) -> str | None:
            return path if viewer_of is None or path is None else public_location(path, viewer_of)

        found = problems or []
        return cls(
            id=source.id,
            kind=source.kind,
            uri=shown(source.uri) or "",
            position=source.position,
            created_at=source.created_at,
            scanned_at=source.scanned_at,
            has_api_key=bool(source.api_key),
            mask_path=shown(source.mask_path),
            mask_rules=[r for r in (source.mask_rules or "").split(",") if r],
            poni_path=shown(source.poni_path),
            problems=[public_error(p, viewer_of) or "" for p in found] if viewer_of else list(found),
        )


@dataclass(frozen=True, kw_only=True)
class ItemMetadataView:
    """What the file's header says about the acquisition; each field only where present."""

    run: str | None = None
    sample: str | None = None
    exposure: float | None = None  # seconds
    time: str | None = None  # ISO 8601 where the header's form is known, else as written
    temperature: float | None = None

    @classmethod
    def of(cls, meta: dict[str, Any] | None) -> ItemMetadataView | None:
        if not meta:
            return None
        names = ("run", "sample", "exposure", "time", "temperature")
        return cls(**{k: meta[k] for k in names if meta.get(k) is not None})


@dataclass(frozen=True, kw_only=True)
class ItemView:
    """One item of a dataset with its current labels."""

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
    metadata: ItemMetadataView | None = None

    @classmethod
    def of(cls, item: Item, label_ids: list[int]) -> ItemView:
        assert item.id is not None, "an item read back from the database has an id"
        return cls(
            id=item.id,
            dataset_id=item.dataset_id,
            source_id=item.source_id,
            uri=item.uri,
            frame=item.frame,
            position=item.position,
            height=item.height,
            width=item.width,
            channels=item.channels,
            dtype=item.dtype,
            status=item.status,
            error=item.error,
            label_ids=list(label_ids),
            metadata=ItemMetadataView.of(item.meta),
        )

    @classmethod
    def with_labels(cls, entry: ItemWithLabels) -> ItemView:
        return cls.of(entry.item, entry.label_ids)

    def for_viewer(self, settings: Settings) -> ItemView:
        """What a viewer sees (decision 0007): the error in one line without the server's paths."""
        return replace(self, error=public_error(self.error, settings))
