"""The one place that maps domain errors to HTTP responses."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from backend.errors import LabelwiseError

log = logging.getLogger("labelwise.api")


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, **({"details": details} if details else {})}}


class AccessDenied(HTTPException):
    """401 (no or bad credentials), 403 (a role too weak) or 503 (the caller could not be looked
    up), raised by the guard (``backend/api/access.py``); each door renders it in its own shape."""

    def __init__(self, status_code: int, detail: str, code: str | None = None) -> None:
        super().__init__(detail=detail, status_code=status_code)
        self.code = code or ("UNAUTHENTICATED" if status_code == 401 else "FORBIDDEN")

    @property
    def challenge(self) -> dict[str, str]:
        """The header a 401 carries: which credentials the server takes."""
        return {"WWW-Authenticate": 'Bearer realm="labelwise"'} if self.status_code == 401 else {}


def access_denied_handler(request: Request, exc: AccessDenied) -> Response:
    """REST (and any route without a door of its own): the usual error body."""
    return Response(error_body(exc.code, exc.detail), status_code=exc.status_code, headers=exc.challenge)


def domain_error_handler(request: Request, exc: LabelwiseError) -> Response:
    return Response(error_body(exc.code, exc.message, exc.details or None), status_code=exc.status)


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    code = {
        400: "INVALID",
        401: "UNAUTHENTICATED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        409: "CONFLICT",
        413: "TOO_LARGE",
        429: "RATE_LIMITED",
    }.get(exc.status_code, "HTTP_ERROR")
    extra = exc.extra if isinstance(exc.extra, dict) else ({"errors": exc.extra} if exc.extra else None)
    message = exc.detail
    if isinstance(exc.__cause__, SerializationException):  # the body did not decode at all
        message = f"the request body is not valid JSON: {message}"
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        message = f"{message}: {'; '.join(_describe(e) for e in exc.extra[:5])}"
    return Response(error_body(code, message, extra), status_code=exc.status_code, headers=exc.headers)


def _describe(error: object) -> str:
    """One validation error as a reader wants it: ``where name: what is wrong``."""
    if not isinstance(error, dict):
        return str(error)
    key, problem = error.get("key"), str(error.get("message", "invalid"))
    source = getattr(error.get("source"), "value", error.get("source"))  # a ParamType enum
    if source == "body" and key == "data" and problem == "'data'":
        return "a JSON request body is required"
    where = "request body" if key == "data" else f"{source} field '{key}'" if source else f"'{key}'"
    return f"{where}: {problem}"


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback, answer in the usual error shape without internals."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        error_body("INTERNAL", "an unexpected error occurred; it was logged"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


OUT_OF_RANGE = "a number in the request is out of range, or a value does not fit its field"


def out_of_range_handler(request: Request, exc: Exception) -> Response:
    """A number beyond the database's integers (an id of 2^70, an offset of 10^20) or a value the
    column cannot hold: SQLite raises OverflowError while binding, PostgreSQL a data error. Bad
    input, not a fault of the server; the statement never ran."""
    return Response(error_body("INVALID", OUT_OF_RANGE), status_code=400)


def is_bad_value(exc: DBAPIError) -> bool:
    """A value the database refused to take (asyncpg reports it as a generic DBAPI error whose
    cause is its DataError, e.g. 'value out of int32 range')."""
    if isinstance(exc, DataError):
        return True
    from asyncpg.exceptions import DataError as AsyncpgDataError

    cause = getattr(exc.orig, "__cause__", None)
    return isinstance(cause, AsyncpgDataError | OverflowError)


DATABASE_DOWN = "the database is unavailable; nothing was changed, try again"


def database_failure(exc: Exception) -> tuple[int, str]:
    """(status, code) of a database that refused or cannot be reached. A refused connection
    (PostgreSQL stopped) surfaces from asyncpg as a bare ``ConnectionError`` that SQLAlchemy
    does not wrap: it is the same outage, a 503, not a bug."""
    cause = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
    log.error("database unavailable or failing: %s", cause)
    unavailable = not isinstance(exc, DBAPIError) or (
        isinstance(exc, OperationalError) or exc.connection_invalidated
    )
    if unavailable:
        return 503, "DATABASE_UNAVAILABLE"
    return HTTP_500_INTERNAL_SERVER_ERROR, "DATABASE_ERROR"


def database_error_handler(request: Request, exc: Exception) -> Response:
    """The database went away or refused: say so plainly, without leaking SQL or URLs."""
    if isinstance(exc, DBAPIError) and is_bad_value(exc):
        return out_of_range_handler(request, exc)
    status, code = database_failure(exc)
    return Response(error_body(code, DATABASE_DOWN), status_code=status)


def too_deep_handler(request: Request, exc: RecursionError) -> Response:
    """A JSON body nested thousands deep: the decoder's recursion limit, bad input, not a bug."""
    return Response(error_body("INVALID", "the request body is nested too deeply"), status_code=400)


exception_handlers = {
    AccessDenied: access_denied_handler,
    LabelwiseError: domain_error_handler,
    HTTPException: http_error_handler,
    DBAPIError: database_error_handler,
    ConnectionError: database_error_handler,  # asyncpg's refused connect: see database_failure
    RecursionError: too_deep_handler,
    OverflowError: out_of_range_handler,
    Exception: unexpected_error_handler,
}
