"""Datasets and their sources: thin resolvers over ``backend.datasets.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.access import shows_internals
from backend.api.graphql.classes import LabelClass
from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import Progress
from backend.api.graphql.views import from_view
from backend.datasets import service
from backend.datasets.display import display_preset, set_display, with_overrides
from backend.datasets.ingest import ScanReport as DomainScanReport
from backend.datasets.service import DatasetSummary
from backend.datasets.views import DatasetView, SourceView
from backend.errors import NotFound
from backend.labels.classes import list_classes
from backend.labels.progress import dataset_progress
from backend.settings import Settings
from backend.sources.detector import set_detector, source_problems
from backend.storage import tables


@strawberry.type(description="A source of items: a folder under a data root, or a Tiled node.")
class Source:
    id: int
    kind: str
    uri: str
    position: int
    created_at: datetime
    scanned_at: datetime | None
    has_api_key: bool = strawberry.field(description="Whether an API key is stored; keys never leave.")
    mask_path: str | None = strawberry.field(description="A mask file: nonzero pixels are masked.")
    mask_rules: list[str] = strawberry.field(
        description="Pixels masked in every frame by rule: zero, negative, saturated, gaps."
    )
    poni_path: str | None = strawberry.field(description="A PONI geometry file (pyFAI-calib2).")
    problems: list[str] = strawberry.field(
        description="A mask or PONI file left out, and why (the items stay usable)."
    )

    @classmethod
    def of(
        cls, source: tables.Source, viewer_of: Settings | None = None, problems: list[str] | None = None
    ) -> Source:
        """``viewer_of``: the caller is a viewer, who sees folders relative to their data root."""
        return from_view(cls, SourceView.of(source, viewer_of, problems))


@strawberry.type(description="The display preset every page starts from.")
class Display:
    scale: str = strawberry.field(description="linear, log or sqrt.")
    colormap: str = strawberry.field(description="gray, viridis, magma, inferno or cividis.")
    p_low: float = strawberry.field(description="Percentile of the unmasked positive pixels mapped to 0.")
    p_high: float = strawberry.field(description="Percentile mapped to 1.")


@strawberry.input(description="A display preset; what is left out stays as it is.")
class DisplayInput:
    scale: str | None = None
    colormap: str | None = None
    p_low: float | None = None
    p_high: float | None = None


@strawberry.type(description="A named set of items drawn from one or more sources.")
class Dataset:
    id: int
    name: str
    multi_label: bool
    created_at: datetime
    updated_at: datetime
    item_count: int
    labeled_count: int
    unreadable_count: int
    display: Display

    @classmethod
    def of(cls, summary: DatasetSummary) -> Dataset:
        return from_view(cls, DatasetView.of(summary))

    @strawberry.field(description="The dataset's sources in order (API keys are never returned).")
    async def sources(self, info: Info[Any, Any]) -> list[Source]:
        context = context_of(info)
        viewer = None
        if context.connection is not None and not shows_internals(context.connection):
            viewer = context.settings  # decision 0007: viewers see no server paths
        settings = context.settings
        async with use_session(info) as session:
            return [
                Source.of(s, viewer, await source_problems(session, settings, s))
                for s in await service.list_sources(session, self.id)
            ]

    @strawberry.field(description="The dataset's live label classes in order.")
    async def classes(self, info: Info[Any, Any]) -> list[LabelClass]:
        async with use_session(info) as session:
            return [LabelClass.of(c) for c in await list_classes(session, self.id)]

    @strawberry.field(description="Labeled and unlabeled counts, and items per class.")
    async def progress(self, info: Info[Any, Any]) -> Progress:
        async with use_session(info) as session:
            return Progress.of(await dataset_progress(session, self.id))


@strawberry.type(
    description="What a scan found: new items; items that cannot be read (new ones, and known ones that no "
    "longer read); vanished files; items usable again (a file back, or one that reads now)."
)
class ScanReport:
    added: int
    unreadable: int
    missing: int
    restored: int

    @classmethod
    def of(cls, report: DomainScanReport) -> ScanReport:
        return from_view(cls, report)


@strawberry.type
class CreatedDataset:
    dataset: Dataset
    scan: ScanReport


@strawberry.input(description="A Tiled API key for one of the sources; kept on the server, never returned.")
class SourceKeyInput:
    source: str
    api_key: str


@strawberry.input(description="A new dataset from folders under the data roots (or Tiled URIs).")
class CreateDatasetInput:
    name: str
    sources: list[str]
    multi_label: bool = False
    api_keys: list[SourceKeyInput] = strawberry.field(default_factory=list)


async def _summary(info: Info[Any, Any], dataset_id: int) -> Dataset:
    async with use_session(info) as session:
        return Dataset.of(await service.dataset_summary(session, dataset_id))


@strawberry.type
class Query:
    @strawberry.field(description="Every dataset with its item, labeled and unreadable counts, by name.")
    async def datasets(self, info: Info[Any, Any]) -> list[Dataset]:
        async with use_session(info) as session:
            return [Dataset.of(s) for s in await service.list_datasets(session)]

    @strawberry.field(description="One dataset with its counts (NOT_FOUND when unknown).")
    async def dataset(self, info: Info[Any, Any], id: int) -> Dataset:
        return await _summary(info, id)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a dataset from sources and scan them: all of it, or nothing.")
    async def create_dataset(self, info: Info[Any, Any], input: CreateDatasetInput) -> CreatedDataset:
        settings = context_of(info).settings
        async with use_session(info) as session:
            dataset, report = await service.create_dataset(
                session,
                settings,
                input.name,
                input.sources,
                multi_label=input.multi_label,
                api_keys={k.source: k.api_key for k in input.api_keys},
            )
        assert dataset.id is not None
        return CreatedDataset(dataset=await _summary(info, dataset.id), scan=ScanReport.of(report))

    @strawberry.mutation(
        description="Rename a dataset, switch multi-label and/or set its display preset; a refusal "
        "changes nothing."
    )
    async def update_dataset(
        self,
        info: Info[Any, Any],
        id: int,
        name: str | None = None,
        multi_label: bool | None = None,
        display: DisplayInput | None = None,
    ) -> Dataset:
        shown = display or DisplayInput()
        changes: dict[str, Any] = {
            "scale": shown.scale,
            "colormap": shown.colormap,
            "p_low": shown.p_low,
            "p_high": shown.p_high,
        }
        async with use_session(info) as session:
            with_overrides(await display_preset(session, id), **changes)  # refused: nothing changes
            await service.update_dataset(session, id, name=name, multi_label=multi_label)
            if display is not None:
                await set_display(session, id, **changes)
        return await _summary(info, id)

    @strawberry.mutation(
        description="Set a source's mask file, mask rules and PONI geometry file (files under the data "
        'roots; "" clears one). A mask or PONI that does not fit the frames is refused.'
    )
    async def update_source(
        self,
        info: Info[Any, Any],
        dataset_id: int,
        id: int,
        mask_path: str | None = None,
        mask_rules: list[str] | None = None,
        poni_path: str | None = None,
    ) -> Source:
        settings = context_of(info).settings
        async with use_session(info) as session:
            if not any(s.id == id for s in await service.list_sources(session, dataset_id)):
                raise NotFound(f"source {id} is not a source of dataset {dataset_id}", id=id)
            source = await set_detector(
                session, settings, id, mask_path=mask_path, mask_rules=mask_rules, poni_path=poni_path
            )
            return Source.of(source, None, await source_problems(session, settings, source))

    @strawberry.mutation(description="Delete a dataset's rows (image files are never touched); gives its id.")
    async def delete_dataset(self, info: Info[Any, Any], id: int) -> int:
        async with use_session(info) as session:
            await service.delete_dataset(session, id)
        return id

    @strawberry.mutation(description="Add a folder or Tiled source to a dataset and scan it.")
    async def add_source(
        self, info: Info[Any, Any], dataset_id: int, source: str, api_key: str | None = None
    ) -> ScanReport:
        settings = context_of(info).settings
        async with use_session(info) as session:
            report = await service.add_source(session, settings, dataset_id, source, api_key=api_key)
        return ScanReport.of(report)

    @strawberry.mutation(description="Pick up new files and mark vanished ones (their labels stay).")
    async def rescan_dataset(self, info: Info[Any, Any], id: int) -> ScanReport:
        settings = context_of(info).settings
        async with use_session(info) as session:
            return ScanReport.of(await service.rescan_dataset(session, settings, id))
