"""Who am I, my API tokens, and (admins) users and their roles. Thin over ``backend.accounts.service``.

A token's secret is in the answer to its creation only; afterwards lists show its prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from backend.accounts import service
from backend.accounts.roles import ADMIN, VIEWER
from backend.accounts.views import TokenView, UserView
from backend.api.access import caller_of
from backend.api.rest.common import API_PREFIX, Session, error_responses, from_view, rest_struct


class Me(msgspec.Struct, kw_only=True):
    name: str
    role: str
    accounts: bool  # False: Labelwise runs without accounts, as the single local user


if TYPE_CHECKING:  # handlers are checked against the read models themselves
    TokenOut = TokenView
    UserTokenOut = TokenView
    UserOut = UserView
else:
    TokenOut = rest_struct(TokenView, "TokenOut")
    UserTokenOut = rest_struct(TokenView, "UserTokenOut", extra=(("user", str),), constructors=())
    UserOut = rest_struct(UserView, "UserOut")


class NewToken(msgspec.Struct, kw_only=True):
    """The secret appears here once; keep it: the server stores only its hash."""

    token: str
    info: TokenOut


class TokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label: str = ""


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    role: str
    password: str | None = None  # none: the user works with API tokens only


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: str


class AccountController(Controller):
    path = API_PREFIX
    tags = ["accounts"]

    @get("/me", summary="Who this request acts as")
    async def me(self, request: Request) -> Me:
        caller = caller_of(request)
        assert caller is not None  # the guard let the request in
        return Me(name=caller.name, role=caller.role, accounts=not caller.local)

    @get("/tokens", summary="My API tokens (their prefixes, never the secrets)")
    async def list_tokens(self, request: Request, session: Session) -> list[TokenOut]:
        caller = service.require_signed_in(caller_of(request))
        assert caller.user_id is not None
        return [TokenOut.of(t) for t in await service.list_tokens(session, caller.user_id)]

    @post(
        "/tokens",
        summary="Create an API token (shown once)",
        status_code=201,
        opt={"role": VIEWER},  # every user, viewers too, may read through the API
        responses=error_responses(400, 403),
    )
    async def create_token(self, request: Request, session: Session, data: JSONBody[TokenCreate]) -> NewToken:
        caller = service.require_signed_in(caller_of(request))
        assert caller.user_id is not None
        token, secret = await service.create_token(session, caller.user_id, data.label)
        return NewToken(token=secret, info=TokenOut.of(token))

    @delete(
        "/tokens/{token_id:int}",
        summary="Revoke an API token: one of mine (admins: anyone's); it is refused at once",
        status_code=200,
        opt={"role": VIEWER},
        responses=error_responses(403, 404),
    )
    async def revoke_token(self, request: Request, session: Session, token_id: FromPath[int]) -> TokenOut:
        caller = service.require_signed_in(caller_of(request))
        return TokenOut.of(await service.revoke_token(session, caller, token_id))

    @get("/users", summary="Every user and their role", opt={"role": ADMIN})
    async def list_users(self, session: Session) -> list[UserOut]:
        return [UserOut.of(u) for u in await service.list_users(session)]

    @post(
        "/users",
        summary="Add a user",
        status_code=201,
        opt={"role": ADMIN},
        responses=error_responses(400, 409),
    )
    async def add_user(self, session: Session, data: JSONBody[UserCreate]) -> UserOut:
        return UserOut.of(await service.add_user(session, data.name, data.role, data.password))

    @patch(
        "/users/{name:str}",
        summary="Change a user's role",
        opt={"role": ADMIN},
        responses=error_responses(400, 404, 409),
    )
    async def set_role(self, session: Session, name: FromPath[str], data: JSONBody[UserPatch]) -> UserOut:
        return UserOut.of(await service.set_role(session, name, data.role))

    @post(
        "/users/{name:str}/disable",
        summary="Disable a user: their sessions end and their tokens are refused, at once",
        status_code=200,
        opt={"role": ADMIN},
        responses=error_responses(404, 409),
    )
    async def disable_user(self, session: Session, name: FromPath[str]) -> UserOut:
        return UserOut.of(await service.set_active(session, name, False))

    @post(
        "/users/{name:str}/enable",
        summary="Enable a disabled user again (their unrevoked tokens work again)",
        status_code=200,
        opt={"role": ADMIN},
        responses=error_responses(404),
    )
    async def enable_user(self, session: Session, name: FromPath[str]) -> UserOut:
        return UserOut.of(await service.set_active(session, name, True))

    @get(
        "/users/{name:str}/tokens",
        summary="A user's API tokens (prefixes, never secrets)",
        opt={"role": ADMIN},
        responses=error_responses(404),
    )
    async def user_tokens(self, session: Session, name: FromPath[str]) -> list[UserTokenOut]:
        return [
            from_view(UserTokenOut, TokenView.of(t), user=user)
            for t, user in await service.user_tokens(session, name)
        ]


route_handlers = [AccountController]
