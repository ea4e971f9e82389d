"""One item at full resolution: the same transform as the gallery, zoom and pan, histogram, history."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.disclosure import public_error, public_location
from backend.api.access import shows_internals
from backend.datasets.items import get_item, item_location
from backend.datasets.refs import ItemReader, item_refs
from backend.datasets.service import get_dataset
from backend.errors import LabelwiseError
from backend.images.thumbnails import view_stride
from backend.labels.classes import get_class, list_classes
from backend.labels.events import current_state
from backend.labels.history import item_history
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render
from backend.pages.item_steps import neighbours
from backend.pages.label import thumb_version
from backend.pages.view_state import ViewState
from backend.settings import Settings

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
BINS = 64


def histogram(pixels: np.ndarray, p_low: float, p_high: float) -> dict[str, Any]:
    """Intensity histogram of the raw pixels, with the percentile bounds the transform uses."""
    values = np.asarray(pixels, dtype=np.float32).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"bars": [], "low": 0.0, "high": 0.0, "min": 0.0, "max": 0.0, "p_low_at": 0, "p_high_at": 0}
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=BINS, range=(lo, hi if hi > lo else lo + 1))
    scaled = np.log1p(counts)
    peak = float(scaled.max()) or 1.0
    p_lo, p_hi = (float(v) for v in np.percentile(values, [p_low, p_high]))
    span = float(edges[-1] - edges[0]) or 1.0
    return {
        "bars": [(round(100 * float(s) / peak, 2), int(c)) for s, c in zip(scaled, counts, strict=True)],
        "min": lo,
        "max": hi,
        "low": p_lo,
        "high": p_hi,
        "p_low_at": round(100 * (p_lo - float(edges[0])) / span, 2),
        "p_high_at": round(100 * (p_hi - float(edges[0])) / span, 2),
    }


@get("/items/{item_id:int}", **OPTS)
async def item_view(
    request: Request, session: AsyncSession, settings: Settings, item_id: FromPath[int]
) -> Template:
    state = ViewState.parse(request.query_params)
    item = await get_item(session, item_id)
    location = await item_location(session, settings, item)
    if not shows_internals(request):  # viewers: relative to the data root (decision 0007)
        location = public_location(location, settings)
    classes = {c.id: c for c in await list_classes(session, item.dataset_id)}
    labels = sorted((await current_state(session, [item_id])).get(item_id, frozenset()))
    history = []
    for event, tag in await item_history(session, item_id):
        label = None
        if tag.label_id is not None:
            label = classes.get(tag.label_id) or await get_class(session, tag.label_id, include_deleted=True)
        history.append({"event": event, "tag": tag, "label": label})
    hist, reason = None, item.error or ""
    if item.status == "ok":
        refs = await item_refs(session, item.dataset_id, [item_id], readable_only=False)
        try:
            # A histogram needs no more than a megapixel: a strided read keeps big frames cheap.
            stride = view_stride(item.height, item.width, 1_000_000)
            pixels = await asyncio.to_thread(ItemReader(settings).read, refs[0], stride=stride)
            hist = histogram(pixels, state.p_low, state.p_high)
        except LabelwiseError as exc:
            reason = exc.message
    if not shows_internals(request):
        reason = public_error(reason, settings) or ""
    previous, following = await neighbours(session, item.dataset_id, item_id, state)
    return render(
        request,
        "label/item.html",
        classes=list(classes.values()),
        multi=(await get_dataset(session, item.dataset_id)).multi_label,
        previous=previous,
        following=following,
        nav="datasets",
        item=item,
        location=location,
        labels=[classes[i] for i in labels if i in classes],
        history=list(reversed(history)),
        hist=hist,
        reason=reason,
        state=state,
        version=thumb_version(await get_dataset(session, item.dataset_id)),
        back=f"/datasets/{item.dataset_id}/label?{state.query()}",
    )


route_handlers = [item_view]
