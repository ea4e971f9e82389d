"""The label page: a gallery of thumbnails, selection in the browser, labels by button or hotkey.

Labeling answers with out-of-band fragments (the marks of the visible tiles, the progress and class
panels, the flash line) so a keypress repaints only what changed; a view that labeling can empty
(unlabeled only, one class) reloads its gallery instead.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.display import display_preset, rendering_epoch_ms
from backend.datasets.items import frame_counts, get_item, list_items, meta_values
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, LabelwiseError, NotFound
from backend.feature_report.report import latest_report
from backend.images.service import item_png
from backend.images.thumbnails import ThumbnailCache
from backend.labels.by_metadata import label_matching
from backend.labels.classes import list_classes
from backend.labels.events import (
    TagRequest,
    current_state,
    last_redoable_event,
    last_undoable_event,
    undo_event,
)
from backend.labels.progress import dataset_progress
from backend.labels.replay import OPS
from backend.labels.tagging import tag_items
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, is_htmx, not_stored, render, tagger_of
from backend.pages.view_state import PAGE_SIZES, THUMB_SIZES, ViewState
from backend.settings import Settings
from backend.storage.tables import Dataset, LabelClass, TagEvent

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
MAX_SELECTION = 100_000


def parse_ids(raw: Any, name: str) -> list[int]:
    """``"3,4,9"`` to ``[3, 4, 9]`` (order kept, duplicates dropped)."""
    text = str(raw or "").strip()
    if not text:
        return []
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Invalid(f"{name} must be item ids separated by commas") from None
    if len(ids) > MAX_SELECTION:
        raise Invalid(f"at most {MAX_SELECTION} items at once")
    return list(dict.fromkeys(ids))


def thumb_version(dataset: Dataset) -> int:
    """Goes into thumbnail URLs: a dataset made again (ids reused), or whose display changed, never
    shows cached old pixels."""
    return rendering_epoch_ms(dataset)


async def gallery_context(session: AsyncSession, dataset_id: int, state: ViewState) -> dict[str, Any]:
    """Everything the gallery partial needs, in a fixed number of queries whatever the page size."""
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    by_id = {c.id: c for c in classes}
    notice = ""
    if state.class_filter is not None and state.class_filter not in by_id:
        notice = "The class this view was filtered on no longer exists; showing all items."
        state = replace(state, filter="all", page=1)
    page = await list_items(
        session,
        dataset_id,
        filter=state.query_filter,
        label_id=state.class_filter,
        sort=state.sort,
        offset=state.offset,
        limit=state.per_page,
        meta=state.meta_filter,
    )
    pages = max(1, -(-page.total // state.per_page))
    if state.page > pages:  # labeled elsewhere or filtered away: show the last page that exists
        state = replace(state, page=pages)
        page = await list_items(
            session,
            dataset_id,
            filter=state.query_filter,
            label_id=state.class_filter,
            sort=state.sort,
            offset=state.offset,
            limit=state.per_page,
        )
    return {
        "dataset": dataset,
        "classes": classes,
        "class_by_id": by_id,
        "items": page.items,
        "frames": await frame_counts(session, [entry.item for entry in page.items]),
        "total": page.total,
        "state": state,
        "pages": pages,
        "notice": notice,
        "base": f"/datasets/{dataset_id}/label",
        "version": thumb_version(dataset),
    }


async def panels_context(
    session: AsyncSession, dataset_id: int, tagger: str, just_recorded: TagEvent | None = None
) -> dict[str, Any]:
    """Progress and the undo/redo state. Right after a labeling event the latter is known without a
    query: that event is the one to undo, and nothing is left to redo."""
    progress = await dataset_progress(session, dataset_id)
    if just_recorded is not None:
        return {"progress": progress, "undoable": just_recorded, "redoable": None}
    undoable = await last_undoable_event(session, dataset_id, tagger)
    redoable = await last_redoable_event(session, dataset_id, tagger)
    return {"progress": progress, "undoable": undoable, "redoable": redoable}


@get("/datasets/{dataset_id:int}/label", **OPTS)
async def label_page(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """The whole page, or only the gallery when HTMX asks (paging, filters, transforms)."""
    state = ViewState.parse(request.query_params, await display_preset(session, dataset_id))
    context = await gallery_context(session, dataset_id, state)
    if is_htmx(request):
        return not_stored(render(request, "label/_gallery.html", **context))
    context.update(await panels_context(session, dataset_id, tagger_of(request)))
    context["feature_report"] = await latest_report(session, dataset_id)
    context["meta_values"] = await meta_values(session, dataset_id)
    return not_stored(
        render(
            request,
            "label/index.html",
            nav="datasets",
            page_sizes=PAGE_SIZES,
            thumb_sizes=THUMB_SIZES,
            **context,
        )
    )


@get("/datasets/{dataset_id:int}/label/tile/{item_id:int}", **OPTS)
async def tile(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    thumbnails: ThumbnailCache,
    dataset_id: FromPath[int],
    item_id: FromPath[int],
) -> Template:
    """One tile again after its thumbnail failed to load: tries the render to tell the reason."""
    state = ViewState.parse(request.query_params, await display_preset(session, dataset_id))
    item = await get_item(session, item_id)
    if item.dataset_id != dataset_id:
        raise NotFound(f"item {item_id} is not in dataset {dataset_id}")
    version = thumb_version(await get_dataset(session, dataset_id))
    reason = ""
    thumbnails.drop_if_older(item_id, state.transform, state.size, version)
    try:
        await item_png(session, settings, thumbnails, item_id, state.transform, state.size)
    except LabelwiseError as exc:
        reason = exc.message
    classes = {c.id: c for c in await list_classes(session, dataset_id)}
    labels = (await current_state(session, [item_id])).get(item_id, frozenset())
    return render(
        request,
        "label/_tile.html",
        entry={"item": item, "label_ids": sorted(labels)},
        frames=await frame_counts(session, [item]),
        class_by_id=classes,
        state=state,
        reason=reason,
        retried=True,
        version=version,
    )


async def _after_change(
    request: Request,
    session: AsyncSession,
    dataset_id: int,
    form: Any,
    flash: str,
    *,
    reload_gallery: bool | None = None,
    just_recorded: TagEvent | None = None,
) -> Template:
    """The out-of-band answer to every labeling action: marks of the visible tiles, panels, flash."""
    state = ViewState.parse(form, await display_preset(session, dataset_id))
    visible = parse_ids(form.get("visible"), "visible")
    dataset = await get_dataset(session, dataset_id)
    labels = await current_state(session, visible)
    context = await panels_context(session, dataset_id, tagger_of(request), just_recorded)
    classes = [count.label for count in context["progress"].classes]
    position = {c.id: (c.position, c.id) for c in classes}

    def order(label_id: int) -> tuple[int, int]:
        return position.get(label_id, (1 << 30, label_id))

    template = render(
        request,
        "label/_after_change.html",
        dataset=dataset,
        classes=classes,
        class_by_id={c.id: c for c in classes},
        mark_rows=[(i, sorted(labels.get(i, frozenset()), key=order)) for i in visible],
        flash=flash,
        state=state,
        **context,
    )
    if reload_gallery if reload_gallery is not None else state.drops_on_label:
        template.headers["HX-Trigger"] = "refresh-gallery"
    # once the panels are repainted: the Next actions panel asks the queue again (it debounces a burst)
    template.headers["HX-Trigger-After-Settle"] = "labels-changed"
    return template


def _names(label_id: int | None, classes: list[LabelClass]) -> str:
    for c in classes:
        if c.id == label_id:
            return f"'{c.name}'"
    return "?"


@post("/datasets/{dataset_id:int}/label/tag", **OPTS)
async def tag(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Label (or unlabel) the selection; the tagger is whoever the request says is labeling."""
    form = await request.form()
    item_ids = parse_ids(form.get("items"), "items")
    op = str(form.get("op") or "set")
    if op not in OPS:
        raise Invalid(f"unknown operation '{op}' (use one of {', '.join(OPS)})")
    raw_label = str(form.get("label") or "")
    label_id = int(raw_label) if raw_label.isdigit() else None
    if op in ("set", "add", "remove") and label_id is None:
        raise Invalid("pick a class to label with")
    if not item_ids:
        raise Invalid("select one or more items first (click, Ctrl+click, Shift+click, or 'a' for all)")
    await get_dataset(session, dataset_id)  # NotFound before anything else
    classes = await list_classes(session, dataset_id)
    if label_id is not None and label_id not in {c.id for c in classes}:
        # Deleted in another tab: say so and repaint the panels, so the stale button goes away.
        return await _after_change(
            request,
            session,
            dataset_id,
            form,
            "That class no longer exists (deleted meanwhile); nothing was labeled. "
            "The class list is up to date now.",
            reload_gallery=True,
        )
    tagged = await tag_items(
        session,
        TagRequest(
            dataset_id=dataset_id,
            tagger=tagger_of(request),
            item_ids=item_ids,
            label_id=label_id,
            op=op,
            kind="manual",
            parameters={"via": "label page"},
        ),
        skip_unchanged=True,
        skip_missing=True,
    )
    event, skipped = tagged.event, tagged.missing
    flash = "Nothing to change: the selection already had that label."
    if event is not None:
        if op == "remove":
            flash = f"Removed {_names(label_id, classes)} from {event.tag_count} item(s)"
        elif op == "clear":
            flash = f"Unlabeled {event.tag_count} item(s)"
        else:
            flash = f"Labeled {event.tag_count} item(s) as {_names(label_id, classes)}"
        flash += f" (event #{event.id}, by {event.tagger})."
    if skipped and event is None:
        flash = "None of the selected items exist any more (deleted elsewhere?); nothing was labeled."
    elif skipped:
        flash += f" {len(skipped)} item(s) no longer exist and were skipped."
    return await _after_change(
        request, session, dataset_id, form, flash, reload_gallery=bool(skipped) or None, just_recorded=event
    )


@post("/datasets/{dataset_id:int}/label/run", **OPTS)
async def label_run(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Label every readable item of the view's run / sample except the selected ones: one event."""
    form = await request.form()
    state = ViewState.parse(form)
    if state.meta_filter is None:
        raise Invalid("pick a run, a sample, an exposure or a time range first")
    raw_label = str(form.get("label") or "")
    if not raw_label.isdigit():
        raise Invalid("pick a class to label the run with")
    label_id = int(raw_label)
    classes = await list_classes(session, dataset_id)
    dataset = await get_dataset(session, dataset_id)
    try:
        outcome = await label_matching(
            session,
            dataset_id,
            tagger=tagger_of(request),
            meta=state.meta_filter,
            label_id=label_id,
            except_item_ids=parse_ids(form.get("except"), "except"),
            op="add" if dataset.multi_label else "set",
            overwrite=bool(form.get("overwrite")),
        )
    except (Conflict, Invalid) as exc:
        return await _after_change(request, session, dataset_id, form, exc.message, reload_gallery=True)
    names = {"time_from": "from", "time_to": "until"}
    which = " and ".join(f"{names.get(k, k)} {v}" for k, v in state.meta_filter.as_dict().items())
    deselected = int(outcome.event.parameters.get("deselected", 0))
    event = outcome.event
    flash = f"Labeled {event.tag_count} item(s) of {which} as {_names(label_id, classes)} (event #{event.id})"
    if deselected:
        flash += f"; {deselected} deselected item(s) left out"
    if outcome.skipped_labeled:
        flash += f"; {len(outcome.skipped_labeled)} already labeled were left as they are"
    return await _after_change(
        request, session, dataset_id, form, flash + ".", reload_gallery=True, just_recorded=event
    )


async def undo_last(session: AsyncSession, dataset_id: int, tagger: str) -> tuple[str, bool]:
    """Undo the tagger's last labeling in the dataset (the label page's Ctrl+Z, the item view's):
    the flash line, and whether anything changed."""
    event = await last_undoable_event(session, dataset_id, tagger)
    if event is None:
        return "Nothing of yours to undo here.", False
    try:
        done = await undo_event(session, event.id, tagger)  # type: ignore[arg-type]
    except Conflict as exc:
        return exc.message, False
    skipped = int(done.parameters.get("skipped_count", 0))
    flash = f"Undid event #{event.id} ({done.tag_count} tag(s))."
    if skipped:
        flash += f" {skipped} item(s) were relabeled since and were left as they are."
    return flash, True


async def redo_last(session: AsyncSession, dataset_id: int, tagger: str) -> tuple[str, bool]:
    """Redo the tagger's last undone labeling in the dataset: the flash line, and whether anything
    changed."""
    event = await last_redoable_event(session, dataset_id, tagger)
    if event is None:
        return "Nothing to redo.", False
    try:
        done = await undo_event(session, event.id, tagger)  # type: ignore[arg-type]
    except Conflict as exc:
        return exc.message, False
    if event.parameters.get("revoke"):
        # The latest event is a revoke (an undo of many events): redoing means putting its labels back.
        return f"Undid revoke #{event.id}: its labels are back ({done.tag_count} tag(s)).", True
    return f"Redid event #{event.parameters.get('undoes', event.id)} ({done.tag_count} tag(s)).", True


@post("/datasets/{dataset_id:int}/label/undo", **OPTS)
async def undo(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    form = await request.form()
    flash, changed = await undo_last(session, dataset_id, tagger_of(request))
    return await _after_change(
        request, session, dataset_id, form, flash, reload_gallery=True if changed else None
    )


@post("/datasets/{dataset_id:int}/label/redo", **OPTS)
async def redo(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    form = await request.form()
    flash, changed = await redo_last(session, dataset_id, tagger_of(request))
    return await _after_change(
        request, session, dataset_id, form, flash, reload_gallery=True if changed else None
    )


@get("/datasets/{dataset_id:int}/label/panels", **OPTS)
async def panels(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Progress, classes and the label bar again (after an error, or from another tab's change)."""
    return await _after_change(request, session, dataset_id, request.query_params, "")


@get("/datasets/{dataset_id:int}/label/progress", **OPTS)
async def progress_box(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """The Progress box, with the class panel and the label bar out of band, after the Next actions
    panel labeled items (its answer sends refresh-gallery; this page's own labeling answers repaint
    the panels themselves). No labels-changed: that panel has just drawn the queue as it is now."""
    dataset = await get_dataset(session, dataset_id)
    context = await panels_context(session, dataset_id, tagger_of(request))
    classes = [count.label for count in context["progress"].classes]
    return render(request, "label/_progress.html", dataset=dataset, classes=classes, **context)


@post("/tagger", **OPTS)
async def set_tagger(request: Request) -> Response[Any]:
    """Who is labeling in this browser: kept in a cookie, shown in the top bar, used for every event."""
    from backend.accounts.names import clean_tagger
    from backend.api.identity import TAGGER_COOKIE

    form = await request.form()
    name = clean_tagger(str(form.get("tagger") or ""))
    response: Response[Any] = Response("", headers={"HX-Refresh": "true"})
    response.set_cookie(TAGGER_COOKIE, name, max_age=365 * 24 * 3600, samesite="strict", path="/")
    return response


route_handlers = [label_page, tile, tag, label_run, undo, redo, panels, progress_box, set_tagger]
