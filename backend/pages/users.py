"""The admins' users page: every user with their role and state, disable / enable, and every
user's API tokens (prefixes only) with a revoke button. Thin over ``backend.accounts.service``.

Every route here needs ADMIN (``backend.accounts.roles.ROUTE_ROLES``). The forms post with HTMX
and swap the panel, so the address stays ``/admin/users`` and a reload posts nothing again.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts import service
from backend.api.access import caller_of
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render

OPTS: dict[str, Any] = {"include_in_schema": False, "exception_handlers": PAGE_EXCEPTION_HANDLERS}


async def _users_page(request: Request, session: AsyncSession, notice: str = "") -> Template:
    users = await service.list_users(session)
    tokens: dict[str, list] = {}
    for token, name in await service.user_tokens(session):
        tokens.setdefault(name, []).append(token)
    return render(
        request, "accounts/users.html", caller=caller_of(request), users=users, tokens=tokens, notice=notice
    )


@get("/admin/users", **OPTS)
async def users_page(request: Request, session: AsyncSession) -> Template:
    return await _users_page(request, session)


@post("/admin/users/{name:str}/disable", status_code=200, **OPTS)
async def disable_user(request: Request, session: AsyncSession, name: FromPath[str]) -> Template:
    user = await service.set_active(session, name, False)
    return await _users_page(request, session, f"{user.name} is disabled: signed out, tokens refused.")


@post("/admin/users/{name:str}/enable", status_code=200, **OPTS)
async def enable_user(request: Request, session: AsyncSession, name: FromPath[str]) -> Template:
    user = await service.set_active(session, name, True)
    return await _users_page(request, session, f"{user.name} is enabled again.")


@post("/admin/tokens/{token_id:int}/revoke", status_code=200, **OPTS)
async def revoke_token(request: Request, session: AsyncSession, token_id: FromPath[int]) -> Template:
    caller = service.require_signed_in(caller_of(request))
    token = await service.revoke_token(session, caller, token_id)
    return await _users_page(request, session, f"Token {token.prefix}… is revoked.")


route_handlers = [users_page, disable_user, enable_user, revoke_token]
