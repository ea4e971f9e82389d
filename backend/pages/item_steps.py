"""What the item view adds to viewing: the gallery's neighbours (previous / next in its current order
and filter), labeling this one item by button or hotkey, and the raw value under the cursor."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.items import get_item, list_items
from backend.datasets.refs import ItemReader, item_refs
from backend.errors import Invalid
from backend.labels.classes import list_classes
from backend.labels.events import TagRequest, current_state
from backend.labels.tagging import tag_items
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render, tagger_of
from backend.pages.label import redo_last, undo_last
from backend.pages.view_state import ViewState
from backend.settings import Settings

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


async def neighbours(
    session: AsyncSession, dataset_id: int, item_id: int, state: ViewState
) -> tuple[str | None, str | None]:
    """Links to the items before and after this one in the gallery's view (its page, one either
    side); none when the item is not on that page (opened from elsewhere)."""
    offset = max(0, state.offset - 1)
    try:
        page = await list_items(
            session,
            dataset_id,
            filter=state.query_filter,
            label_id=state.class_filter,
            sort=state.sort,
            offset=offset,
            limit=state.per_page + 2,
            meta=state.meta_filter,
        )
    except Invalid:  # a view filtered on a class deleted since: no steps, as from elsewhere
        return None, None
    ids = [entry.item.id for entry in page.items]
    if item_id not in ids:
        return None, None
    at = ids.index(item_id)

    def link(index: int) -> str | None:
        if not 0 <= index < len(ids):
            return None
        on_page = (offset + index) // state.per_page + 1
        return f"/items/{ids[index]}?{state.query(page=on_page)}"

    return link(at - 1), link(at + 1)


@post("/items/{item_id:int}/label", **OPTS)
async def label_item(request: Request, session: AsyncSession, item_id: FromPath[int]) -> Template:
    """Label this one item (a class button or hotkey of the item view); answers with its labels.

    A key that changes nothing (the class the item has, Delete on an item without a label) records
    no event, as on the label page: it recorded a "clear" of nothing, listed in the history with an
    Undo. The answer says so (``data-unchanged``), and the view still opens the next item."""
    form = await request.form()
    item = await get_item(session, item_id)
    dataset_id = item.dataset_id
    classes = {c.id: c for c in await list_classes(session, dataset_id)}
    raw = str(form.get("label") or "")
    op = str(form.get("op") or "set")
    if op not in ("set", "add", "remove", "clear"):
        raise Invalid(f"unknown operation '{op}'")
    label_id = int(raw) if raw.isdigit() else None
    if op != "clear" and label_id not in classes:
        raise Invalid("that class no longer exists (deleted meanwhile): reload the page")
    name = classes[label_id].name if label_id in classes else ""
    tagged = await tag_items(
        session,
        TagRequest(
            dataset_id=dataset_id,
            tagger=tagger_of(request),
            item_ids=[item_id],
            label_id=label_id,
            op=op,
            kind="manual",
            parameters={"via": "item view"},
        ),
        skip_unchanged=True,
    )
    event = tagged.event
    if event is None:  # nothing recorded rolls back, which expires the item and classes read above
        classes = {c.id: c for c in await list_classes(session, dataset_id)}
    labels = sorted((await current_state(session, [item_id])).get(item_id, frozenset()))
    if event is not None:
        flash = f"Item {item_id}: {'unlabeled' if op == 'clear' else op + ' ' + name} (event #{event.id})."
    elif op == "clear":
        flash = f"Item {item_id} has no label: nothing to unlabel, nothing recorded."
    elif op == "remove":
        flash = f"Item {item_id} does not have {name}: nothing recorded."
    else:
        flash = f"Item {item_id} already has {name}: nothing recorded."
    return render(
        request,
        "label/_item_labels.html",
        labels=[classes[i] for i in labels if i in classes],
        flash=flash,
        event_id=event.id if event is not None else None,
        unchanged=event is None,
    )


@post("/items/{item_id:int}/undo", **OPTS)
async def undo_on_item(request: Request, session: AsyncSession, item_id: FromPath[int]) -> Template:
    """Ctrl+Z on the item view: the tagger's last labeling in the item's dataset undone, as on the
    label page (the item labeled before this one opened, say); answers with this item's labels as
    they are now and the flash line (``data-unchanged`` where nothing was undone)."""
    return await _undo_or_redo(request, session, item_id, undo_last)


@post("/items/{item_id:int}/redo", **OPTS)
async def redo_on_item(request: Request, session: AsyncSession, item_id: FromPath[int]) -> Template:
    """Ctrl+Shift+Z or Ctrl+Y on the item view: the undone labeling redone, as on the label page."""
    return await _undo_or_redo(request, session, item_id, redo_last)


async def _undo_or_redo(
    request: Request,
    session: AsyncSession,
    item_id: int,
    action: Callable[[AsyncSession, int, str], Awaitable[tuple[str, bool]]],
) -> Template:
    item = await get_item(session, item_id)
    dataset_id = item.dataset_id
    flash, changed = await action(session, dataset_id, tagger_of(request))
    classes = {c.id: c for c in await list_classes(session, dataset_id)}
    labels = sorted((await current_state(session, [item_id])).get(item_id, frozenset()))
    return render(
        request,
        "label/_item_labels.html",
        labels=[classes[i] for i in labels if i in classes],
        flash=flash,
        unchanged=not changed,
    )


@get("/items/{item_id:int}/pixel", **OPTS)
async def pixel(
    session: AsyncSession, settings: Settings, item_id: FromPath[int], x: FromQuery[int], y: FromQuery[int]
) -> Response[dict[str, Any]]:
    """The raw value (every channel) at column ``x``, row ``y`` of the item's frame, untransformed,
    and whether the source's mask (file or rules) takes that pixel out."""
    item = await get_item(session, item_id)
    refs = await item_refs(session, item.dataset_id, [item_id], readable_only=False)
    reader = ItemReader(settings)
    # as stored: through float32 an Eiger's saturated 4294967295 read 4294967296; decoded once for
    # the moves over one frame (ItemReader.readout)
    pixels, mask = await asyncio.to_thread(reader.readout, refs[0])
    height, width = pixels.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        raise Invalid(f"({x}, {y}) is outside the {width} x {height} frame")
    value = np.asarray(pixels[y, x]).tolist()
    value = [_raw(v) for v in value] if isinstance(value, list) else _raw(value)
    masked = bool(mask is not None and mask[y, x])
    return Response({"x": x, "y": y, "value": value, "dtype": str(pixels.dtype), "masked": masked})


def _raw(value: float) -> float | str:
    """JSON has no NaN or infinity (a detector's dead pixels, a reduction's divide by zero): they
    are sent as "NaN", "Infinity", "-Infinity"; as null they read 0 under the cursor."""
    return (
        value if math.isfinite(value) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
    )


route_handlers = [label_item, undo_on_item, redo_on_item, pixel]
