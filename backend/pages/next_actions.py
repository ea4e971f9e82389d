"""The next-best-action queue in the pages: a panel on the label page and a page of its own.

Every suggestion is one click away. A batch (similarity or probability) opens a review gallery of
its items, all selected, with the guardrail badges of ``trust.batch_flags``; "Accept" labels
exactly the items left selected as one batch, and a batch someone else labeled meanwhile is
refused with the count. A job starts on its button. Items to label one by one open a gallery with
class buttons and hotkeys; a review of suspected labels links to the review page.

The pages call ``backend.guided.next_actions`` as REST and GraphQL do; a suggestion is found
again by its key (it holds the label state it was computed on, so an out-of-date one is said so),
or opened as it was made where only labels given on its page to its own items came since
(``reopen_suggestion``, decision 0019).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.access import caller_of
from backend.datasets.service import get_dataset
from backend.errors import Conflict, Invalid, LabelwiseError, NotFound
from backend.guided import next_actions as queue
from backend.guided import service, stopping, trust
from backend.jobs.runtime import enqueue_for
from backend.labels.classes import list_classes
from backend.labels.events import TagChange, current_state, record_changes
from backend.pages.common import (
    PAGE_EXCEPTION_HANDLERS,
    is_htmx,
    left_out_notice,
    not_stored,
    render,
    tagger_of,
)
from backend.pages.form_values import whole_number
from backend.pages.guided import HAND_DESELECTED, thumb_query
from backend.pages.label import parse_ids, thumb_version
from backend.settings import Settings

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}
PANEL_LIMIT = 5
PAGE_LIMIT = 20
FIND_LIMIT = 50  # suggestions searched for a key
BATCH_KINDS = ("similarity_batch", "probability_batch")
ONE_BY_ONE = ("label_items", "predicted_batch")  # items with a key each (and the classes shown)
REVIEW_KINDS = ("review_suspects",)
KIND_TEXT = {
    "label_items": "label one by one",
    "similarity_batch": "similarity batch",
    "probability_batch": "probability batch",
    "predicted_batch": "classes to check",
    "review_suspects": "review suspected labels",
    "keep_fresh": "keep models fresh",
    "retrain": "retrain",
    "train_extractor": "train features",
    "run_inference": "run inference",
    "build_index": "build index",
    "feature_report": "feature report",
    "auto_label_rest": "auto-label the rest",
    "add_classes": "add classes",
}


def kind_text(suggestion: queue.Suggestion) -> str:
    """The suggestion's kind in words; a training that follows no classifier is the first, not a retrain."""
    if suggestion.kind == "retrain" and suggestion.model_id is None:
        return "first training"
    return KIND_TEXT.get(suggestion.kind, suggestion.kind)


def action_of(kind: str) -> str:
    """What the suggestion's button does: open a gallery, open another page, or start at once."""
    if kind in BATCH_KINDS:
        return "review"
    if kind in ONE_BY_ONE:
        return "items"
    if kind in REVIEW_KINDS:
        return "suspects"
    if kind == "add_classes":
        return "classes"
    if kind == "auto_label_rest":
        return "auto"
    return "start"


async def _queue_context(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    limit: int,
    found: queue.NextActions | None = None,
) -> dict[str, Any]:
    """The queue's page context; ``found``: the queue computed already (with ``limit`` or more) by
    a page that also looks a suggestion up in it, which costs a few hundred ms on a big dataset."""
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    problem = ""
    try:
        if found is None:
            found = await queue.next_actions(session, settings, dataset_id, limit=limit)
        suggestions, needs = found.suggestions[:limit], list(found.needs)
    except LabelwiseError as exc:  # never an error page: say what is wrong beside the labeling
        suggestions, needs, estimate, problem = [], [], None, exc.message
    else:
        estimate = found.stopping
    if estimate is None and not problem:  # the queue does not carry it (yet): ask for it here
        try:
            estimate = await stopping.stopping_estimate(session, settings, dataset_id)
        except LabelwiseError:
            estimate = None
    return {
        "dataset": dataset,
        "class_by_id": {c.id: c for c in classes},
        "suggestions": suggestions,
        "needs": needs,
        "stopping": estimate,
        "problem": problem,
        "action_of": action_of,
        "kind_text": kind_text,
        "base": f"/datasets/{dataset_id}/next",
    }


@get("/datasets/{dataset_id:int}/next", **OPTS)
async def next_page(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Every suggestion, ranked by expected labels per action, and the stopping estimate."""
    context = await _queue_context(session, settings, dataset_id, PAGE_LIMIT)
    if is_htmx(request):
        return not_stored(render(request, "next/_list.html", **context))
    return not_stored(render(request, "next/index.html", nav="datasets", **context))


@get("/datasets/{dataset_id:int}/next/panel", **OPTS)
async def next_panel(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """The label page's "Next actions" panel: the top suggestions (loaded after the page)."""
    context = await _queue_context(session, settings, dataset_id, PANEL_LIMIT)
    return render(request, "next/_panel.html", **context)


def _find(
    found: queue.NextActions, dataset_id: int, key: str
) -> tuple[queue.Suggestion | None, queue.Suggestion | None]:
    """The suggestion with this key in the queue ``found`` (its first ``FIND_LIMIT``), or None when
    the queue no longer offers it; and then the queue's best suggestion of its kind now (of its
    class first, for a batch), to offer instead."""
    same = next((s for s in found.suggestions if s.key == key), None)
    if same is not None:
        return same, None
    try:
        body = queue.read_key(key, dataset_id)
    except Invalid:  # not a key of this server: nothing like it to offer
        return None, None
    alike = [s for s in found.suggestions if s.kind == body["k"]]
    of_class = [s for s in alike if s.label_id is not None and s.label_id == body.get("l")]
    return None, next(iter(of_class or alike), None)


@get("/datasets/{dataset_id:int}/next/open", **OPTS)
async def open_suggestion(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """One suggestion's gallery: a batch to review (deselect, then accept) or items to label.

    One the queue no longer offers is opened as it was made where only labels given on its page
    to its own items came since (``queue.reopen_suggestion``: its tiles left out survive Back and
    a reload); otherwise the page says it is out of date and offers the queue's one of its kind."""
    key = str(request.query_params.get("key") or "")
    if not key:
        raise Invalid("which suggestion? (key is missing)")
    # computed once, for the lookup and the list below it (an error is the page's, as it was)
    found = await queue.next_actions(session, settings, dataset_id, limit=FIND_LIMIT)
    context = await _queue_context(session, settings, dataset_id, PAGE_LIMIT, found)
    suggestion, successor = _find(found, dataset_id, key)
    labeled_since: frozenset[int] = frozenset()
    if suggestion is None:
        reopened = await queue.reopen_suggestion(session, settings, dataset_id, key)
        if reopened is not None:
            suggestion, labeled_since, successor = reopened.suggestion, reopened.labeled_since, None
    context.update(
        suggestion=suggestion,
        key=key,
        entries=[],
        flags={},
        flag_rule="",
        flagged_count=0,
        predicted={},
        labeled_since=labeled_since,
        successor=successor,
    )
    # the dataset's display preset, as the label page shows the items (log scale, colour map)
    context.update(thumb_query=thumb_query(context["dataset"]), version=thumb_version(context["dataset"]))
    context["classes"] = list(context["class_by_id"].values())
    if suggestion is None:
        context["stale"] = (
            "This suggestion is out of date: the labels or the models changed since it was made. "
            "The current suggestions are below."
        )
        return not_stored(render(request, "next/open.html", nav="datasets", **context))
    entries = await service.page_items(session, dataset_id, list(suggestion.item_ids))
    context["entries"] = entries
    shown = suggestion.params.get("predicted_label_ids") if suggestion.kind in ONE_BY_ONE else None
    context["predicted"] = dict(zip(suggestion.item_ids, shown, strict=True)) if shown else {}
    mixed = suggestion.kind == "predicted_batch"
    if (suggestion.kind in BATCH_KINDS or mixed) and suggestion.model_id is not None and entries:
        ids = [int(e.item.id or 0) for e in entries]
        try:
            flags = await trust.batch_flags(
                session,
                settings,
                dataset_id=dataset_id,
                model_id=suggestion.model_id,
                item_ids=ids,
                label_ids=[context["predicted"].get(i) for i in ids]
                if mixed
                else [suggestion.label_id] * len(ids),
            )
            context.update(flags=flags.flags, flag_rule=flags.rule, flagged_count=len(flags.flags))
        except LabelwiseError as exc:  # flags help; their absence must not hide the batch
            context["flag_rule"] = f"no guardrail flags: {exc.message}"
    return not_stored(render(request, "next/open.html", nav="datasets", **context))


def _conflict_text(exc: Conflict, kept: int) -> str:
    count = next(
        (exc.details[k] for k in ("count", "changed", "conflicts", "changed_count") if k in exc.details),
        None,
    )
    if isinstance(count, list):
        count = len(count)
    if isinstance(count, int):
        return (
            f"Nothing was labeled: someone labeled {count} of these {kept} meanwhile. "
            "The current suggestions are below."
        )
    return f"Nothing was labeled: {exc.message}. The current suggestions are below."


@post("/datasets/{dataset_id:int}/next/accept", **OPTS)
async def accept(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Carry out a suggestion: a batch labels the items left selected (one event), a job starts.
    Answers with what happened and the suggestions as they are now."""
    form = await request.form()
    key = str(form.get("key") or "")
    if not key:
        raise Invalid("which suggestion? (key is missing)")
    kept = [i for i in (whole_number(v, "item_id") for v in form.getall("selected", [])) if i is not None]
    is_batch = str(form.get("batch") or "") == "1"
    # "not this class": the tiles clicked out one at a time (guided.js), not those "f" took out
    # with the flagged ones (backend.pages.guided.hand_rejected); no field: every one left out
    rejected = None
    if is_batch and HAND_DESELECTED in form:
        rejected = [i for i in parse_ids(form.get(HAND_DESELECTED), HAND_DESELECTED) if i not in kept]
    notice = warning = ""
    result = None
    try:
        if is_batch and not kept:
            raise Invalid("every item was deselected: nothing to label")
        result = await queue.accept_suggestion(
            session,
            settings,
            dataset_id,
            key,
            item_ids=kept if is_batch else None,
            rejected_item_ids=rejected,
            label_id=whole_number(form.get("label_id"), "label_id"),
            tagger=tagger_of(request),
            enqueue=enqueue_for(request.app.state),
            role=caller.role if (caller := caller_of(request)) is not None else None,
        )
    except Conflict as exc:
        warning = _conflict_text(exc, len(kept))
    except LabelwiseError as exc:
        warning = f"Nothing was done: {exc.message}"
    if result is not None:
        parts = []
        if result.labeled or is_batch:
            parts.append(f"Labeled {result.labeled} item(s)")
            if result.batch_id is not None:
                parts[-1] += f" (event #{result.batch_id})"
        if result.skipped:
            parts.append(f"{result.skipped} left as they were")
        if queue.read_key(key, dataset_id)["k"] == "keep_fresh":
            parts.append("Models are kept fresh from now on (the datasets page switches it off)")
        if result.job_ids:
            parts.append("started job(s) " + ", ".join(f"#{j}" for j in result.job_ids))
        notice = ("; ".join(parts) or "Done") + "."
    context = await _queue_context(session, settings, dataset_id, PAGE_LIMIT)
    if result is not None and result.rejected:
        label_id = whole_number(form.get("label_id"), "label_id")
        chosen = context["class_by_id"].get(label_id)
        notice += left_out_notice(result.rejected, chosen.name if chosen else f"class {label_id}")
    context.update(
        notice=notice,
        warning=warning,
        job_ids=list(result.job_ids) if result is not None else [],
        applied=result is not None,  # the page forgets the tiles it kept left out of this batch
    )
    return _labels_written(
        render(request, "next/_accepted.html", **context), result is not None and result.labeled
    )


@post("/datasets/{dataset_id:int}/next/auto-label-rest", **OPTS)
async def auto_label_rest(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """The final action: every unlabeled item at p >= threshold labeled with the classifier's class,
    as one event; refused (with the count) when the rest changed since the estimate was shown."""
    form = await request.form()
    model_id = whole_number(form.get("model_id"), "model_id")
    if model_id is None:
        raise Invalid("which classifier? (model_id is missing)")
    try:
        threshold = float(str(form.get("threshold") or ""))
    except ValueError:
        raise Invalid("threshold must be a number") from None
    notice = warning = ""
    try:
        done = await stopping.auto_label_rest(
            session,
            settings,
            dataset_id,
            model_id=model_id,
            threshold=threshold,
            tagger=tagger_of(request),
            expected_count=whole_number(form.get("expected_count"), "expected_count"),
            seen_event_id=whole_number(form.get("seen_event_id"), "seen_event_id"),
        )
        notice = f"Auto-labeled {done.labeled} item(s) at p ≥ {threshold:g}."
    except LabelwiseError as exc:
        warning = f"Nothing was labeled: {exc.message}"
    context = await _queue_context(session, settings, dataset_id, PAGE_LIMIT)
    context.update(notice=notice, warning=warning, job_ids=[])
    return _labels_written(render(request, "next/_accepted.html", **context), bool(notice))


def _labels_written(template: Template, labeled: int | bool) -> Template:
    """Where labels were written, the label page's gallery (under its Next actions panel) draws
    them: it kept showing the items unlabeled after the panel's "auto-label the rest"."""
    if labeled:
        template.headers["HX-Trigger"] = "refresh-gallery"
    return template


@post("/datasets/{dataset_id:int}/next/label-item", **OPTS)
async def label_item(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Label one item by hand (a manual event) and answer with its tile: an item of a "label one by
    one" suggestion, or (``tile=batch``) a batch gallery's tile of another class, labeled with its
    own class in one key and so left out of the batch (deselected, its new label shown)."""
    form = await request.form()
    item_id = whole_number(form.get("item_id"), "item_id")
    label_id = whole_number(form.get("label_id"), "label_id")
    if item_id is None or label_id is None:
        raise Invalid("an item and a class are needed")
    dataset = await get_dataset(session, dataset_id)
    classes = await list_classes(session, dataset_id)
    by_id = {c.id: c for c in classes}
    if label_id not in by_id:
        raise Invalid("that class no longer exists (deleted meanwhile): reload the page")
    entries = await service.page_items(session, dataset_id, [item_id])
    if not entries:
        raise NotFound(f"item {item_id} is not in dataset {dataset_id}")
    before = (await current_state(session, [item_id])).get(item_id, frozenset())
    if before != frozenset({label_id}):
        await record_changes(
            session,
            dataset_id,
            tagger=tagger_of(request),
            kind="manual",
            changes=[TagChange(item_id, "set", label_id)],
            parameters=dict(queue.BY_HAND_HERE),  # a label given on the page (reopen_suggestion)
        )
    entries = await service.page_items(session, dataset_id, [item_id])
    in_batch = str(form.get("tile") or "") == "batch"
    return render(
        request,
        "next/_batch_tile.html" if in_batch else "next/_todo_tile.html",
        entry=entries[0],
        dataset=dataset,
        classes=classes,
        class_by_id=by_id,
        score_text=str(form.get("score") or "")[:40],
        thumb_query=thumb_query(dataset),
        version=thumb_version(dataset),
    )


route_handlers = [next_page, next_panel, open_suggestion, accept, auto_label_rest, label_item]
