"""The Latent Space Explorer page: a WebGL scatter plot of a model's projection of a dataset.

The page itself is a shell; the points, selection statistics, heat maps and labeling come from the
REST explorer endpoints (``backend/api/rest/explorer.py``), which the page script calls. The
selection gallery is a fragment rendered here: one page of the selected items as guided tiles, with
the batch guardrails judged on the whole selection (``trust.batch_flags``), their badges, their
rule, and the ids of every flagged item for the "f" key.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.dependencies import AppSettings, Session
from backend.datasets.service import get_dataset
from backend.errors import Invalid, NotFound
from backend.explorer.service import latest_output
from backend.explorer.tasks import CLUSTER_SCHEMA, PROJECT_SCHEMA
from backend.feature_report.service import default_model
from backend.guided import service, trust
from backend.jobs import states
from backend.labels.classes import list_classes
from backend.models.queries import list_models
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render
from backend.pages.guided import thumb_query
from backend.pages.label import thumb_version
from backend.paging import check_page
from backend.storage.job_tables import Job, Model

GALLERY_PAGE = 24


class GalleryIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole selection (in its order), the page of it to show, and the class the neighbour
    rule judges against (none: the distance rule only)."""

    model_id: int
    item_ids: list[int]
    offset: int = 0
    limit: int = GALLERY_PAGE
    label_id: int | None = None


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
        if model_id is None:  # the feature report's best model, else the train page's first extractor
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
            projection=await _newest_projection(session, chosen, dataset_id),
            classes=[{"id": c.id, "name": c.name, "color": c.color, "hotkey": c.hotkey} for c in classes],
            project_schema=PROJECT_SCHEMA["properties"],
            cluster_schema=CLUSTER_SCHEMA["properties"],
        )

    @post("/{dataset_id:int}/explorer/gallery", status_code=200)
    async def gallery(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        data: JSONBody[GalleryIn],
    ) -> Template:
        """One page of the selection as tiles; flags, their rule and the flagged ids of all of it."""
        check_page(data.offset, data.limit, settings.max_page_size)
        dataset = await get_dataset(session, dataset_id)
        classes = await list_classes(session, dataset_id)
        class_by_id = {c.id: c for c in classes}
        if data.label_id is not None and data.label_id not in class_by_id:
            raise Invalid(f"label class {data.label_id} is not a class of dataset {dataset_id}")
        flags = await trust.batch_flags(
            session,
            settings,
            dataset_id=dataset_id,
            model_id=data.model_id,
            item_ids=data.item_ids,
            label_ids=[data.label_id] * len(data.item_ids),
        )
        shown = data.item_ids[data.offset : data.offset + data.limit]
        entries = await service.page_items(session, dataset_id, shown)
        return render(
            request,
            "explorer/_gallery.html",
            dataset=dataset,
            entries=entries,
            class_by_id=class_by_id,
            thumb_query=thumb_query(dataset),  # the dataset's display preset, as every page
            version=thumb_version(dataset),
            flags=flags.flags,
            flagged_ids=[i for i in data.item_ids if i in flags.flags],
            flag_rule=flags.rule,
            flagged_count=len(flags.flags),
            judged_class=class_by_id.get(data.label_id) if data.label_id is not None else None,
            # the tiles' item view goes back to the explorer on this model (the page asks by fetch:
            # no HTMX header says its address)
            page_address=f"/datasets/{dataset_id}/explorer?model_id={data.model_id}",
        )


async def _newest_projection(session: AsyncSession, model: Model | None, dataset_id: int) -> Job | None:
    """The projection the page will draw; None when there is none yet, so the page asks for no
    points (a 404 the browser would log as a console error) and says to run one."""
    if model is None:
        return None
    try:
        return await latest_output(session, int(model.id or 0), dataset_id, "project")
    except NotFound:
        return None


route_handlers = [ExplorerPage]
