"""Accounts for scripts: who am I, API tokens (mine; admins: anyone's), users (admins), disabling.

Thin over ``backend.accounts.service``; mutation roles in ``backend.accounts.roles.MUTATION_ROLES``.
Queries reach the HTTP guard as viewers, so the admin-only ones check the role here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.accounts import service
from backend.accounts.roles import ADMIN, allows
from backend.accounts.service import Caller
from backend.accounts.views import TokenView, UserView
from backend.api.graphql.context import use_session
from backend.api.graphql.views import from_view
from backend.errors import Forbidden
from backend.storage.account_tables import ApiToken, UserAccount


def _caller(info: Info[Any, Any]) -> Caller:
    from backend.api.access import caller_of

    caller = caller_of(info.context.connection)
    if caller is None:
        raise Forbidden("sign in first, or send an API token (Authorization: Bearer ...)")
    return caller


def _admin(info: Info[Any, Any]) -> Caller:
    caller = _caller(info)
    if not allows(caller.role, ADMIN):
        raise Forbidden(f"this needs the admin role; '{caller.name}' is a {caller.role}")
    return caller


@strawberry.type(description="A user and their role; disabled users can neither sign in nor use tokens.")
class User:
    name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime

    @classmethod
    def of(cls, user: UserAccount) -> User:
        return from_view(cls, UserView.of(user))


@strawberry.type(description="An API token: its prefix tells tokens apart; the secret is never shown again.")
class ApiTokenInfo:
    id: int
    user: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, user: str) -> ApiTokenInfo:
        return from_view(cls, TokenView.of(token), user=user)


@strawberry.type
class Query:
    @strawberry.field(description="Every user and their role (admins only).")
    async def users(self, info: Info[Any, Any]) -> list[User]:
        _admin(info)
        async with use_session(info) as session:
            return [User.of(u) for u in await service.list_users(session)]

    @strawberry.field(description="API tokens: mine; an admin may name another user (or give all: true).")
    async def api_tokens(
        self, info: Info[Any, Any], user: str | None = None, all: bool = False
    ) -> list[ApiTokenInfo]:
        caller = _caller(info)
        if all or (user is not None and user != caller.name):
            _admin(info)
        else:
            caller = service.require_signed_in(caller)
            user = caller.name
        async with use_session(info) as session:
            rows = await service.user_tokens(session, None if all else user)
        return [ApiTokenInfo.of(token, name) for token, name in rows]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Revoke an API token (mine; admins: anyone's); refused from the next request."
    )
    async def revoke_token(self, info: Info[Any, Any], id: int) -> ApiTokenInfo:
        caller = service.require_signed_in(_caller(info))
        async with use_session(info) as session:
            token = await service.revoke_token(session, caller, id)
            owner = await session.get(UserAccount, token.user_id)
        return ApiTokenInfo.of(token, owner.name if owner else "")

    @strawberry.mutation(
        description="Disable a user: their sessions end and their tokens are refused, at once."
    )
    async def disable_user(self, info: Info[Any, Any], name: str) -> User:
        async with use_session(info) as session:
            return User.of(await service.set_active(session, name, False))

    @strawberry.mutation(description="Enable a disabled user again (their unrevoked tokens work again).")
    async def enable_user(self, info: Info[Any, Any], name: str) -> User:
        async with use_session(info) as session:
            return User.of(await service.set_active(session, name, True))
