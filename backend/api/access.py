"""The one door check: an app-wide guard that finds the caller and requires the route's role.

The guard raises ``AccessDenied``; each door renders it in its own shape with its own exception
handler (REST: ``backend/api/errors.py``, GraphQL: ``backend/api/graphql/errors.py``, pages:
``backend/pages/common.py``), so nothing here knows a door.

Installed on the whole app in ``backend/app.py``, so it covers every route handler, present and
future: the role comes from ``backend.accounts.roles.route_role`` (the handler's ``opt["role"]``,
the ``ROUTE_ROLES`` table, else the HTTP method's default). The caller is the signed-in browser
session (cookie), or a bearer token (``Authorization: Bearer lw_...``), or, while no account
exists, the single local user (loopback clients only).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.exc import DBAPIError

from backend.accounts import service
from backend.accounts.disclosure import sees_internals
from backend.accounts.local import allowed_host, is_loopback
from backend.accounts.roles import ADMIN, PUBLIC, allows, route_role
from backend.accounts.service import Caller
from backend.api.errors import AccessDenied, database_failure, database_message

__all__ = ["AccessDenied", "accounts_on", "caller_of", "resolve_caller", "role_guard", "shows_internals"]

log = logging.getLogger("labelwise.access")
SESSION_COOKIE = "labelwise_session"
# Without accounts, whether one was added (by another process: the CLI) is asked again this often.
LOCAL_RECHECK_SECONDS = 5.0
CALLER_KEY = "labelwise_caller"
ACCOUNTS_KEY = "labelwise_accounts"
SIGNIN_PATH = "/signin"
TEST_CLIENT_HOST = "testclient"  # Litestar's in-process test client: never a network peer


def _database_down(exc: Exception) -> AccessDenied:
    """The caller could not be looked up: a 503 in the door's own error shape, without internals."""
    status, code = database_failure(exc)
    return AccessDenied(status, database_message(code), code)


def _state(connection: ASGIConnection) -> dict[str, Any]:
    return connection.scope.setdefault("state", {})


def caller_of(connection: ASGIConnection) -> Caller | None:
    """The caller the guard found for this request (None before the guard ran, or when nobody)."""
    return _state(connection).get(CALLER_KEY)


def shows_internals(connection: ASGIConnection) -> bool:
    """Whether this request's caller sees server paths and tracebacks (``accounts/disclosure.py``)."""
    caller = caller_of(connection)
    return sees_internals(caller.role if caller is not None else None)


def accounts_on(connection: ASGIConnection) -> bool:
    """Whether the guard found accounts in the database for this request."""
    return bool(_state(connection).get(ACCOUNTS_KEY))


def _set_caller(connection: ASGIConnection, caller: Caller | None) -> None:
    _state(connection)[CALLER_KEY] = caller


def _local_caller(connection: ASGIConnection) -> Caller:
    settings = connection.app.state.settings
    return Caller(name=settings.tagger, role=ADMIN)


def _still_without_accounts(state: Any) -> bool:
    """No account a moment ago, and none added by this process since: skip the database."""
    until, epoch = getattr(state, "without_accounts", (0.0, -1))
    return time.monotonic() < until and epoch == service.accounts_epoch()


async def resolve_caller(connection: ASGIConnection) -> Caller | None:
    """Who this request acts as; raises 401 for a bearer token that is not (or no longer) valid."""
    state = connection.app.state
    if _still_without_accounts(state):
        _state(connection)[ACCOUNTS_KEY] = False
        return _local_caller(connection)
    async with state.database.session() as session:
        accounts = await service.accounts_exist(session)  # one indexed row
        _state(connection)[ACCOUNTS_KEY] = accounts
        if not accounts:
            state.without_accounts = (time.monotonic() + LOCAL_RECHECK_SECONDS, service.accounts_epoch())
            return _local_caller(connection)
        scheme, _, value = (connection.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            caller = await service.caller_for_token(session, value.strip())
            if caller is None:
                raise AccessDenied(401, "the API token is not valid: revoked, mistyped, or its user disabled")
            return caller
        cookie = connection.cookies.get(SESSION_COOKIE)
        return await service.caller_for_session(session, cookie) if cookie else None


async def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Litestar guard on the app: every route needs its role; nothing is open by omission."""
    method = str(connection.scope.get("method", "GET"))
    template = str(connection.scope.get("path_template") or connection.url.path)
    needed = route_role(method, template, handler.opt)
    if needed == PUBLIC and not handler.opt.get("role"):
        return  # static files, CORS preflights, the schema: no caller needed, no database query
    try:
        caller = await resolve_caller(connection)
    except AccessDenied:
        if needed != PUBLIC:
            raise
        caller = None
    except (DBAPIError, ConnectionError) as exc:  # PostgreSQL down: a refused connect is bare
        if needed != PUBLIC:
            raise _database_down(exc) from exc
        caller = None
    _set_caller(connection, caller)
    if needed == PUBLIC:
        return
    if caller is None:
        raise AccessDenied(401, "sign in first, or send an API token (Authorization: Bearer ...)")
    if caller.local:
        client = connection.client.host if connection.client else None
        if not (is_loopback(client) or client == TEST_CLIENT_HOST):
            raise AccessDenied(403, "Labelwise runs without accounts and answers this computer only")
        host = connection.headers.get("host")
        if client != TEST_CLIENT_HOST and not allowed_host(host, connection.app.state.settings):
            raise AccessDenied(
                403,
                f"Labelwise runs without accounts and answers to its own names only, not '{host}' "
                "(add it to LABELWISE_ALLOWED_HOSTS if it is yours)",
            )
    if not allows(caller.role, needed):
        raise AccessDenied(403, f"this needs the {needed} role; '{caller.name}' is a {caller.role}")
