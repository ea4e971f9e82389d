"""What every page handler shares: the template context, HTMX detection, errors shown as people read them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template
from sqlalchemy.exc import DBAPIError

from backend.api.access import SIGNIN_PATH
from backend.api.errors import AccessDenied
from backend.api.identity import tagger_for
from backend.errors import Forbidden, LabelwiseError
from backend.pages.came_from import page_address
from backend.settings import Settings


def is_htmx(request: Request) -> bool:
    """A partial is wanted: an HTMX request that is not restoring a page from history."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def tagger_of(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return tagger_for(request, settings)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    """A template with the context base.html needs (the tagger shown in the top bar), and the
    page's own address (``page_address``: a batch tile's item view links back to it)."""
    context.setdefault("tagger", tagger_of(request))
    context.setdefault("page_address", page_address(request))
    return Template(template_name=template, context=context, status_code=status_code)


def not_stored(template: Template) -> Template:
    """A page whose labels and counts change while it is left (where batches are applied, items
    labeled): Back asks for it again. The browser's stored copy showed the items and counts of
    when it was first loaded (tiles labeled since offered again), and where a filter or a pager
    had pushed the view's URL, only the partial htmx had asked for there. A page the back-forward
    cache kept whole is repainted by its script (``labelwise.onBack``)."""
    template.headers["Cache-Control"] = "no-store"
    return template


def left_out_notice(count: int, class_name: str | None) -> str:
    """The accept notice's sentence on a batch's deselected items, recorded as rejections (decision
    0015); ``class_name`` None: an arg-max batch, each item rejected for the class it was offered as."""
    if count <= 0:
        return ""
    of = f"“{class_name}”" if class_name else "the class each was offered as"
    return f" {count} deselected item(s) left out: they will not be suggested again as {of}."


def _message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, DBAPIError | ConnectionError):
        from backend.api.errors import OUT_OF_RANGE, database_failure, database_message, is_bad_value

        if isinstance(exc, DBAPIError) and is_bad_value(exc):
            return 400, OUT_OF_RANGE
        status, code = database_failure(exc)
        return status, database_message(code)
    if isinstance(exc, LabelwiseError):
        return exc.status, exc.message
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    return 500, "an unexpected error occurred; it was logged"


def page_error_handler(request: Request, exc: Exception) -> Response:
    """HTMX requests get the plain message (labelwise.js shows it in the flash area); full pages an
    HTML page that says what went wrong and links back."""
    status, message = _message(exc)
    if status >= 500 and status != 503:
        from backend.api.errors import unexpected_error_handler

        unexpected_error_handler(request, exc)  # logs the traceback
    if request.headers.get("hx-request") == "true":
        return Response(message, status_code=status, media_type="text/plain")
    return render(request, "error.html", status_code=status, status=status, message=message)


def _return_to(request: Request) -> str:
    """Where signing in brings the person back. An HTMX request's own address is a fragment or an
    action that only takes POST (a 405 after signing in, a session ended mid-labeling): the page
    that sent it (``HX-Current-URL``, its path only) instead; a plain POST form: the home page."""
    if request.headers.get("hx-request") == "true":
        current = urlsplit(request.headers.get("hx-current-url") or "")
        if current.path.startswith("/"):
            return current.path + (f"?{current.query}" if current.query else "")
        return "/"
    if request.method not in ("GET", "HEAD"):
        return "/"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def page_access_denied(request: Request, exc: AccessDenied) -> Response:
    """Nobody signed in: the sign-in page, coming back here after; a role too weak (403) or the
    database down (503): an error page."""
    if exc.status_code == 401:
        signin = f"{SIGNIN_PATH}?next={quote(_return_to(request), safe='')}"
        if request.headers.get("hx-request") == "true":
            headers = {"HX-Redirect": signin}
            return Response(exc.detail, status_code=401, headers=headers, media_type="text/plain")
        return Response("", status_code=303, headers={"Location": signin})
    if exc.status_code == 403:
        return page_error_handler(request, Forbidden(exc.detail))
    failure = LabelwiseError(exc.detail)
    failure.status, failure.code = exc.status_code, exc.code  # a 503 page: the database is down
    return page_error_handler(request, failure)


PAGE_EXCEPTION_HANDLERS: dict[Any, Any] = {
    AccessDenied: page_access_denied,  # the guard's refusals, as pages show them
    LabelwiseError: page_error_handler,
    HTTPException: page_error_handler,
    DBAPIError: page_error_handler,  # the database down: an HTML page (503), not the API's JSON
    ConnectionError: page_error_handler,
}
