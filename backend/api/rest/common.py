"""Small pieces every REST controller shares: the path prefix, paging limits, time parameters, and
the one way a domain read model becomes a response struct."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar.openapi.datastructures import ResponseSpec

# Shared with GraphQL and the pages (backend/api/common.py, backend/api/dependencies.py).
from backend.api.common import API_PREFIX, as_utc, check_page
from backend.api.dependencies import AppSettings, Session, Thumbnails

__all__ = [
    "API_PREFIX",
    "AppSettings",
    "Session",
    "Thumbnails",
    "as_utc",
    "check_page",
    "error_responses",
    "from_view",
]

S = TypeVar("S", bound=msgspec.Struct)

_ERROR_MEANINGS = {
    400: "Invalid input (code INVALID)",
    403: "Outside the data roots (code FORBIDDEN)",
    404: "Unknown id (code NOT_FOUND)",
    409: "Conflicts with what is stored (code CONFLICT)",
    413: "Too large (code TOO_LARGE)",
    422: "The file cannot be decoded (code UNREADABLE)",
    502: "The source cannot be reached (code SOURCE_UNAVAILABLE)",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the error responses a handler can give, all with the one error body."""
    from backend.api.rest.schemas import Problem

    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description=_ERROR_MEANINGS[status],
            generate_examples=False,
        )
        for status in statuses
    }


def from_view(struct: type[S], view: Any, **given: Any) -> S:
    """The response struct of a domain read model (``backend/*/views.py``): every field of
    ``struct`` copied by name from ``view``, nested read models into the nested structs the field
    types name; ``given`` fills the fields the door adds itself. A field the view lacks and
    ``given`` does not fill takes its default, or fails here (a drift the tests would see)."""
    if not given:
        return msgspec.convert(view, struct, from_attributes=True)
    fields = {name: getattr(view, name) for name in struct.__struct_fields__ if hasattr(view, name)}
    return msgspec.convert({**fields, **given}, struct, from_attributes=True)
