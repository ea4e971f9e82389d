"""The one place that maps domain errors to HTTP responses."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    ImproperlyConfiguredException,
    SerializationException,
    ValidationException,
)
from litestar.params import ParameterKwarg
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from backend.errors import LabelwiseError

log = logging.getLogger("labelwise.api")


PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:labelwise:error:"  # + the code: one problem type per code (RFC 9457 ``type``)

# Every code the REST door answers with, and its RFC 9457 ``title``: listed once, here (README's
# Scripting section and the OpenAPI ``Problem`` schema show this table).
ERROR_CODES: dict[str, tuple[int, str]] = {
    "INVALID": (400, "The request is invalid"),
    "UNAUTHENTICATED": (401, "No valid credentials"),
    "FORBIDDEN": (403, "Not allowed for this caller"),
    "NOT_FOUND": (404, "No such resource"),
    "METHOD_NOT_ALLOWED": (405, "Method not allowed"),
    "CONFLICT": (409, "Conflicts with what is stored"),
    "TOO_LARGE": (413, "Too large"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported media type"),
    "UNREADABLE": (422, "The file cannot be decoded"),
    "RATE_LIMITED": (429, "Too many attempts"),
    "INTERNAL": (500, "Unexpected server error"),
    "DATABASE_ERROR": (500, "The database refused the request"),
    "SOURCE_UNAVAILABLE": (502, "The data source cannot be reached"),
    "BROKER_UNAVAILABLE": (503, "The job queue is unavailable"),
    "DATABASE_UNAVAILABLE": (503, "The database is unavailable"),
}


def error_body(code: str, message: str, details: dict | None = None, status: int | None = None) -> dict:
    """An RFC 9457 problem: ``type``, ``title``, ``status``, ``detail``, plus our members ``code``
    (machine-readable), ``details`` (what the code needs: ``max_limit``, the rows refused...) and
    ``error`` (the same code, message and details in the body API v1 answered before problem+json;
    kept so existing scripts read on)."""
    known_status, title = ERROR_CODES.get(code, (status or 500, code.replace("_", " ").capitalize()))
    body: dict = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status or known_status,
        "detail": message,
        "code": code,
    }
    if details:
        body["details"] = details
    body["error"] = {"code": code, "message": message, **({"details": details} if details else {})}
    return body


def problem(
    code: str,
    message: str,
    status: int,
    details: dict | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error response of the JSON doors: ``application/problem+json``."""
    return Response(
        error_body(code, message, details, status),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


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
    """REST (and any route without a door of its own): a problem+json body."""
    return problem(exc.code, exc.detail, exc.status_code, headers=exc.challenge)


def domain_error_handler(request: Request, exc: LabelwiseError) -> Response:
    return problem(exc.code, exc.message, exc.status, exc.details or None)


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    code = {
        400: "INVALID",
        401: "UNAUTHENTICATED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        409: "CONFLICT",
        413: "TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        429: "RATE_LIMITED",
    }.get(exc.status_code, "HTTP_ERROR")
    extra = exc.extra if isinstance(exc.extra, dict) else ({"errors": exc.extra} if exc.extra else None)
    message = exc.detail
    if isinstance(exc.__cause__, SerializationException):  # the body did not decode at all
        message = f"the request body is not valid JSON: {message}"
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        errors = [_public_key(request, e) for e in exc.extra]
        extra = {"errors": errors}
        message = f"{message}: {'; '.join(_describe(e) for e in errors[:5])}"
    return problem(code, message, exc.status_code, extra, exc.headers)


def _public_key(request: Request, error: object) -> object:
    """A validation error keyed by the name the client sent (``format``), not by the handler's
    Python argument it is bound to (``fmt``): Litestar reports the latter."""
    if not isinstance(error, dict) or not isinstance(error.get("key"), str):
        return error
    try:
        fields = request.route_handler.signature_model._fields
    except (AttributeError, KeyError, ImproperlyConfiguredException):  # no handler matched
        return error
    definition = getattr(fields.get(error["key"]), "kwarg_definition", None)
    name = getattr(definition, "name", None) if isinstance(definition, ParameterKwarg) else None
    return {**error, "key": name} if isinstance(name, str) and name else error


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
    return problem("INTERNAL", "an unexpected error occurred; it was logged", HTTP_500_INTERNAL_SERVER_ERROR)


OUT_OF_RANGE = "a number in the request is out of range, or a value does not fit its field"


def out_of_range_handler(request: Request, exc: Exception) -> Response:
    """A number beyond the database's integers (an id of 2^70, an offset of 10^20) or a value the
    column cannot hold: SQLite raises OverflowError while binding, PostgreSQL a data error. Bad
    input, not a fault of the server; the statement never ran."""
    return problem("INVALID", OUT_OF_RANGE, 400)


def is_bad_value(exc: DBAPIError) -> bool:
    """A value the database refused to take (asyncpg reports it as a generic DBAPI error whose
    cause is its DataError, e.g. 'value out of int32 range')."""
    if isinstance(exc, DataError):
        return True
    from asyncpg.exceptions import DataError as AsyncpgDataError

    cause = getattr(exc.orig, "__cause__", None)
    return isinstance(cause, AsyncpgDataError | OverflowError)


DATABASE_DOWN = "the database is unavailable; nothing was changed, try again"
DATABASE_REFUSED = "the database refused the request (logged); nothing was changed"


def database_message(code: str) -> str:
    """What a person reads for ``database_failure``'s code: an outage to wait out (503), or a
    statement the database refused (500: a constraint, a bug), which trying again will not mend."""
    return DATABASE_DOWN if code == "DATABASE_UNAVAILABLE" else DATABASE_REFUSED


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
    return problem(code, database_message(code), status)


def too_deep_handler(request: Request, exc: RecursionError) -> Response:
    """A JSON body nested thousands deep: the decoder's recursion limit, bad input, not a bug."""
    return problem("INVALID", "the request body is nested too deeply", 400)


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
