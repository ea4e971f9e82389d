"""Datasets and their sources: thin resolvers over ``backend.datasets.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.accounts.disclosure import public_location
from backend.api.access import shows_internals
from backend.api.graphql.classes import LabelClass
from backend.api.graphql.context import context_of, use_session
from backend.api.graphql.labels import Progress
from backend.datasets import service
from backend.datasets.ingest import ScanReport as DomainScanReport
from backend.datasets.service import DatasetSummary
from backend.labels.classes import list_classes
from backend.labels.progress import dataset_progress
from backend.settings import Settings
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

    @classmethod
    def of(cls, source: tables.Source, viewer_of: Settings | None = None) -> Source:
        """``viewer_of``: the caller is a viewer, who sees folders relative to their data root."""
        assert source.id is not None
        return cls(
            id=source.id,
            kind=source.kind,
            uri=source.uri if viewer_of is None else public_location(source.uri, viewer_of),
            position=source.position,
            created_at=source.created_at,
            scanned_at=source.scanned_at,
            has_api_key=bool(source.api_key),
        )


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

    @classmethod
    def of(cls, summary: DatasetSummary) -> Dataset:
        d = summary.dataset
        assert d.id is not None
        return cls(
            id=d.id,
            name=d.name,
            multi_label=d.multi_label,
            created_at=d.created_at,
            updated_at=d.updated_at,
            item_count=summary.item_count,
            labeled_count=summary.labeled_count,
            unreadable_count=summary.unreadable_count,
        )

    @strawberry.field(description="The dataset's sources in order (API keys are never returned).")
    async def sources(self, info: Info[Any, Any]) -> list[Source]:
        context = context_of(info)
        viewer = None
        if context.connection is not None and not shows_internals(context.connection):
            viewer = context.settings  # decision 0007: viewers see no server paths
        async with use_session(info) as session:
            return [Source.of(s, viewer) for s in await service.list_sources(session, self.id)]

    @strawberry.field(description="The dataset's live label classes in order.")
    async def classes(self, info: Info[Any, Any]) -> list[LabelClass]:
        async with use_session(info) as session:
            return [LabelClass.of(c) for c in await list_classes(session, self.id)]

    @strawberry.field(description="Labeled and unlabeled counts, and items per class.")
    async def progress(self, info: Info[Any, Any]) -> Progress:
        async with use_session(info) as session:
            return Progress.of(await dataset_progress(session, self.id))


@strawberry.type(description="What a scan found: new items, unreadable ones, vanished and returned files.")
class ScanReport:
    added: int
    unreadable: int
    missing: int
    restored: int

    @classmethod
    def of(cls, report: DomainScanReport) -> ScanReport:
        return cls(
            added=report.added, unreadable=report.unreadable, missing=report.missing, restored=report.restored
        )


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

    @strawberry.mutation(description="Rename a dataset and/or switch multi-label; a refusal changes nothing.")
    async def update_dataset(
        self, info: Info[Any, Any], id: int, name: str | None = None, multi_label: bool | None = None
    ) -> Dataset:
        async with use_session(info) as session:
            await service.update_dataset(session, id, name=name, multi_label=multi_label)
        return await _summary(info, id)

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
