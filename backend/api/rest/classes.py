"""Label classes of a dataset: name, color, hotkey. Thin handlers over ``backend.labels.classes``."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from backend.api.identity import tagger_for
from backend.api.rest.common import API_PREFIX, AppSettings, Session, error_responses
from backend.api.rest.schemas import ClassDeleted, ClassOut
from backend.labels import classes


class ClassCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    color: str | None = None  # "#rrggbb"; none: the next palette color
    hotkey: str | None = None  # one letter or digit


class ClassPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields left out stay as they are; ``hotkey: null`` (or "") removes the hotkey."""

    name: str | None = None
    color: str | None = None
    hotkey: str | msgspec.UnsetType | None = msgspec.UNSET


class ClassController(Controller):
    path = API_PREFIX
    tags = ["classes"]

    @get("/datasets/{dataset_id:int}/classes", summary="The dataset's live classes in order")
    async def list_classes(self, session: Session, dataset_id: FromPath[int]) -> list[ClassOut]:
        return [ClassOut.of(c) for c in await classes.list_classes(session, dataset_id)]

    @post(
        "/datasets/{dataset_id:int}/classes",
        summary="Add a class",
        status_code=201,
        responses=error_responses(404, 409),
    )
    async def create_class(
        self, session: Session, dataset_id: FromPath[int], data: JSONBody[ClassCreate]
    ) -> ClassOut:
        label = await classes.create_class(session, dataset_id, data.name, data.color, data.hotkey)
        return ClassOut.of(label)

    @get("/classes/{class_id:int}", summary="One class", responses=error_responses(404))
    async def get_class(self, session: Session, class_id: FromPath[int]) -> ClassOut:
        return ClassOut.of(await classes.get_class(session, class_id))

    @patch(
        "/classes/{class_id:int}",
        summary="Rename, recolor or re-key a class",
        responses=error_responses(404, 409),
    )
    async def update_class(
        self, session: Session, class_id: FromPath[int], data: JSONBody[ClassPatch]
    ) -> ClassOut:
        clear = data.hotkey is None or data.hotkey == ""
        hotkey = None if clear or data.hotkey is msgspec.UNSET else data.hotkey
        label = await classes.update_class(
            session,
            class_id,
            name=data.name,
            color=data.color,
            hotkey=hotkey,
            clear_hotkey=clear,
        )
        return ClassOut.of(label)

    @delete(
        "/classes/{class_id:int}",
        summary="Delete a class; items holding it are unlabeled by one recorded event",
        status_code=200,
        responses=error_responses(404),
    )
    async def delete_class(
        self, request: Request, session: Session, settings: AppSettings, class_id: FromPath[int]
    ) -> ClassDeleted:
        event = await classes.delete_class(session, class_id, tagger_for(request, settings))
        return ClassDeleted(deleted_class_id=class_id, unlabel_event_id=event.id if event else None)


route_handlers = [ClassController]
