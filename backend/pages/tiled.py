"""The Tiled browser of the datasets page (admins): walk a Tiled server's containers, pick nodes.

Only admins browse, as only admins add sources, and only hosts in ``LABELWISE_TILED_HOSTS``; the
listing is bounded in children and time (``backend.sources.tiled.browse_for_admin``), so a server
that pages forever cannot keep a thread busy after the browser has gone.
The API key reaches the server only in a POST body (never a URL, so never a log line or browser
history) and is never rendered back: the fragment carries node URIs only, and the key stays in the
password field of the page, sent again with each step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Template

from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render
from backend.settings import Settings
from backend.sources.tiled import browse_for_admin

OPTS: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": PAGE_EXCEPTION_HANDLERS,
    "status_code": 200,
}  # both routes need ADMIN: backend/accounts/roles.py::ROUTE_ROLES


async def _listing(request: Request, settings: Settings, uri: str, api_key: str | None) -> Template:
    uri = (uri or "").strip()
    if not uri:
        return render(request, "tiled/_browser.html", listing=None)
    listing = await asyncio.to_thread(browse_for_admin, uri, api_key or None, settings)
    return render(request, "tiled/_browser.html", listing=listing)


@get("/tiled/browse", **OPTS)
async def browse_public(request: Request, settings: Settings, uri: FromQuery[str] = "") -> Template:
    """Children of a node of a public Tiled server (no key: a key never travels in a URL)."""
    return await _listing(request, settings, uri, None)


@post("/tiled/browse", **OPTS)
async def browse_with_key(request: Request, settings: Settings) -> Template:
    """Children of a node; form fields ``uri`` and ``api_key`` (optional)."""
    form = await request.form()
    return await _listing(request, settings, str(form.get("uri") or ""), str(form.get("api_key") or ""))


route_handlers = [browse_public, browse_with_key]
