"""REST: the stopping estimate and the final "auto-label the rest". Thin over ``backend.guided.stopping``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses, rest_struct
from backend.api.rest.schemas import EventOut
from backend.guided import stopping
from backend.guided.views import CurvePointView, MoreLabelsView, StoppingEstimateView

if TYPE_CHECKING:  # handlers are checked against the read models themselves
    MoreLabelsOut = MoreLabelsView
    CurvePointOut = CurvePointView
    StoppingEstimateOut = StoppingEstimateView
else:
    MoreLabelsOut = rest_struct(MoreLabelsView, "MoreLabelsOut")
    CurvePointOut = rest_struct(CurvePointView, "CurvePointOut")
    StoppingEstimateOut = rest_struct(StoppingEstimateView, "StoppingEstimateOut")


class AutoLabelRestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``expected_count`` and ``seen_event_id``: what the estimate showed (409 if it changed)."""

    model_id: int
    threshold: float
    expected_count: int | None = None
    seen_event_id: int | None = None
    override_unfit: bool = False


class AutoLabelRestOut(msgspec.Struct, kw_only=True):
    labeled: int
    threshold: float
    model_id: int
    expected_accuracy: float | None
    event: EventOut


class StoppingController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["guided"]

    @get(
        "/{dataset_id:int}/stopping-estimate",
        summary="How many items are left and how well they would be auto-labeled now or with more labels",
        responses=error_responses(400, 404),
    )
    async def stopping_estimate(
        self,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        threshold: Annotated[float | None, QueryParameter(ge=0, le=1, description="default 0.9")] = None,
        model_id: Annotated[
            int | None, QueryParameter(description="a classifier; default: the newest fit one")
        ] = None,
    ) -> StoppingEstimateOut:
        """A dataset without a usable classifier answers with ``model_id`` null and the reason."""
        estimate = await stopping.stopping_estimate(
            session, settings, dataset_id, threshold=threshold, model_id=model_id
        )
        return StoppingEstimateOut.of(estimate)

    @post(
        "/{dataset_id:int}/auto-label-rest",
        summary="Label every unlabeled item at or above the threshold with its top class, as one event",
        status_code=201,
        responses=error_responses(400, 404, 409),
    )
    async def auto_label_rest(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[AutoLabelRestIn],
    ) -> AutoLabelRestOut:
        """One event of kind 'probability' (revocable). 409 when the model is unfit without
        ``override_unfit`` or the batch changed since the estimate."""
        result = await stopping.auto_label_rest(
            session,
            settings,
            dataset_id,
            model_id=data.model_id,
            threshold=data.threshold,
            tagger=tagger_for(request, settings),
            override_unfit=data.override_unfit,
            expected_count=data.expected_count,
            seen_event_id=data.seen_event_id,
        )
        return AutoLabelRestOut(
            labeled=result.labeled,
            threshold=result.threshold,
            model_id=result.model_id,
            expected_accuracy=result.expected_accuracy,
            event=EventOut.of(result.event),
        )


route_handlers = [StoppingController]
