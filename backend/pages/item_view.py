"""One item at full resolution: the same transform as the gallery, zoom and pan, histogram, history."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.disclosure import public_error, public_location
from backend.api.access import shows_internals
from backend.datasets.display import display_preset
from backend.datasets.items import frame_counts, get_item, item_location, items_before
from backend.datasets.refs import ItemReader, ItemRef, item_refs
from backend.datasets.service import get_dataset
from backend.errors import LabelwiseError
from backend.images.plots import line_svg
from backend.images.thumbnails import view_stride
from backend.images.transforms import counted_pixels
from backend.labels.classes import get_class, list_classes
from backend.labels.events import current_state
from backend.labels.history import item_history
from backend.pages.came_from import back_address
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, not_stored, render
from backend.pages.form_values import flag, whole_number
from backend.pages.item_steps import neighbours
from backend.pages.label import thumb_version
from backend.pages.view_state import ViewState
from backend.settings import Settings
from backend.storage.tables import LabelClass

log = logging.getLogger("labelwise.pages")
OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
BINS = 64


def histogram(
    pixels: np.ndarray, p_low: float, p_high: float, mask: np.ndarray | None = None
) -> dict[str, Any]:
    """Intensity histogram of the raw unmasked pixels, with the percentile bounds the transform
    uses (taken over the same pixels as the display's: unmasked, and positive where enough are)."""
    pixels = np.asarray(pixels, dtype=np.float32)
    counted = counted_pixels(pixels, mask)
    values = (pixels[counted] if counted is not None else pixels).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {
            "bars": [],
            "low": 0.0,
            "high": 0.0,
            "min": 0.0,
            "max": 0.0,
            "p_low_at": 0,
            "p_high_at": 0,
            "counted": 0,
            "pixels": int(pixels.size),
        }
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=BINS, range=(lo, hi if hi > lo else lo + 1))
    scaled = np.log1p(counts)
    peak = float(scaled.max()) or 1.0
    p_lo, p_hi = (float(v) for v in np.percentile(values, [p_low, p_high]))
    span = float(edges[-1] - edges[0]) or 1.0
    return {
        "bars": [(round(100 * float(s) / peak, 2), int(c)) for s, c in zip(scaled, counts, strict=True)],
        # the figures are over these pixel values only: "min 2" of a digit whose background is 0
        # read as wrong without saying that the zeros were left out
        "counted": int(values.size),
        "pixels": int(pixels.size),
        "min": lo,
        "max": hi,
        "low": p_lo,
        "high": p_hi,
        "p_low_at": round(100 * (p_lo - float(edges[0])) / span, 2),
        "p_high_at": round(100 * (p_hi - float(edges[0])) / span, 2),
    }


def integration_plots(ref: ItemRef, pixels: np.ndarray, mask: np.ndarray | None) -> dict[str, Any] | None:
    """I(q) and I(chi) as SVG where the item's source has a PONI geometry (None where it has none);
    a geometry that does not fit is said, not raised: the frame is still shown."""
    if not ref.source.detector.poni_path:
        return None
    from backend.images import geometry

    integrator = ref.source.detector.integrator((ref.height, ref.width), pixels.shape[:2])
    if integrator is None:
        return {"error": "the source's PONI file cannot be used: see the datasets page"}
    try:
        found = geometry.profiles(pixels, mask, integrator)
    except (ValueError, RuntimeError, IndexError) as exc:  # pyFAI's refusals of a frame it cannot use
        log.warning("integration of item %s failed: %s", ref.item_id, exc)
        return {"error": f"azimuthal integration failed: {exc}"}
    return {
        "q": Markup(line_svg(found.q, found.intensity_q, x_label=geometry.UNIT_LABEL, y_label="I(q)")),
        "chi": Markup(
            line_svg(found.chi, found.intensity_chi, x_label="χ (degrees)", y_label="I(χ)", log_y=False)
        ),
        "q_peak": float(found.q[np.nanargmax(found.intensity_q)])
        if np.isfinite(found.intensity_q).any()
        else None,
        "chi_band": found.chi_band,
    }


def review_return(dataset_id: int, values: Any) -> str | None:
    """The review page the item was opened from (``review``: that page's view, as its "open" link
    passes it), its classifier and page kept; None when opened from elsewhere."""
    raw = values.get("review")
    if raw is None:
        return None
    view = dict(parse_qsl(str(raw)))
    kept: dict[str, Any] = {"model_id": whole_number(view.get("model_id"), "review model_id")}
    kept["override_unfit"] = 1 if flag(view.get("override_unfit")) else None
    kept["page"] = whole_number(view.get("page"), "review page")
    query = urlencode({k: v for k, v in kept.items() if v is not None})
    return f"/datasets/{dataset_id}/review" + (f"?{query}" if query else "")


@get("/items/{item_id:int}", **OPTS)
async def item_view(
    request: Request, session: AsyncSession, settings: Settings, item_id: FromPath[int]
) -> Template:
    item = await get_item(session, item_id)
    state = ViewState.parse(request.query_params, await display_preset(session, item.dataset_id))
    location = await item_location(session, settings, item)
    if not shows_internals(request):  # viewers: relative to the data root (decision 0007)
        location = public_location(location, settings)
    classes = {c.id: c for c in await list_classes(session, item.dataset_id)}
    labels = sorted((await current_state(session, [item_id])).get(item_id, frozenset()))
    hist, plots, reason = None, None, item.error or ""
    if item.status == "ok":
        refs = await item_refs(session, item.dataset_id, [item_id], readable_only=False)
        try:
            # A histogram needs no more than a megapixel: a strided read keeps big frames cheap.
            stride = view_stride(item.height, item.width, 1_000_000)
            pixels, mask = await asyncio.to_thread(ItemReader(settings).read_masked, refs[0], stride=stride)
            hist = histogram(pixels, state.p_low, state.p_high, mask)
            plots = await asyncio.to_thread(integration_plots, refs[0], pixels, mask)
        except LabelwiseError as exc:
            reason = exc.message
    if not shows_internals(request):
        reason = public_error(reason, settings) or ""
    review = review_return(item.dataset_id, request.query_params)
    # opened from a batch page's tile: "back" returns to it (one of this dataset's pages only)
    came_from = None if review else back_address(request.query_params.get("back"), item.dataset_id)
    previous, following = None, None  # opened from the review: a class key goes back to it
    if review is None:
        opened_from_elsewhere = "page" not in request.query_params
        in_dataset_order = state.query_filter == "all" and state.sort == "position"
        if opened_from_elsewhere and in_dataset_order and state.class_filter is state.meta_filter is None:
            # opened from elsewhere (a batch page's tile, a link): the gallery's page the item is on
            # in the dataset's order. Only items of its first page had steps and a gallery to go back to.
            state = replace(state, page=await items_before(session, item) // state.per_page + 1)
        previous, following = await neighbours(session, item.dataset_id, item_id, state)
        if came_from:  # the steps from it keep the way back to the batch page
            kept = "&" + urlencode({"back": came_from})
            previous = previous and previous + kept
            following = following and following + kept
    page = render(
        request,
        "label/item.html",
        classes=list(classes.values()),
        multi=(await get_dataset(session, item.dataset_id)).multi_label,
        previous=previous,
        following=following,
        nav="datasets",
        item=item,
        frames=(await frame_counts(session, [item])).get((item.source_id, item.uri), 1),
        location=location,
        labels=[classes[i] for i in labels if i in classes],
        history=await _history(session, item_id, classes),
        hist=hist,
        plots=plots,
        reason=reason,
        state=state,
        version=thumb_version(await get_dataset(session, item.dataset_id)),
        back=review or came_from or f"/datasets/{item.dataset_id}/label?{state.query()}",
        review=request.query_params.get("review") if review else None,
        came_from=came_from,
    )
    return not_stored(page)


@get("/items/{item_id:int}/history", **OPTS)
async def item_history_part(request: Request, session: AsyncSession, item_id: FromPath[int]) -> Template:
    """The history panel alone: the item view asks for it again after it labels the item in place,
    and on Back to the view (item.js)."""
    item = await get_item(session, item_id)
    classes = {c.id: c for c in await list_classes(session, item.dataset_id)}
    return render(request, "label/_item_history.html", history=await _history(session, item_id, classes))


@get("/items/{item_id:int}/labels", **OPTS)
async def item_labels_part(request: Request, session: AsyncSession, item_id: FromPath[int]) -> Template:
    """The item's labels alone, as they are now: Back to the item view (item.js) shows them, and
    its keys add or remove from them."""
    item = await get_item(session, item_id)
    classes = {c.id: c for c in await list_classes(session, item.dataset_id)}
    labels = sorted((await current_state(session, [item_id])).get(item_id, frozenset()))
    return render(request, "label/_item_labels.html", labels=[classes[i] for i in labels if i in classes])


async def _history(
    session: AsyncSession, item_id: int, classes: dict[int | None, LabelClass]
) -> list[dict[str, Any]]:
    """The item's tag events, newest first, each with its class (a deleted one too)."""
    history = []
    for event, tag in await item_history(session, item_id):
        label = None
        if tag.label_id is not None:
            label = classes.get(tag.label_id) or await get_class(session, tag.label_id, include_deleted=True)
        history.append({"event": event, "tag": tag, "label": label})
    return list(reversed(history))


route_handlers = [item_view, item_history_part, item_labels_part]
