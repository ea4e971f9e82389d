"""Per-request Strawberry DataLoaders: a field asked of every item of a list costs one batched
domain call, not one per item (a 500-item page with ``location`` was 500 lookups)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from backend.api.graphql.context import context_of, use_session
from backend.datasets.items import item_locations

Place = tuple[int, str, int]  # (source id, uri, frame)


def location_loader(info: Info[Any, Any]) -> DataLoader[Place, str]:
    """The request's loader of item locations, made on first use."""
    context = context_of(info)
    loader = context.loaders.get("location")
    if loader is None:

        async def load(places: list[Place]) -> list[str]:
            async with use_session(info) as session:
                return await item_locations(session, context.settings, list(places))

        loader = context.loaders["location"] = DataLoader(load_fn=load)
    return loader
