"""Datasets, their sources and their items: thin handlers over ``backend.datasets``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.access import shows_internals
from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, from_view
from backend.api.rest.schemas import (
    CreatedDataset,
    DatasetOut,
    EventOut,
    ItemOut,
    ItemPageOut,
    ScanReportOut,
    SourceOut,
)
from backend.datasets import service
from backend.datasets.display import display_preset, set_display, with_overrides
from backend.datasets.items import MetaFilter, list_items, meta_values
from backend.datasets.views import ItemView
from backend.errors import NotFound
from backend.labels.by_metadata import label_matching
from backend.sources.detector import set_detector, source_problems


class DatasetCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new dataset from folders under the data roots (or Tiled URIs), scanned at once."""

    name: str
    sources: list[str]
    multi_label: bool = False
    # Tiled API keys by source; kept on the server, never returned.
    api_keys: dict[str, str] = msgspec.field(default_factory=dict)


class DisplayPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The display preset every page starts from; what is left out stays as it is."""

    scale: Literal["linear", "log", "sqrt"] | None = None
    colormap: Literal["gray", "viridis", "magma", "inferno", "cividis"] | None = None
    p_low: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    p_high: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None


class DatasetPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    multi_label: bool | None = None
    display: DisplayPatch | None = None


class SourcePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A source's detector mask and geometry; a field left out stays as it is, "" clears a file.

    Files are named like folders: under a data root (relative to one, or absolute inside one)."""

    mask_path: str | None = None  # .npy, .tif, .h5, .edf or .cbf (also .gz/.bz2); nonzero is masked
    mask_rules: list[str] | None = None  # zero, negative, saturated, gaps
    poni_path: str | None = None  # a .poni file as pyFAI-calib2 writes it


class SourceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    source: str
    api_key: str | None = None


class MetadataValuesOut(msgspec.Struct, kw_only=True):
    """Distinct runs, samples and exposures (s) of a dataset's items, sorted (at most 500 each)."""

    run: list[str]
    sample: list[str]
    exposure: list[float]


class LabelMatchingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Label every readable item of a run (or sample, exposure, time range) but the deselected."""

    label_id: int | None
    run: str | None = None
    sample: str | None = None
    exposure: float | None = None
    time_from: str | None = None
    time_to: str | None = None
    except_item_ids: list[int] | None = None  # null or absent: none (as GraphQL reads it)
    op: Literal["set", "add", "remove", "clear"] = "set"
    overwrite: bool = False
    seen_event_id: int | None = None

    def meta(self) -> MetaFilter:
        return MetaFilter(self.run, self.sample, self.exposure, self.time_from, self.time_to)


async def dataset_summary(session: AsyncSession, dataset_id: int) -> DatasetOut:
    """One dataset with its counts (404 when it does not exist)."""
    return DatasetOut.of(await service.dataset_summary(session, dataset_id))


class DatasetController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["datasets"]

    @get("/", summary="List datasets with item, labeled and unreadable counts")
    async def list_datasets(self, session: Session) -> list[DatasetOut]:
        return [DatasetOut.of(s) for s in await service.list_datasets(session)]

    @post("/", summary="Create a dataset from sources and scan them", status_code=201)
    async def create_dataset(
        self, session: Session, settings: AppSettings, data: JSONBody[DatasetCreate]
    ) -> CreatedDataset:
        dataset, report = await service.create_dataset(
            session, settings, data.name, data.sources, multi_label=data.multi_label, api_keys=data.api_keys
        )
        assert dataset.id is not None
        return CreatedDataset(
            dataset=await dataset_summary(session, dataset.id), scan=ScanReportOut.of(report)
        )

    @get("/{dataset_id:int}", summary="One dataset with its counts")
    async def get_dataset(self, session: Session, dataset_id: FromPath[int]) -> DatasetOut:
        return await dataset_summary(session, dataset_id)

    @patch(
        "/{dataset_id:int}",
        summary="Rename a dataset, switch multi-label on or off, or set its display preset",
    )
    async def update_dataset(
        self, session: Session, dataset_id: FromPath[int], data: JSONBody[DatasetPatch]
    ) -> DatasetOut:
        shown = data.display or DisplayPatch()
        changes: dict[str, Any] = {
            "scale": shown.scale,
            "colormap": shown.colormap,
            "p_low": shown.p_low,
            "p_high": shown.p_high,
        }
        with_overrides(await display_preset(session, dataset_id), **changes)  # refused: nothing changes
        await service.update_dataset(session, dataset_id, name=data.name, multi_label=data.multi_label)
        if data.display is not None:
            await set_display(session, dataset_id, **changes)
        return await dataset_summary(session, dataset_id)

    @delete("/{dataset_id:int}", summary="Delete a dataset's rows (image files are never touched)")
    async def delete_dataset(self, session: Session, dataset_id: FromPath[int]) -> None:
        await service.delete_dataset(session, dataset_id)

    @get("/{dataset_id:int}/sources", summary="The dataset's sources (API keys are never returned)")
    async def list_sources(
        self, request: Request, session: Session, settings: AppSettings, dataset_id: FromPath[int]
    ) -> list[SourceOut]:
        viewer = None if shows_internals(request) else settings  # decision 0007
        return [
            SourceOut.of(s, viewer, await source_problems(session, settings, s))
            for s in await service.list_sources(session, dataset_id)
        ]

    @patch(
        "/{dataset_id:int}/sources/{source_id:int}",
        summary="Set a source's detector mask (file, rules) and PONI geometry",
    )
    async def update_source(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        source_id: FromPath[int],
        data: JSONBody[SourcePatch],
    ) -> SourceOut:
        """A mask of another shape than the source's frames, or a PONI file for another detector
        size, is refused (400) and changes nothing."""
        if not any(s.id == source_id for s in await service.list_sources(session, dataset_id)):
            raise NotFound(f"source {source_id} is not a source of dataset {dataset_id}", id=source_id)
        source = await set_detector(
            session,
            settings,
            source_id,
            mask_path=data.mask_path,
            mask_rules=data.mask_rules,
            poni_path=data.poni_path,
        )
        return SourceOut.of(source, None, await source_problems(session, settings, source))

    @post("/{dataset_id:int}/sources", summary="Add a source and scan it", status_code=201)
    async def add_source(
        self, session: Session, settings: AppSettings, dataset_id: FromPath[int], data: JSONBody[SourceCreate]
    ) -> ScanReportOut:
        report = await service.add_source(session, settings, dataset_id, data.source, api_key=data.api_key)
        return ScanReportOut.of(report)

    @post("/{dataset_id:int}/rescan", summary="Pick up new files and mark vanished ones", status_code=200)
    async def rescan(
        self, session: Session, settings: AppSettings, dataset_id: FromPath[int]
    ) -> ScanReportOut:
        return ScanReportOut.of(await service.rescan_dataset(session, settings, dataset_id))

    @get("/{dataset_id:int}/items", summary="A page of items with their current labels")
    async def items(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        filter: FromQuery[Literal["all", "labeled", "unlabeled", "unreadable"]] = "all",
        label_id: FromQuery[int | None] = None,
        sort: FromQuery[Literal["position", "label", "run", "sample", "exposure", "time"]] = "position",
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, description="capped by the server's max_page_size")] = 48,
        run: Annotated[str | None, QueryParameter(description="items of this run/scan id")] = None,
        sample: Annotated[str | None, QueryParameter(description="items of this sample name")] = None,
        exposure: Annotated[float | None, QueryParameter(description="exposure (s), within 0.1 %")] = None,
        time_from: Annotated[str | None, QueryParameter(description="acquired at or after (ISO)")] = None,
        time_to: Annotated[str | None, QueryParameter(description="acquired at or before (ISO 8601)")] = None,
    ) -> ItemPageOut:
        page = await list_items(
            session,
            dataset_id,
            filter=filter,
            label_id=label_id,
            sort=sort,
            offset=offset,
            limit=limit,
            max_limit=settings.max_page_size,
            meta=MetaFilter(run, sample, exposure, time_from, time_to),
        )
        views = [ItemView.with_labels(e) for e in page.items]
        if not shows_internals(request):  # viewers: one-line errors without server paths (decision 0007)
            views = [view.for_viewer(settings) for view in views]
        return ItemPageOut(
            items=[from_view(ItemOut, view) for view in views],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @get(
        "/{dataset_id:int}/items/metadata-values",
        summary="Distinct runs, samples and exposures of the dataset's items (from the files' headers)",
        responses=error_responses(404),
    )
    async def metadata_values(self, session: Session, dataset_id: FromPath[int]) -> MetadataValuesOut:
        return MetadataValuesOut(**await meta_values(session, dataset_id))

    @post(
        "/{dataset_id:int}/items/label-matching",
        summary="Label a run (or sample, exposure, time range) except the deselected items, as one event",
        description="Every readable item whose header metadata match, minus except_item_ids, in one "
        "manual event whose parameters record the match and the number deselected. Labeled items are "
        "left alone unless overwrite, and so are items changed after seen_event_id (counted in "
        "skipped_labeled, skipped_changed). 400 without a filter or when nothing matches; 409 when "
        "nothing is left to label.",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def label_matching(
        self, request: Request, session: Session, settings: AppSettings, dataset_id: FromPath[int],
        data: JSONBody[LabelMatchingIn],
    ) -> EventOut:  # fmt: skip
        outcome = await label_matching(
            session,
            dataset_id,
            tagger=tagger_for(request, settings),
            meta=data.meta(),
            label_id=data.label_id,
            except_item_ids=data.except_item_ids,
            op=data.op,
            overwrite=data.overwrite,
            seen_event_id=data.seen_event_id,
        )
        return EventOut.of(outcome.event)


route_handlers = [DatasetController]
