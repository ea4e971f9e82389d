"""Sign in, sign out, and the account page (API tokens: create, shown once, revoke).

The session cookie is HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site
POSTs; links from e-mail still arrive signed in) and Secure when the page is served over HTTPS.
Failed sign-ins are limited per user name and address (``backend.accounts.ratelimit``); the address
is the forwarded one behind a trusted proxy (``backend.accounts.addresses``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts import service
from backend.accounts.addresses import client_address
from backend.accounts.ratelimit import SignInLimiter
from backend.accounts.roles import PUBLIC, VIEWER
from backend.api.access import SESSION_COOKIE, SIGNIN_PATH, caller_of
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render

OPTS: dict[str, Any] = {"include_in_schema": False, "exception_handlers": PAGE_EXCEPTION_HANDLERS}


def _safe_next(target: str | None) -> str:
    """Only paths of this site: never an open redirect to another host."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _signin_page(request: Request, status: int = 200, **context: Any) -> Template:
    caller = caller_of(request)
    context.setdefault("next", _safe_next(request.query_params.get("next")))
    return Template(
        template_name="accounts/signin.html",
        context={"tagger": None, "caller": caller, **context},
        status_code=status,
    )


@get(SIGNIN_PATH, opt={"role": PUBLIC}, **OPTS)
async def signin_page(request: Request) -> Template:
    return _signin_page(request)


@post(SIGNIN_PATH, opt={"role": PUBLIC}, status_code=303, **OPTS)
async def signin(request: Request, session: AsyncSession) -> Response[Any]:
    form = await request.form()
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    settings = request.app.state.settings
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    wait = limiter.retry_after(name, address)
    if wait is not None:
        message = f"Too many failed sign-ins; try again in {wait} s."
        page = _signin_page(request, 429, error=message, name=name, next=target)
        page.headers["Retry-After"] = str(wait)
        return page
    user = await service.authenticate(session, name, password) if name and password else None
    if user is None:
        limiter.failed(name, address)
        return _signin_page(request, 401, error="Wrong name or password.", name=name, next=target)
    limiter.succeeded(name, address)
    secret = await service.start_session(session, user)
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@post("/signout", opt={"role": PUBLIC}, status_code=303, **OPTS)
async def signout(request: Request, session: AsyncSession) -> Response[Any]:
    """Ends this browser's session on the server too (the cookie alone would stay valid otherwise)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await service.end_session(session, cookie)
    response: Response[Any] = Redirect(SIGNIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _account_page(request: Request, session: AsyncSession, new_token: str | None = None) -> Template:
    caller = service.require_signed_in(caller_of(request))
    assert caller.user_id is not None
    tokens = await service.list_tokens(session, caller.user_id)
    return render(request, "accounts/account.html", caller=caller, tokens=tokens, new_token=new_token)


@get("/account", **OPTS)
async def account_page(request: Request, session: AsyncSession) -> Template:
    return await _account_page(request, session)


@post("/account/tokens", opt={"role": VIEWER}, status_code=200, **OPTS)
async def create_token(request: Request, session: AsyncSession) -> Template:
    caller = service.require_signed_in(caller_of(request))
    assert caller.user_id is not None
    form = await request.form()
    _token, secret = await service.create_token(session, caller.user_id, str(form.get("label") or ""))
    page = await _account_page(request, session, new_token=secret)
    page.headers["Cache-Control"] = "no-store"  # the secret is on this page, once
    return page


@post("/account/tokens/{token_id:int}/revoke", opt={"role": VIEWER}, status_code=200, **OPTS)
async def revoke_token(request: Request, session: AsyncSession, token_id: FromPath[int]) -> Template:
    caller = service.require_signed_in(caller_of(request))
    await service.revoke_token(session, caller, token_id)
    return await _account_page(request, session)


route_handlers = [signin_page, signin, signout, account_page, create_token, revoke_token]
