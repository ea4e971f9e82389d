"""The Latent Space Explorer page: a WebGL scatter plot of a model's projection of a dataset.

The page itself is a shell; the points, selection statistics, heat maps and labeling come from the
REST explorer endpoints (``backend/api/rest/explorer.py``), which the page script calls.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from backend.api.dependencies import Session
from backend.datasets.service import get_dataset
from backend.explorer.tasks import CLUSTER_SCHEMA, PROJECT_SCHEMA
from backend.feature_report.service import default_model
from backend.jobs import states
from backend.jobs.service import list_models
from backend.labels.classes import list_classes
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render


class ExplorerPage(Controller):
    path = "/datasets"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/{dataset_id:int}/explorer")
    async def explorer(
        self,
        request: Request,
        session: Session,
        dataset_id: FromPath[int],
        model_id: Annotated[int | None, QueryParameter()] = None,
    ) -> Template:
        dataset = await get_dataset(session, dataset_id)
        models = await list_models(session, dataset_id=dataset_id, state=states.MODEL_READY)
        if model_id is None:  # the feature report's best model, else the newest
            model_id = await default_model(session, dataset_id, models, "vectors")
        chosen = next((m for m in models if m.id == model_id), models[0] if models else None)
        classes = await list_classes(session, dataset_id)
        return render(
            request,
            "explorer/explorer.html",
            nav="datasets",
            dataset=dataset,
            models=models,
            model=chosen,
            classes=[{"id": c.id, "name": c.name, "color": c.color, "hotkey": c.hotkey} for c in classes],
            project_schema=PROJECT_SCHEMA["properties"],
            cluster_schema=CLUSTER_SCHEMA["properties"],
        )


route_handlers = [ExplorerPage]
