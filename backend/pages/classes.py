"""The class panel of the label page: add, rename, recolor, re-key and delete label classes."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.labels import classes as label_classes
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, tagger_of
from backend.pages.label import _after_change

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


@post("/datasets/{dataset_id:int}/classes", **OPTS)
async def add_class(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    form = await request.form()
    label = await label_classes.create_class(
        session,
        dataset_id,
        str(form.get("name") or ""),
        str(form.get("color") or "") or None,
        str(form.get("hotkey") or "").strip() or None,
        auto_hotkey=True,  # left empty: the next free key, so the class can be labeled by key at once
    )
    key = f" (key {label.hotkey})" if label.hotkey else ""
    return await _after_change(
        request, session, dataset_id, form, f"Added class '{label.name}'{key}.", reload_gallery=False
    )


@post("/classes/{class_id:int}/edit", **OPTS)
async def edit_class(request: Request, session: AsyncSession, class_id: FromPath[int]) -> Template:
    """An empty hotkey field takes the hotkey away; the class's items keep their labels."""
    form = await request.form()
    hotkey = str(form.get("hotkey") or "").strip()
    label = await label_classes.update_class(
        session,
        class_id,
        name=str(form["name"]) if "name" in form else None,
        color=str(form["color"]) if form.get("color") else None,
        hotkey=hotkey or None,
        clear_hotkey="hotkey" in form and not hotkey,
    )
    return await _after_change(
        request, session, label.dataset_id, form, f"Saved class '{label.name}'.", reload_gallery=True
    )


@post("/classes/{class_id:int}/delete", **OPTS)
async def delete_class(request: Request, session: AsyncSession, class_id: FromPath[int]) -> Template:
    """The class's items are unlabeled by one recorded event, so the deletion can be reviewed."""
    form = await request.form()
    label = await label_classes.get_class(session, class_id)
    name, dataset_id = label.name, label.dataset_id
    event = await label_classes.delete_class(session, class_id, tagger_of(request))
    held = f"; {event.tag_count} item(s) were unlabeled (event #{event.id})" if event else ""
    return await _after_change(
        request, session, dataset_id, form, f"Deleted class '{name}'{held}.", reload_gallery=True
    )


route_handlers = [add_class, edit_class, delete_class]
