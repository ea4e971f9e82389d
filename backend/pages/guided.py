"""AI-guided labeling pages: "find similar" (a gallery ranked by similarity, labeled as one batch)
and probability labeling (items above a classifier threshold, labeled in one action).

Both call ``backend.guided.service`` as REST and GraphQL do. Problems a person can fix (no
vectors, index not built, nothing labeled yet) are shown in the page beside the form, not as an
error page; HTMX requests get the results partial only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.display import preset_of
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, LabelwiseError
from backend.feature_report.service import default_model
from backend.guided import service, trust
from backend.guided.quality import default_choices, model_fitness
from backend.guided.stopping import stopping_estimate
from backend.labels.batches import latest_event_id
from backend.labels.classes import list_classes
from backend.models.queries import list_models
from backend.pages.common import (
    PAGE_EXCEPTION_HANDLERS,
    is_htmx,
    left_out_notice,
    not_stored,
    render,
    tagger_of,
)
from backend.pages.form_values import flag, number, whole_number
from backend.pages.label import parse_ids, thumb_version
from backend.pages.view_state import PAGE_SIZES, ViewState
from backend.settings import Settings
from backend.storage.job_tables import Model
from backend.storage.tables import Dataset

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


def thumb_query(dataset: Dataset, size: int = 128) -> str:
    """Thumbnail URL parameters: the dataset's display preset at ``size``."""
    return ViewState.parse({"size": size}, preset_of(dataset)).thumb_query()


def _paging(values: Any) -> tuple[int, int]:
    page = max(1, whole_number(values.get("page"), "page", 1) or 1)
    per_page = whole_number(values.get("per_page"), "per_page", 48) or 48
    if per_page not in PAGE_SIZES:
        raise Invalid(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}")
    return page, per_page


HAND_DESELECTED = "hand_deselected"


def hand_rejected(form: Any, left_out: list[int]) -> list[int]:
    """The tiles left out of a batch that a person deselected one at a time (a click or key on
    that tile: ``hand_deselected``, which guided.js keeps), in ``left_out``'s order: only those are
    "not this class" (decision 0015). Tiles deselected in bulk ("f" on the flagged ones, "Select
    none", a Shift-click range dropping a tail) are left out of the batch but say nothing of
    their class. A form without the field (no script on the page) counts every tile left out."""
    if HAND_DESELECTED not in form:
        return left_out
    hand = set(parse_ids(form.get(HAND_DESELECTED), HAND_DESELECTED))
    return [i for i in left_out if i in hand]


def _query_ids(values: Any) -> list[int]:
    """Query items from ``item_id=3&item_id=4`` or ``items=3,4`` (what the hidden fields carry)."""
    given = values.getall("item_id", []) if hasattr(values, "getall") else []
    ids = [whole_number(v, "item_id") for v in given]
    return list(dict.fromkeys([*(i for i in ids if i is not None), *parse_ids(values.get("items"), "items")]))


async def _pick_model(
    session: AsyncSession, dataset_id: int, models: list[Model], wanted: int | None, kind: str
) -> int | None:
    """The model asked for; else the one the feature report points to; else the newest of ``kind``."""
    if wanted is not None:
        return wanted
    purpose = "vectors" if kind == "feature_extractor" else "probabilities"
    reported = await default_model(session, dataset_id, models, purpose)
    if reported is not None:
        return reported
    preferred = [m for m in models if m.kind == kind] or models
    return preferred[0].id if preferred else None


async def _default_model(
    session: AsyncSession,
    dataset_id: int,
    models: list[Model],
    wanted: int | None,
    kind: str,
    settings: Settings,
) -> int | None:
    """The model asked for, else the feature report's choice, else the newest one of ``kind``:
    never an unfit one (decision 0011)."""
    return await _pick_model(session, dataset_id, default_choices(models, settings), wanted, kind)


def _common(dataset: Dataset, classes: list[Any], models: list[Model]) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "classes": classes,
        "class_by_id": {c.id: c for c in classes},
        "models": models,
        "thumb_query": thumb_query(dataset),
        "version": thumb_version(dataset),
        "page_sizes": PAGE_SIZES,
    }


def _query(pairs: list[tuple[str, Any]]) -> str:
    """A view's query string (lists of ids stay comma-separated; no model: none named, the page's
    default, where "None" was an error on reload)."""
    return urlencode([(key, str(value)) for key, value in pairs if value is not None], safe=",")


def replace_address(request: Request, template_name: str, context: dict[str, Any]) -> Template:
    """The answer to a batch applied, drawn as the view it shows: the browser's address becomes that
    view (``HX-Replace-Url``), as the answer is the view after it (a similarity page's next
    candidates, a probability batch's first page); a reload or Back to the page drew the view of
    before from the old address (the items decided on offered again, the tiles left out of the new
    view put back selected). Its tiles' item views go back to that view too, not to the address it
    was sent from (``HX-Current-URL``), nor nowhere where a plain form POST sent none."""
    address = f"{context['base']}?{context['view_params']}&page={context['page']}"
    template = render(request, template_name, **{**context, "page_address": address})
    template.headers["HX-Replace-Url"] = address
    return template


# ---- similarity --------------------------------------------------------------------------------


def _similar_view(context: dict[str, Any]) -> dict[str, Any]:
    """The similarity view's query: ``view_keep`` without the items decided on earlier (``done``),
    ``view_params`` with them; the pager, the results' data-repaint and the address name it."""
    keep: list[tuple[str, Any]] = [
        ("items", ",".join(map(str, context["query_ids"]))),
        ("model_id", context["model_id"]),
        ("mode", context["mode"]),
        ("per_page", context["per_page"]),
    ]
    if context["exclude_labeled"]:
        keep.append(("exclude_labeled", 1))
    if context["label_id"]:
        keep.append(("label_id", context["label_id"]))
    done = [("done", ",".join(map(str, context["done"])))] if context["done"] else []
    context.update(view_keep=_query(keep), view_params=_query(keep + done))
    return context


async def _similar_context(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: int, values: Any
) -> dict[str, Any]:
    """What the similarity results draw, and the query of the view they show."""
    return _similar_view(await _similar_drawn(request, session, settings, dataset_id, values))


async def _similar_drawn(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: int, values: Any
) -> dict[str, Any]:
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    models = await list_models(session, dataset_id=dataset_id, state="ready")
    queries = _query_ids(values)
    page, per_page = _paging(values)
    asked = whole_number(values.get("model_id"), "model_id")
    model_id = await _default_model(session, dataset_id, models, asked, "feature_extractor", settings)
    mode = str(values.get("mode") or "mean")
    exclude_labeled = flag(values.get("exclude_labeled"))
    done = parse_ids(values.get("done"), "done")
    query_entries = await service.page_items(session, dataset_id, queries) if queries else []
    context: dict[str, Any] = {
        **_common(dataset, classes, models),
        "queries": query_entries,
        "query_ids": queries,
        "done": done,
        "label_id": _class_choice(classes, whole_number(values.get("label_id"), "label_id"), query_entries),
        "seen_event_id": await latest_event_id(session, dataset_id),
        "selected_ids": None,
        "warning": "",
        "model_id": model_id,
        "mode": mode,
        "exclude_labeled": exclude_labeled,
        "page": page,
        "per_page": per_page,
        "results": [],
        "total": 0,
        "problem": "",
        "notice": "",
        "flags": {},
        "flag_rule": "",
        "flagged_count": 0,
        "base": f"/datasets/{dataset_id}/similar",
    }
    if not queries:
        context["problem"] = "Choose an item to start from: open it and click “find similar”."
        return context
    if model_id is None:
        context["problem"] = "No trained model yet: train a feature extractor and run its inference."
        return context
    try:
        ranked = await service.similar_items(
            session,
            settings,
            service.index_cache(request.app.state),
            dataset_id=dataset_id,
            model_id=model_id,
            query_item_ids=queries,
            mode=mode,
            exclude_labeled=exclude_labeled,
            offset=(page - 1) * per_page,
            limit=per_page,
            exclude_item_ids=done,
            label_id=context["label_id"],  # items rejected for the class stay out
        )
    except LabelwiseError as exc:
        context["problem"] = exc.message
        return context
    entries = await service.page_items(session, dataset_id, ranked.item_ids)
    flags = await trust.batch_flags(
        session,
        settings,
        dataset_id=dataset_id,
        model_id=model_id,
        item_ids=ranked.item_ids,
        label_ids=[context["label_id"]] * len(ranked.item_ids),
    )
    context.update(
        flags=flags.flags,
        flag_rule=flags.rule,
        flagged_count=len(flags.flags),
        results=list(zip(entries, ranked.similarities, strict=True)),
        total=ranked.total,
        exact=ranked.exact,
        pages=max(1, -(-ranked.total // per_page)),
    )
    return context


def _class_choice(classes: list[Any], wanted: int | None, queries: list[Any]) -> int | None:
    """The class the label form starts on: the one chosen before, else the query items' label
    (the most common one among them), else the only class (the dropdown shows it: the flags are
    drawn for it), else none ("choose a class")."""
    known = {c.id for c in classes}
    if wanted in known:
        return wanted
    counts = Counter(lid for entry in queries for lid in entry.label_ids if lid in known)
    if counts:
        return counts.most_common(1)[0][0]
    return classes[0].id if len(classes) == 1 else None


def _similar_template(request: Request, context: dict[str, Any]) -> Template:
    if is_htmx(request):
        return render(request, "guided/_similar_results.html", **context)
    return render(request, "guided/similar.html", nav="datasets", **context)


@get("/datasets/{dataset_id:int}/similar", **OPTS)
async def similar_page(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Items ranked by similarity to the query items, best first, each with its score."""
    context = await _similar_context(request, session, settings, dataset_id, request.query_params)
    return not_stored(_similar_template(request, context))


@get("/datasets/{dataset_id:int}/similar/flags", **OPTS)
async def similar_flags(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """The guardrail flags of the tiles shown, for the class picked on the page: a class picked
    for an unlabeled query changes them (a tile among another class's labeled items). Only the
    badges and the rule are drawn again (out of band): the tiles, their selection and any label
    given in place meanwhile stay as they are."""
    values = request.query_params
    shown = parse_ids(values.get("shown_ids"), "shown_ids")
    label_id = whole_number(values.get("label_id"), "label_id")
    model_id = whole_number(values.get("model_id"), "model_id")
    await get_dataset(session, dataset_id)
    flags = None
    if model_id is not None and shown:
        flags = await trust.batch_flags(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=model_id,
            item_ids=shown,
            label_ids=[label_id] * len(shown),
        )
    return render(
        request,
        "guided/_similar_flags.html",
        shown=shown,
        flags=flags.flags if flags else {},
        flag_rule=flags.rule if flags else "",
        flagged_count=len(flags.flags) if flags else 0,
    )


@post("/datasets/{dataset_id:int}/similar/label", **OPTS)
async def label_similar(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Label the items left selected as one "similarity" event; answers with the next candidates.

    The tiles shown and decided on (labeled, or deselected as outliers) join ``done`` and stay out
    of the ranking, so a second click never labels a rejected item. On an error (a class deleted
    meanwhile, every item relabeled by someone else) the same tiles come back as they were selected."""
    form = await request.form()
    accepted = [i for i in (whole_number(v, "item_id") for v in form.getall("selected", [])) if i is not None]
    label_id = whole_number(form.get("label_id"), "label_id")
    model_id = whole_number(form.get("model_id"), "model_id")
    values = {key: form.get(key) for key in form}
    shown_ids = parse_ids(form.get("shown_ids"), "shown_ids")
    queries = set(parse_ids(form.get("items"), "items"))
    deselected = hand_rejected(form, [i for i in shown_ids if i not in set(accepted) and i not in queries])
    try:
        if label_id is None or model_id is None:
            raise Invalid("choose a class and a model")
        event = await service.label_similar(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=model_id,
            query_item_ids=parse_ids(form.get("items"), "items"),
            item_ids=accepted,
            label_id=label_id,
            shown=whole_number(form.get("shown"), "shown", 0) or 0,
            mode=str(form.get("mode") or "mean"),
            tagger=tagger_of(request),
            seen_event_id=whole_number(form.get("seen"), "seen"),
            rejected_item_ids=deselected,  # clicked out: "not this class", out of its later batches
        )
    except LabelwiseError as exc:
        context = await _similar_context(request, session, settings, dataset_id, values)
        warning = exc.message if isinstance(exc, Conflict) else f"Nothing was labeled: {exc.message}"
        context.update(warning=warning, selected_ids=set(accepted))
        return replace_address(request, "guided/_similar_results.html", context)
    done = list(dict.fromkeys([*parse_ids(form.get("done"), "done"), *shown_ids, *accepted]))
    values.update(done=",".join(map(str, done)), page="1")
    context = await _similar_context(request, session, settings, dataset_id, values)
    name = context["class_by_id"].get(label_id)
    notice = (
        f"Labeled {event.tag_count} of {len(accepted)} selected items "
        f"“{name.name if name else label_id}” (event {event.id})."
    )
    if event.parameters.get("skipped_changed"):
        notice += (
            f" {event.parameters['skipped_changed']} were relabeled meanwhile (by someone else, or in "
            "another tab) and were left."
        )
    # those recorded, not those sent: labeled tiles start deselected and are no rejection
    notice += left_out_notice(
        int(event.parameters.get("rejected") or 0), name.name if name else f"class {label_id}"
    )
    context.update(notice=notice + " Next candidates below.", applied=True)
    # the address names the next candidates: a reload or Back draws them, not the ranking of before
    return replace_address(request, "guided/_similar_results.html", context)


# ---- probability -------------------------------------------------------------------------------


def _probability_view(context: dict[str, Any]) -> dict[str, Any]:
    """The probability view's query (``view_params``): the pager, the results' data-repaint and the
    address name it."""
    pairs: list[tuple[str, Any]] = [
        ("model_id", context["model_id"]),
        ("label", context["label"]),
        ("threshold", context["threshold"]),
        ("per_page", context["per_page"]),
        ("confirm_over", context["confirm_over"]),
    ]
    if context["overwrite"]:
        pairs.append(("overwrite", 1))
    context["view_params"] = _query(pairs)
    return context


async def _probability_context(
    session: AsyncSession, settings: Settings, dataset_id: int, values: Any
) -> dict[str, Any]:
    """What the probability results draw, and the query of the view they show."""
    return _probability_view(await _probability_drawn(session, settings, dataset_id, values))


async def _probability_drawn(
    session: AsyncSession, settings: Settings, dataset_id: int, values: Any
) -> dict[str, Any]:
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    models = await list_models(session, dataset_id=dataset_id, state="ready", kind="classifier")
    page, per_page = _paging(values)
    model_id = await _default_model(
        session, dataset_id, models, whole_number(values.get("model_id"), "model_id"), "classifier", settings
    )
    confirm_over = whole_number(values.get("confirm_over"), "confirm_over", settings.confirm_batch_over)
    label = str(values.get("label") or (classes[0].id if classes else "all"))
    label_id = None if label == "all" else whole_number(label, "label")
    threshold = number(values.get("threshold"), "threshold", 0.9)
    overwrite = flag(values.get("overwrite"))
    context: dict[str, Any] = {
        **_common(dataset, classes, models),
        "model_id": model_id,
        "label": label,
        "label_id": label_id,
        "threshold": threshold,
        "overwrite": overwrite,
        "page": page,
        "per_page": per_page,
        "results": [],
        "count": 0,
        "problem": "",
        "notice": "",
        "fitness": None,
        "estimate": None,
        "confirm_over": confirm_over,
        "flags": {},
        "flag_rule": "",
        "flagged_count": 0,
        "stopping": None,
        "seen_event_id": 0,  # the preview's newest event: the apply form sends it back ("seen")
        "verdicts": {m.id: model_fitness(m, settings) for m in models},
        "base": f"/datasets/{dataset_id}/probability",
    }
    if model_id is None and models:
        context["problem"] = (
            "Every classifier here is unfit for batch labeling (no better than always answering one "
            "class): label more items and train again, or choose one explicitly to see why."
        )
        return context
    if model_id is None:
        context["problem"] = "No trained classifier yet: label some items, train one and run its inference."
        return context
    try:
        found = await service.probability_candidates(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=model_id,
            threshold=threshold,
            label_id=label_id,
            overwrite=overwrite,
            offset=(page - 1) * per_page,
            limit=per_page,
            confirm_over=confirm_over,
        )
    except LabelwiseError as exc:
        context["problem"] = exc.message
        return context
    entries = await service.page_items(session, dataset_id, found.item_ids)
    context["stopping"] = await stopping_estimate(
        session, settings, dataset_id, threshold=threshold, model_id=model_id
    )
    context.update(
        fitness=found.fitness,
        estimate=found.estimate,
        confirm_over=found.confirm_over,
        flags=found.flags,
        flag_rule=found.flag_rule,
        flagged_count=found.flagged_count,
        seen_event_id=found.seen_event_id,
    )
    context.update(
        results=list(zip(entries, found.label_ids, found.probabilities, strict=True)),
        count=found.count,
        pages=max(1, -(-found.count // per_page)),
    )
    return context


@get("/datasets/{dataset_id:int}/probability", **OPTS)
async def probability_page(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """How many unlabeled items pass the threshold, and a gallery of them, most probable first."""
    context = await _probability_context(session, settings, dataset_id, request.query_params)
    if is_htmx(request):
        return not_stored(render(request, "guided/_probability_results.html", **context))
    return not_stored(render(request, "guided/probability.html", nav="datasets", **context))


@post("/datasets/{dataset_id:int}/probability/apply", **OPTS)
async def apply_probability(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Label every passing item (one class, or each its arg-max class) as one "probability" event.

    A refusal (unfit model, unconfirmed big batch, batch changed, class deleted) labels nothing and
    is shown above the batch, which is shown again as it is now."""
    form = await request.form()
    model_id = whole_number(form.get("model_id"), "model_id")
    if model_id is None:
        raise Invalid("choose a classifier model")
    label = str(form.get("label") or "")
    refused, event = "", None
    kept = set(parse_ids(",".join(str(v) for v in form.getall("selected", [])), "selected"))
    deselected = [i for i in parse_ids(form.get("shown_ids"), "shown_ids") if i not in kept]
    try:
        applied = await service.apply_probability(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=model_id,
            threshold=number(form.get("threshold"), "threshold", 0.9),
            label_id=None if label == "all" else whole_number(label, "label"),
            all_classes=label == "all",
            overwrite=flag(form.get("overwrite")),
            tagger=tagger_of(request),
            override_unfit=flag(form.get("override_unfit")),
            confirm=flag(form.get("confirm")),
            expected_count=whole_number(form.get("expected_count"), "expected_count"),
            exclude_flagged=flag(form.get("exclude_flagged")),
            confirm_over=whole_number(form.get("confirm_over"), "confirm_over"),
            rejected_item_ids=hand_rejected(form, deselected),  # clicked out: "not this class"
            left_out_item_ids=deselected,  # every tile deselected stays out of the batch
            seen_event_id=whole_number(form.get("seen"), "seen"),  # others' labels since stay
        )
        event = applied.event
    except LabelwiseError as exc:
        refused = f"Nothing labeled: {exc.message}"
    context = await _probability_context(session, settings, dataset_id, form)
    if refused:
        context["refused"] = refused
    else:
        context["applied"] = True  # the page forgets the tiles it kept left out of this batch
        context["notice"] = (
            f"Labeled {event.tag_count} items (event {event.id})."
            if event
            else "No item passes: nothing labeled."
        )
        if event is not None:
            if event.parameters.get("skipped_unchanged"):
                unchanged = event.parameters["skipped_unchanged"]
                context["notice"] += f" {unchanged} held that class already and were left as they are."
            if event.parameters.get("skipped_changed"):
                changed = event.parameters["skipped_changed"]
                context["notice"] += (
                    f" {changed} were changed since you looked (by someone else, or in another tab) and "
                    "were left as they are."
                )
            chosen = context["class_by_id"].get(event.parameters.get("label_id"))
            context["notice"] += left_out_notice(
                int(event.parameters.get("rejected") or 0), chosen.name if chosen else None
            )
    # the answer is the batch's first page as it is now: the address says so (a reload draws it)
    return replace_address(request, "guided/_probability_results.html", context)


route_handlers = [similar_page, similar_flags, label_similar, probability_page, apply_probability]
