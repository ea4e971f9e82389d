"""Pages: the "keep models fresh" switch on the datasets page, the next-step button of job and
model pages, and the final "auto-label the rest" on the probability page."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.roles import TRAINER
from backend.errors import Invalid, LabelwiseError
from backend.guided import stopping
from backend.jobs import fresh, next_step
from backend.jobs.runtime import enqueue_for, ensure_running
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, tagger_of
from backend.pages.datasets import _list
from backend.pages.form_values import flag, number, whole_number
from backend.pages.guided import _probability_context, replace_address
from backend.settings import Settings

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


@post("/datasets/{dataset_id:int}/keep-fresh", opt={"role": TRAINER}, **OPTS)
async def keep_fresh(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """Switch keeping the dataset's models fresh on or off (checkbox) and set the growth (percent)."""
    form = await request.form()
    growth = number(form.get("growth_percent"), "growth_percent", 20.0)
    value = await fresh.set_fresh(
        session, dataset_id, keep_models_fresh=flag(form.get("keep_models_fresh")), growth=growth / 100
    )
    if value.keep_models_fresh:
        await ensure_running(request.app.state)
    state = "on" if value.keep_models_fresh else "off"
    return await _list(
        request, session, flash=f"Keep models fresh is {state} (retrain at +{growth:g}% labels)."
    )


@post("/models/{model_id:int}/next", opt={"role": TRAINER}, **{**OPTS, "status_code": 303})
async def run_next_step(
    request: Request, session: AsyncSession, settings: Settings, model_id: FromPath[int]
) -> Redirect:
    """Carry out the model's next step (the button's ``expected`` action), then open its job."""
    form = await request.form()
    expected = str(form.get("expected") or "")
    if not expected:
        raise Invalid("the form names no step")
    job = await next_step.run_model_next_step(
        session, settings, enqueue_for(request.app.state), model_id, expected=expected, by=tagger_of(request)
    )
    return Redirect(f"/jobs/{job.id}", status_code=HTTP_303_SEE_OTHER)


@post("/datasets/{dataset_id:int}/auto-label-rest", **OPTS)
async def auto_label_rest(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    """Label the rest at >= p as one event; a refusal labels nothing and says why above the batch."""
    form = await request.form()
    model_id = whole_number(form.get("model_id"), "model_id")
    if model_id is None:
        raise Invalid("choose a classifier model")
    refused, done = "", None
    try:
        done = await stopping.auto_label_rest(
            session,
            settings,
            dataset_id,
            model_id=model_id,
            threshold=number(form.get("threshold"), "threshold", stopping.DEFAULT_THRESHOLD),
            tagger=tagger_of(request),
            override_unfit=flag(form.get("override_unfit")),
            expected_count=whole_number(form.get("expected_count"), "expected_count"),
            seen_event_id=whole_number(form.get("seen_event_id"), "seen_event_id"),
        )
    except LabelwiseError as exc:
        refused = f"Nothing labeled: {exc.message}"
    context = await _probability_context(session, settings, dataset_id, form)
    if refused:
        context["refused"] = refused
    elif done is not None:
        context["notice"] = (
            f"Auto-labeled the rest: {done.labeled} items "
            f"(event {done.event.id}; undo it on the history page)."
            + (f" {done.flagged} flagged by the batch guardrails are left for you." if done.flagged else "")
        )
    # its form names the rule less "include labeled items": the address is the view it now shows
    return replace_address(request, "guided/_probability_results.html", context)


route_handlers = [keep_fresh, run_next_step, auto_label_rest]
