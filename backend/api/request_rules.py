"""What a request body may be, checked before anything parses it (docs/decisions/0005).

Litestar parses an url-encoded form with ``parse_qsl`` on the event loop, in one go, before any
handler or auth check runs (the CSRF middleware reads ``_csrf_token`` from it): 63 MB of ``a&a&...``
froze the whole server for 49 s. This middleware runs first on every route and bounds that work:

- forms (url-encoded or multipart) may hold ``max_form_bytes`` and ``max_form_fields`` fields;
  JSON bodies ``max_json_bytes``; only documented uploads (a route's ``opt["upload_media_types"]``)
  get the app's ``max_request_bytes``. Over a limit: 413 before the body is parsed.
- the JSON doors (``/api/``, ``/graphql``) take writes as ``application/json`` only, or a route's
  documented upload types: 415 otherwise. A cross-site ``<form>`` or ``fetch`` can send only
  ``text/plain``, url-encoded or multipart bodies without a CORS preflight, so a JSON-only door
  cannot be written to from another site. A browser's cross-site write without a body is refused
  by its ``Origin`` / ``Sec-Fetch-Site`` headers (scripts send neither).
- a NUL character in the URL, the query or a form/JSON body is refused with 400: no name, path or
  value of ours may hold one (PostgreSQL cannot store it, the OS cannot open it).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from backend.errors import Invalid, TooLarge
from backend.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
JSON_TYPE = "application/json"
JSON_DOORS = ("/api/", "/graphql")
UPLOAD_OPT = "upload_media_types"  # a route's opt: the body media types it documents


class UnsupportedMediaType(HTTPException):
    status_code = 415


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def media_type(scope: Scope) -> str:
    """The body's media type, lower case, without parameters (``""`` when not given)."""
    return (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return _header(scope, b"transfer-encoding") is not None


def _is_json_door(path: str) -> bool:
    return path.startswith(JSON_DOORS)


def _has_escaped_nul(body: bytes) -> bool:
    """``\\u0000`` in JSON text that is a real escape (an odd run of backslashes before ``u``)."""
    start = body.find(b"u0000")
    while start > 0:
        slashes = 0
        while start - slashes - 1 >= 0 and body[start - slashes - 1] == 0x5C:
            slashes += 1
        if slashes % 2 == 1:
            return True
        start = body.find(b"u0000", start + 5)
    return False


def refuse_nul(where: str) -> Invalid:
    return Invalid(f"the {where} holds a NUL character (\\0); no name or value may contain one")


def check_url(scope: Scope) -> None:
    """NUL in the path or the query (raw, or %00 encoded)."""
    path = scope.get("path", "")
    if "\x00" in path:
        raise refuse_nul("URL path")
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"\x00" in unquote_to_bytes(query):
        raise refuse_nul("query string")


def check_origin(scope: Scope) -> None:
    """A browser writing to a JSON door from another site: refused, whatever its body.

    ``Sec-Fetch-Site`` (sent by every current browser) says so directly; otherwise an ``Origin``
    that is not this server's own. Scripts (httpx, curl, the client package) send neither.
    """
    site = (_header(scope, b"sec-fetch-site") or "").lower()
    if site in ("cross-site", "same-site"):
        raise HTTPException(status_code=403, detail="a write from another site is refused (CSRF)")
    origin = _header(scope, b"origin")
    if origin and origin != "null":
        host = _header(scope, b"host") or ""
        if origin.split("://", 1)[-1].rstrip("/").lower() != host.lower():
            raise HTTPException(status_code=403, detail="a write from another origin is refused (CSRF)")
    elif origin == "null":
        raise HTTPException(status_code=403, detail="a write from an opaque origin is refused (CSRF)")


def body_limit(settings: Settings, kind: str) -> int:
    """How many bytes this request's body may hold."""
    if kind == "form":
        return settings.max_form_bytes
    if kind == "json":
        return settings.max_json_bytes
    return settings.max_request_bytes


def body_kind(scope: Scope, path: str) -> str:
    """``form``, ``json`` or ``upload``; raises 415 for a JSON door's body of another type."""
    kind = media_type(scope)
    handler = scope.get("route_handler")
    uploads = tuple((handler.opt.get(UPLOAD_OPT) if handler is not None else None) or ())
    if kind in uploads:
        return "upload"
    if _is_json_door(path) and kind != JSON_TYPE:
        documented = ", ".join((JSON_TYPE, *uploads))
        raise UnsupportedMediaType(
            detail=f"this endpoint takes {documented} bodies, not '{kind or 'no content type'}'"
        )
    if kind in FORM_TYPES:
        return "form"
    if kind == JSON_TYPE:
        return "json"
    return "form"  # pages take forms; anything else is held to the same small limit


class RequestRulesMiddleware(ASGIMiddleware):
    """Checks the URL, the media type and the size of a body before anything parses it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != ScopeType.HTTP:
            await next_app(scope, receive, send)
            return
        check_url(scope)
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        if method in SAFE_METHODS:
            await next_app(scope, receive, send)
            return
        if _is_json_door(path):
            check_origin(scope)
        if not _has_body(scope):
            await next_app(scope, receive, send)
            return
        settings: Settings = scope["litestar_app"].state.settings
        kind = body_kind(scope, path)
        limit = body_limit(settings, kind)
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise TooLarge(_too_large(kind, limit))
        if kind == "upload":
            await next_app(scope, receive, send)  # the app's max_request_bytes applies while streaming
            return
        body = await _read_body(receive, limit, kind)
        _check_body(scope, body, kind, settings)
        await next_app(scope, _replay(body, receive), send)


def _too_large(kind: str, limit: int) -> str:
    what = {"form": "a form", "json": "a JSON body"}.get(kind, "an upload")
    return f"the request body is too large: {what} may hold {limit} bytes"


async def _read_body(receive: Receive, limit: int, kind: str) -> bytes:
    """The whole body, refused as soon as it passes ``limit`` (a missing Content-Length too)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(status_code=400, detail="the client went away before sending the body")
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > limit:
            raise TooLarge(_too_large(kind, limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _check_body(scope: Scope, body: bytes, kind: str, settings: Settings) -> None:
    if kind == "form":
        media = media_type(scope)
        # Fields are counted with C-speed byte counts: an url-encoded field ends at '&' or ';'
        # (parse_qsl splits on '&' only, but both are counted to be safe), a multipart part at
        # its boundary line.
        multipart = media == "multipart/form-data"
        fields = body.count(b"\r\n--") if multipart else body.count(b"&") + 1
        if fields > settings.max_form_fields:
            raise TooLarge(f"the form has too many fields: at most {settings.max_form_fields}")
        if media != "multipart/form-data" and (b"\x00" in body or b"%00" in body):
            raise refuse_nul("form")  # multipart parts may be binary
    elif kind == "json" and (b"\x00" in body or _has_escaped_nul(body)):
        raise refuse_nul("JSON body")
    elif kind == "json" and scope.get("path", "").startswith("/graphql") and b"\\u0000" in body:
        raise refuse_nul("GraphQL query")  # a GraphQL string escape inside the JSON-encoded query


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body on, then the client's later messages."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
