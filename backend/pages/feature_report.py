"""The feature report from the pages: run it (a trainer's form); the models and label pages show
it through ``frontend_templates/feature_report/_report.html``."""

from __future__ import annotations

from litestar import Request, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.roles import TRAINER
from backend.feature_report import service
from backend.jobs.runtime import enqueue_for
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, tagger_of
from backend.settings import Settings


@post(
    "/datasets/{dataset_id:int}/feature-report",
    include_in_schema=False,
    exception_handlers=PAGE_EXCEPTION_HANDLERS,
    opt={"role": TRAINER},
)
async def run_report(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Redirect:
    """Queue a report and follow it on its job page."""
    job = await service.submit_report(
        session, settings, enqueue_for(request.app.state), dataset_id, submitted_by=tagger_of(request)
    )
    return Redirect(f"/jobs/{job.id}", status_code=HTTP_303_SEE_OTHER)


@post(
    "/datasets/{dataset_id:int}/feature-report/intensity-inference",
    include_in_schema=False,
    exception_handlers=PAGE_EXCEPTION_HANDLERS,
    opt={"role": TRAINER},
)
async def run_intensity_inference(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Redirect:
    """Run the best model's inference with the intensity option the report advises; follow it."""
    job = await service.submit_intensity_inference(
        session, settings, enqueue_for(request.app.state), dataset_id, submitted_by=tagger_of(request)
    )
    return Redirect(f"/jobs/{job.id}", status_code=HTTP_303_SEE_OTHER)


route_handlers = [run_report, run_intensity_inference]
