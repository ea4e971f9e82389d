"""The one place that gives every GraphQL error a machine-readable ``extensions.code``.

Domain errors (``LabelwiseError``) carry their own code through ``exc.extensions`` (graphql-core
copies it). Everything else is classified here, in place, before the response is written:
parse and validation errors, database outages (without SQL or URLs), and bugs (logged with
their traceback, answered without internals).
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from litestar import Request, Response
from sqlalchemy.exc import DBAPIError, OperationalError

from backend.api.errors import AccessDenied, database_message
from backend.errors import LabelwiseError

log = logging.getLogger("labelwise.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL"


def classify(error: GraphQLError) -> None:
    """Set ``error.extensions["code"]`` (and hide internals) according to what went wrong."""
    original = error.original_error
    extensions = error.extensions if error.extensions is not None else {}
    error.extensions = extensions
    if isinstance(original, LabelwiseError):
        extensions.setdefault("code", original.code)
    elif isinstance(original, DBAPIError):
        unavailable = isinstance(original, OperationalError) or original.connection_invalidated
        log.error("database error in GraphQL %s: %s", error.path, type(original.orig).__name__)
        extensions.clear()
        extensions["code"] = "DATABASE_UNAVAILABLE" if unavailable else "DATABASE_ERROR"
        error.message = database_message(extensions["code"])
    elif isinstance(original, ConnectionError):
        # asyncpg's refused connection (PostgreSQL stopped) is not wrapped by SQLAlchemy: the same
        # outage, as REST maps it (``database_failure``). In a subscription's stream it has no
        # path: it was classified a validation failure, with the server's address in its message.
        where = error.path or "a subscription's stream"
        log.error("database unavailable in GraphQL %s: %s", where, type(original).__name__)
        extensions.clear()
        extensions["code"] = "DATABASE_UNAVAILABLE"
        error.message = database_message(extensions["code"])
    elif original is not None and not isinstance(original, GraphQLError) and error.path is not None:
        # Raised inside a resolver without meaning to: a bug.
        log.error("unexpected error in GraphQL field %s", error.path, exc_info=original)
        extensions.clear()
        extensions["code"] = INTERNAL
        error.message = "an unexpected error occurred; it was logged"
    elif "code" not in extensions:
        # No resolver ran: the document or its variables were refused before execution.
        extensions["code"] = PARSE_FAILED if error.message.startswith("Syntax Error") else VALIDATION_FAILED


def transport_error_code(status: int) -> str:
    """The code of a request refused before GraphQL could read it (not JSON, no query, ...)."""
    return {400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}.get(
        status, "HTTP_ERROR"
    )


def access_denied_handler(request: Request, exc: AccessDenied) -> Response:
    """The guard's refusal (401, 403, 503) in the GraphQL error shape, with its code."""
    body = {"errors": [{"message": exc.detail, "extensions": {"code": exc.code}}]}
    return Response(body, status_code=exc.status_code, headers=exc.challenge)
