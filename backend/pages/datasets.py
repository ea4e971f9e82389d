"""The datasets page: list with progress, create from folders picked in a browser, extend, re-scan, delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.disclosure import public_error, public_location
from backend.accounts.roles import allows, route_role
from backend.api.access import accounts_on, caller_of, shows_internals
from backend.datasets import service
from backend.datasets.display import set_display
from backend.errors import Invalid, NotFound
from backend.images.masks import MASK_RULES
from backend.images.transforms import COLORMAPS, SCALES
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, is_htmx, render
from backend.pages.folders import list_folders
from backend.pages.form_values import number
from backend.settings import Settings
from backend.sources.detector import set_detector, source_problems
from backend.sources.registry import api_keys_for, is_remote

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}


def _shown(path: str | None, internals: bool, settings: Settings) -> str:
    if not path:
        return ""
    return path if internals else public_location(path, settings)


async def _rows(request: Request, session: AsyncSession) -> list[dict[str, Any]]:
    """Datasets with their sources as the caller may see them (viewers: no server paths)."""
    settings: Settings = request.app.state.settings
    internals = shows_internals(request)
    rows = []
    for summary in await service.list_datasets(session):
        assert summary.dataset.id is not None
        sources = []
        for source in await service.list_sources(session, summary.dataset.id):
            found = await source_problems(session, settings, source)
            sources.append(
                {
                    "id": source.id,
                    "kind": source.kind,
                    "uri": source.uri if internals else public_location(source.uri, settings),
                    "scanned_at": source.scanned_at,
                    "mask_path": _shown(source.mask_path, internals, settings),
                    "mask_rules": [r for r in (source.mask_rules or "").split(",") if r],
                    "poni_path": _shown(source.poni_path, internals, settings),
                    "problems": found if internals else [public_error(p, settings) for p in found],
                }
            )
        reasons = []
        if summary.unreadable_count:
            for error, count in await service.unreadable_reasons(session, summary.dataset.id):
                reasons.append((error if internals else public_error(error, settings) or "", count))
        rows.append({"s": summary, "sources": sources, "reasons": reasons})
    return rows


async def _list(request: Request, session: AsyncSession, flash: str = "", status_code: int = 200) -> Template:
    return render(
        request,
        "datasets/_list.html",
        status_code=status_code,
        rows=await _rows(request, session),
        flash=flash,
        **_choices(),
    )


def _choices() -> dict[str, Any]:
    return {"mask_rules": MASK_RULES, "scales": SCALES, "colormaps": COLORMAPS}


@get("/", **OPTS)
async def home() -> Redirect:
    return Redirect("/datasets")


def _may_add(request: Request) -> bool:
    """Whether the caller may add datasets (the folder browser and the form are theirs): anyone
    while the server has no accounts, else the role the route asks for."""
    if not accounts_on(request):
        return True
    caller = caller_of(request)
    return caller is not None and allows(caller.role, route_role("POST", "/datasets"))


@get("/datasets", **OPTS)
async def datasets_page(request: Request, session: AsyncSession) -> Template:
    return render(
        request,
        "datasets/index.html",
        nav="datasets",
        rows=await _rows(request, session),
        flash="",
        may_add=_may_add(request),
        add_role=route_role("POST", "/datasets"),
        **_choices(),
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


@post("/datasets/{dataset_id:int}/display", **OPTS)
async def display(request: Request, session: AsyncSession, dataset_id: FromPath[int]) -> Template:
    """The dataset's display preset, which every page starts from."""
    form = await request.form()
    dataset = await set_display(
        session,
        dataset_id,
        scale=str(form.get("scale") or "") or None,
        colormap=str(form.get("colormap") or "") or None,
        p_low=number(form.get("p_low"), "p_low"),
        p_high=number(form.get("p_high"), "p_high"),
    )
    return await _list(request, session, flash=f"Display of '{dataset.name}' saved")


@post("/datasets/{dataset_id:int}/sources/{source_id:int}/detector", **OPTS)
async def detector(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    dataset_id: FromPath[int],
    source_id: FromPath[int],
) -> Template:
    """A source's mask file, mask rules and PONI file; an empty field clears the file."""
    form = await request.form()
    if not any(s.id == source_id for s in await service.list_sources(session, dataset_id)):
        raise NotFound(f"source {source_id} is not a source of dataset {dataset_id}", id=source_id)
    await set_detector(
        session,
        settings,
        source_id,
        mask_path=str(form.get("mask_path") or "").strip(),
        mask_rules=list(form.getall("mask_rules")) if "mask_rules" in form else [],
        poni_path=str(form.get("poni_path") or "").strip(),
    )
    return await _list(request, session, flash="Mask and geometry saved")


route_handlers = [home, datasets_page, browse, create, add_source, rescan, delete, display, detector]
