"""The label-error review page: suspected wrong labels, most suspect first, each kept or relabeled
with one key (a ``review`` event). Calls ``backend.guided.trust`` as REST and GraphQL do."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.service import get_dataset
from backend.errors import Invalid, LabelwiseError
from backend.guided import service, trust
from backend.guided.quality import default_choices, model_fitness
from backend.labels.classes import list_classes
from backend.models.queries import list_models
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, is_htmx, not_stored, render, tagger_of
from backend.pages.form_values import flag, whole_number
from backend.pages.guided import thumb_query
from backend.pages.label import thumb_version
from backend.settings import Settings

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
PER_PAGE = 24


async def _context(session: AsyncSession, settings: Settings, dataset_id: int, values: Any) -> dict[str, Any]:
    """What the suspects draw. Never an unfit classifier by default (decision 0011): its suspects are
    mostly right labels that one key would overwrite. One is reviewed only when the person names it
    and asks for it anyway (``override_unfit``); its verdict then shows beside every relabel button."""
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    models = await list_models(session, dataset_id=dataset_id, state="ready", kind="classifier")
    verdicts = {m.id: model_fitness(m, settings) for m in models}
    wanted = whole_number(values.get("model_id"), "model_id")
    page_number = max(1, whole_number(values.get("page"), "page", 1) or 1)
    choices = default_choices(models, settings)
    model_id = wanted if wanted is not None else (choices[0].id if choices else None)
    fitness = verdicts.get(model_id) if model_id is not None else None
    override = fitness is not None and fitness.unfit and flag(values.get("override_unfit"))
    context: dict[str, Any] = {
        "dataset": dataset,
        "classes": classes,
        "class_by_id": {c.id: c for c in classes},
        "models": models,
        "verdicts": verdicts,
        "model_id": model_id,
        "fitness": fitness,
        "override_unfit": override,
        "unfit_models": [],
        "thumb_query": thumb_query(dataset),
        "version": thumb_version(dataset),
        "suspects": [],
        "total": 0,
        "sources": [],
        "labeled_since": 0,
        "page": 1,
        "pages": 1,
        "per_page": PER_PAGE,
        "problem": "",
        "notice": "",
        "base": f"/datasets/{dataset_id}/review",
    }
    if model_id is None and models:
        context["unfit_models"] = [(m, verdicts[m.id]) for m in models]
        context["problem"] = (
            "Every classifier here is unfit: no better than always answering one class, so most of its "
            "suspects would be right labels. Label more items and train again."
        )
        return context
    if model_id is None:
        context["problem"] = "No trained classifier yet: train one and run its inference to find suspects."
        return context
    if fitness is not None and fitness.unfit and not override:
        return context  # the page names the verdict and asks before showing any suspect
    try:
        page = await _suspect_page(session, settings, dataset_id, model_id, page_number)
    except LabelwiseError as exc:
        context["problem"] = exc.message
        return context
    entries = await service.page_items(session, dataset_id, [s.item_id for s in page.suspects])
    context.update(
        suspects=list(zip(entries, page.suspects, strict=True)),
        total=page.total,
        sources=page.sources,
        labeled_since=page.labeled_since_training,
        page=page.offset // PER_PAGE + 1,
        pages=_pages(page.total),
    )
    return context


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


async def _suspect_page(
    session: AsyncSession, settings: Settings, dataset_id: int, model_id: int, number: int
) -> trust.SuspectPage:
    """Page ``number`` of the suspects, or the last one where fewer are left (the last suspects of
    the last page answered)."""
    page = await trust.label_suspects(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    if number > _pages(page.total):
        last = (_pages(page.total) - 1) * PER_PAGE
        page = await trust.label_suspects(
            session, settings, dataset_id=dataset_id, model_id=model_id, offset=last, limit=PER_PAGE
        )
    return page


@get("/datasets/{dataset_id:int}/review", **OPTS)
async def review_page(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Suspected wrong labels of the dataset by a classifier, most suspect first."""
    context = await _context(session, settings, dataset_id, request.query_params)
    if is_htmx(request):
        return not_stored(render(request, "review/_suspects.html", **context))
    return not_stored(render(request, "review/index.html", nav="datasets", **context))


@post("/datasets/{dataset_id:int}/review/answer", **OPTS)
async def review_answer(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Keep or relabel one suspect (a ``review`` event); answers with the next suspects."""
    form = await request.form()
    item_id = whole_number(form.get("item_id"), "item_id")
    if item_id is None:
        raise Invalid("which item? (item_id)")
    action = str(form.get("action") or "")
    event = await trust.review_label(
        session,
        dataset_id=dataset_id,
        model_id=whole_number(form.get("model_id"), "model_id"),
        item_id=item_id,
        action=action,
        label_id=whole_number(form.get("label_id"), "label_id"),
        tagger=tagger_of(request),
    )
    context = await _context(session, settings, dataset_id, form)
    context["notice"] = f"Item {item_id}: {'kept' if action == 'keep' else 'relabeled'} (event {event.id})."
    return render(request, "review/_suspects.html", **context)


route_handlers = [review_page, review_answer]
