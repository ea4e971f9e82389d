"""REST: a dataset's "keep models fresh" switch, and the next step of a job or model.
Thin over ``backend.jobs.fresh``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.accounts.roles import TRAINER
from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, from_view, rest_struct
from backend.api.rest.jobs import BROKER_DOWN, JobOut, job_now
from backend.jobs import fresh, next_step
from backend.jobs import queries as job_queries
from backend.jobs.runtime import enqueue_for, ensure_running
from backend.models import queries as model_queries

if TYPE_CHECKING:  # handlers are checked against the read model itself
    FreshOut = fresh.FreshSettings
else:
    FreshOut = rest_struct(fresh.FreshSettings, "FreshOut", constructors=())


class FreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Omitted fields stay as they are. ``growth``: retrain a classifier once its dataset's labeled
    items grew by this fraction since its training (0.2: 20 %)."""

    keep_models_fresh: bool | None = None
    growth: float | None = None


# Declared here, filled from ``next_step.NextStep`` by name: the read model's defaults (method,
# job_id) would make those fields optional in the OpenAPI document.
class NextStepOut(msgspec.Struct, kw_only=True):
    """One button: ``method`` "post" runs the step at ``href`` (a page route); "get" opens a page."""

    action: str
    title: str
    reason: str
    href: str
    method: str
    job_id: int | None


class RunNextStepIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The step the caller saw (``action`` of the next step): 409 if it is another one now."""

    expected: str


class FreshController(Controller):
    path = API_PREFIX
    tags = ["jobs"]

    @get(
        "/datasets/{dataset_id:int}/keep-fresh",
        summary="Whether the server keeps the dataset's models fresh",
        responses=error_responses(404),
    )
    async def get_fresh(self, session: Session, dataset_id: FromPath[int]) -> FreshOut:
        return from_view(FreshOut, await fresh.fresh_settings(session, dataset_id))

    @put(
        "/datasets/{dataset_id:int}/keep-fresh",
        summary="Switch keeping models fresh on or off; set the retrain growth fraction",
        status_code=HTTP_200_OK,
        responses=error_responses(400, 404),
        opt={"role": TRAINER},
    )
    async def set_fresh(
        self, state: State, session: Session, dataset_id: FromPath[int], data: JSONBody[FreshIn]
    ) -> FreshOut:
        """On: a finished training queues its inference, an extractor's inference its index build, and
        a classifier is retrained (then re-inferred) when the labels grew by ``growth``."""
        value = await fresh.set_fresh(
            session, dataset_id, keep_models_fresh=data.keep_models_fresh, growth=data.growth
        )
        if value.keep_models_fresh:
            await ensure_running(state)
        return from_view(FreshOut, value)

    @get("/jobs/{job_id:int}/next-step", summary="The next step after a job", responses=error_responses(404))
    async def job_next_step(
        self, session: Session, settings: AppSettings, job_id: FromPath[int]
    ) -> NextStepOut:
        step = await next_step.job_next_step(session, settings, await job_queries.get_job(session, job_id))
        return from_view(NextStepOut, step)

    @get(
        "/models/{model_id:int}/next-step", summary="The next step of a model", responses=error_responses(404)
    )
    async def model_next_step(
        self, session: Session, settings: AppSettings, model_id: FromPath[int]
    ) -> NextStepOut:
        model = await model_queries.get_model(session, model_id)
        return from_view(NextStepOut, await next_step.model_next_step(session, settings, model))

    @post(
        "/models/{model_id:int}/next-step",
        summary="Run a model's next step (infer, build-index, retrain, or retry its training)",
        status_code=HTTP_201_CREATED,
        responses={**error_responses(400, 404, 409), **BROKER_DOWN},
        opt={"role": TRAINER},
    )
    async def run_next_step(
        self,
        request: Request,
        state: State,
        session: Session,
        settings: AppSettings,
        model_id: FromPath[int],
        data: JSONBody[RunNextStepIn],
    ) -> JobOut:
        """409 when the model's next step is no longer ``expected``; 400 when it opens a page."""
        job = await next_step.run_model_next_step(
            session,
            settings,
            enqueue_for(state),
            model_id,
            expected=data.expected,
            by=tagger_for(request, settings),
        )
        return await job_now(session, state, settings, job)


route_handlers = [FreshController]
