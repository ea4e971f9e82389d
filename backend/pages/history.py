"""The dataset's labeling history: every event, newest first, with undo per event, and revoking what
a model (or one kind of batch in a time range) labeled, in one undo event. Same domain calls as
REST (``/events/{id}/undo``, ``/datasets/{id}/revoke``), GraphQL and the CLI."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.service import get_dataset
from backend.errors import Invalid, LabelwiseError
from backend.labels import history as label_history
from backend.labels.events import get_event, undo_event
from backend.labels.revoke import (
    REVOCABLE_KINDS,
    any_model_labeled,
    labels_still_models,
    revoke_labels,
    undone_by,
)
from backend.labels.undoable import nothing_left
from backend.models.queries import list_models
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, is_htmx, render, tagger_of
from backend.pages.form_values import moment, whole_number

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
PER_PAGE = 50


async def _context(session: AsyncSession, dataset_id: int, values: Any) -> dict[str, Any]:
    dataset = await get_dataset(session, dataset_id)
    page = max(1, whole_number(values.get("page"), "page") or 1)
    kind = str(values.get("kind") or "") or None
    listed = await label_history.list_events(
        session, dataset_id, kind=kind, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    ids = [e.id for e in listed.events]
    undone = await undone_by(session, [int(i) for i in ids if i is not None])
    summaries = await label_history.event_summaries(session, [int(i) for i in ids if i is not None])
    left_nothing = await nothing_left(session, listed.events, undone)  # no button that does nothing
    left = await labels_still_models(session, dataset_id=dataset_id)
    models = {m.id: m for m in await list_models(session)}
    return {
        "dataset": dataset,
        "events": listed.events,
        "total": listed.total,
        "page": page,
        "pages": max(1, -(-listed.total // PER_PAGE)),
        "kind": kind or "",
        "kinds": ("manual", *REVOCABLE_KINDS[1:], "undo"),
        "revocable_kinds": REVOCABLE_KINDS,
        "undone": undone,
        "nothing_left": left_nothing,
        "summaries": summaries,
        "labeling_models": [(models.get(m.model_id), m) for m in left],  # only models with labels left
        "models_labeled": bool(left) or await any_model_labeled(session, dataset_id),
        "model_id": whole_number(values.get("model_id"), "model_id"),
        "revoke_form": {},  # a refused revoke's kind and times, drawn again as the person entered them
        "notice": "",
        "problem": "",
    }


def _page(request: Request, context: dict[str, Any]) -> Template:
    if is_htmx(request):
        return render(request, "label/_history.html", **context)
    return render(request, "label/history.html", nav="datasets", **context)


@get("/datasets/{dataset_id:int}/history", **OPTS)
async def history_page(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Every labeling event, newest first, with what undid it."""
    return _page(request, await _context(session, dataset_id, request.query_params))


@post("/datasets/{dataset_id:int}/history/undo", **OPTS)
async def undo_one(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Undo one event (anyone's); items changed since are left and counted."""
    form = await request.form()
    event_id = whole_number(form.get("event_id"), "event_id")
    notice, problem = "", ""
    try:
        if event_id is None:
            raise Invalid("choose an event to undo")
        target = await get_event(session, event_id)
        if target.dataset_id != dataset_id:
            raise Invalid(f"event {event_id} is not an event of this dataset")
        done = await undo_event(session, event_id, tagger_of(request))
        skipped = int(done.parameters.get("skipped_count", 0))
        notice = f"Undid event #{event_id} by event #{done.id} ({done.tag_count} tag(s))."
        if skipped:
            notice += f" {skipped} item(s) relabeled since were left as they are."
    except LabelwiseError as exc:
        problem = exc.message
    context = await _context(session, dataset_id, form)
    context.update(notice=notice, problem=problem)
    return render(request, "label/_history.html", **context)


@post("/datasets/{dataset_id:int}/history/revoke", **OPTS)
async def revoke(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Revoke a model's labels, or one kind of batch in a time range, as one undo event."""
    form = await request.form()
    notice, problem = "", ""
    try:
        result = await revoke_labels(
            session,
            dataset_id,
            tagger=tagger_of(request),
            model_id=whole_number(form.get("model_id"), "model_id"),
            kind=str(form.get("revoke_kind") or "") or None,
            since=moment(form.get("since"), "since"),
            until=moment(form.get("until"), "until"),
        )
        notice = (
            f"Revoked the labels of {result.revoked} item(s) from {result.event_count} event(s) "
            f"as event #{result.event.id}."
        )
        if result.skipped:
            notice += f" {result.skipped} item(s) relabeled since by another event were left as they are."
    except LabelwiseError as exc:
        problem = exc.message
    context = await _context(session, dataset_id, {"model_id": form.get("model_id")})
    context.update(notice=notice, problem=problem)
    if problem:  # refused: the form as it was sent (the person fixes a field, not all of them again)
        context["revoke_form"] = {k: str(form.get(k) or "") for k in ("revoke_kind", "since", "until")}
    return render(request, "label/_history.html", **context)


route_handlers = [history_page, undo_one, revoke]
