"""The datasets page: list with progress, create from folders picked in a browser, extend, re-scan, delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.disclosure import public_location
from backend.api.access import shows_internals
from backend.datasets import service
from backend.errors import Invalid
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, is_htmx, render
from backend.pages.folders import list_folders
from backend.settings import Settings
from backend.sources.registry import api_keys_for, is_remote

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


async def _rows(request: Request, session: AsyncSession) -> list[dict[str, Any]]:
    """Datasets with their sources as the caller may see them (viewers: no server paths)."""
    settings: Settings = request.app.state.settings
    internals = shows_internals(request)
    rows = []
    for summary in await service.list_datasets(session):
        assert summary.dataset.id is not None
        sources = [
            {
                "kind": source.kind,
                "uri": source.uri if internals else public_location(source.uri, settings),
                "scanned_at": source.scanned_at,
            }
            for source in await service.list_sources(session, summary.dataset.id)
        ]
        rows.append({"s": summary, "sources": sources})
    return rows


async def _list(request: Request, session: AsyncSession, flash: str = "", status_code: int = 200) -> Template:
    return render(
        request,
        "datasets/_list.html",
        status_code=status_code,
        rows=await _rows(request, session),
        flash=flash,
    )


@get("/", **OPTS)
async def home() -> Redirect:
    return Redirect("/datasets")


@get("/datasets", **OPTS)
async def datasets_page(request: Request, session: AsyncSession) -> Template:
    return render(
        request, "datasets/index.html", nav="datasets", rows=await _rows(request, session), flash=""
    )


@get("/datasets/browse", **OPTS)
async def browse(request: Request, settings: Settings, path: FromQuery[str | None] = None) -> Template:
    return render(request, "datasets/_browser.html", listing=list_folders(settings, path))


def _report(report: Any) -> str:
    parts = [f"{report.added} added"]
    if getattr(report, "unreadable", 0):
        parts.append(f"{report.unreadable} unreadable")
    if getattr(report, "missing", 0):
        parts.append(f"{report.missing} missing")
    if getattr(report, "restored", 0):
        parts.append(f"{report.restored} back")
    return ", ".join(parts)


@post("/datasets", **OPTS)
async def create(request: Request, session: AsyncSession, settings: Settings) -> Response[Any]:
    form = await request.form()
    sources = [s for s in form.getall("sources") if s.strip()] if "sources" in form else []
    if not sources:
        raise Invalid("pick at least one folder in the browser before creating the dataset")
    sources = list(dict.fromkeys(sources))
    dataset, _ = await service.create_dataset(
        session,
        settings,
        str(form.get("name") or ""),
        sources,
        multi_label=str(form.get("multi_label", "")).lower() in ("1", "on", "true"),
        api_keys=api_keys_for(sources, str(form.get("api_key") or "") or None),
    )
    target = f"/datasets/{dataset.id}/label"
    if is_htmx(request):
        return Response("", headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


@post("/datasets/{dataset_id:int}/sources", **OPTS)
async def add_source(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    form = await request.form()
    sources = [s for s in form.getall("sources") if s.strip()] if "sources" in form else []
    if not sources:
        raise Invalid("pick a folder to add")
    messages = []
    for spec in dict.fromkeys(sources):
        key = str(form.get("api_key") or "") or None if is_remote(spec) else None
        report = await service.add_source(session, settings, dataset_id, spec, api_key=key)
        messages.append(f"{spec}: {_report(report)}")
    return await _list(request, session, flash="Added " + "; ".join(messages))


@post("/datasets/{dataset_id:int}/rescan", **OPTS)
async def rescan(
    request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
) -> Template:
    dataset = await service.get_dataset(session, dataset_id)
    name = dataset.name
    report = await service.rescan_dataset(session, settings, dataset_id)
    return await _list(request, session, flash=f"Re-scanned '{name}': {_report(report)}")


@post("/datasets/{dataset_id:int}/delete", **OPTS)
async def delete(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    dataset = await service.get_dataset(session, dataset_id)
    name = dataset.name
    await service.delete_dataset(session, dataset_id)
    return await _list(request, session, flash=f"Deleted dataset '{name}' (image files were not touched)")


route_handlers = [home, datasets_page, browse, create, add_source, rescan, delete]
