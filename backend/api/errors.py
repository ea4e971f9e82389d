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


def out_of_range_handler(request: Request, exc: Exception) -> Response:
    """A number beyond the database's integers (an id of 2^70, an offset of 10^20) or a value the
    column cannot hold: SQLite raises OverflowError while binding, PostgreSQL a data error. Bad
    input, not a fault of the server; the statement never ran."""
    return Response(
        error_body("INVALID", "a number in the request is out of range, or a value does not fit its field"),
        status_code=400,
    )


def _is_bad_value(exc: DBAPIError) -> bool:
    """A value the database refused to take (asyncpg reports it as a generic DBAPI error whose
    cause is its DataError, e.g. 'value out of int32 range')."""
    if isinstance(exc, DataError):
        return True
    from asyncpg.exceptions import DataError as AsyncpgDataError

    cause = getattr(exc.orig, "__cause__", None)
    return isinstance(cause, AsyncpgDataError | OverflowError)


def database_error_handler(request: Request, exc: DBAPIError) -> Response:
    """The database went away or refused: say so plainly, without leaking SQL or URLs."""
    if _is_bad_value(exc):
        return out_of_range_handler(request, exc)
    log.error("database error on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
    status = (
        503
        if isinstance(exc, OperationalError) or exc.connection_invalidated
        else HTTP_500_INTERNAL_SERVER_ERROR
    )
    return Response(
        error_body(
            "DATABASE_UNAVAILABLE" if status == 503 else "DATABASE_ERROR",
            "the database is unavailable; nothing was changed, try again",
        ),
        status_code=status,
    )


exception_handlers = {
    LabelwiseError: domain_error_handler,
    HTTPException: http_error_handler,
    DBAPIError: database_error_handler,
    OverflowError: out_of_range_handler,
    Exception: unexpected_error_handler,
}
