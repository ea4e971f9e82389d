"""Small pieces every REST controller shares: the path prefix, paging limits, time parameters, and
the one way a domain read model becomes a response struct."""

from __future__ import annotations

import dataclasses
import functools
import operator
import sys
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import KwargDefinition, QueryParameter

# Shared with GraphQL and the pages (backend/api/common.py, backend/api/dependencies.py).
from backend.api.common import API_PREFIX, TIME_FORMS, as_utc, check_page, parse_time
from backend.api.dependencies import AppSettings, Session, Thumbnails

__all__ = [
    "API_PREFIX",
    "AppSettings",
    "Session",
    "Thumbnails",
    "as_utc",
    "body_time",
    "check_page",
    "error_responses",
    "from_view",
    "query_time",
    "rest_struct",
    "time_parameter",
]

T = TypeVar("T")

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


def time_parameter(what: str) -> KwargDefinition:
    """A time query parameter's OpenAPI entry. The parameter is a string read by ``query_time``:
    Litestar's own datetime parsing takes RFC 3339 alone, GraphQL's DateTime takes a date too."""
    return QueryParameter(description=f"{what} ({TIME_FORMS}; a date alone: its 00:00 UTC)")


def query_time(value: str | None, name: str) -> datetime | None:
    """A time query parameter read as GraphQL reads a DateTime (``backend.api.common.parse_time``);
    a bad one is refused as Litestar refuses any bad query parameter, by its name."""
    return _time(value, name, "query")


def body_time(value: str | None, name: str) -> datetime | None:
    """A time field of a JSON body (a string: msgspec's datetime takes RFC 3339 alone) read as
    ``query_time`` reads a query parameter; a bad one is refused by its field name."""
    return _time(value, name, "body")


def _time(value: str | None, name: str, source: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ValidationException(
            "Validation failed", extra=[{"message": str(exc), "key": name, "source": source}]
        ) from None


def from_view(struct: type[T], view: Any, **given: Any) -> T:
    """The response struct of a domain read model (``backend/*/views.py``): every field of
    ``struct`` copied by name from ``view``, nested read models into the nested structs the field
    types name; ``given`` fills the fields the door adds itself. A field the view lacks and
    ``given`` does not fill takes its default, or fails here (a drift the tests would see)."""
    if not given:
        return msgspec.convert(view, struct, from_attributes=True)
    names: tuple[str, ...] = getattr(struct, "__struct_fields__")  # noqa: B009 (struct: a msgspec type)
    fields = {name: getattr(view, name) for name in names if hasattr(view, name)}
    return msgspec.convert({**fields, **given}, struct, from_attributes=True)


# Each read model's REST struct, so that a read model nested in another becomes its struct there.
_STRUCTS: dict[type, type[msgspec.Struct]] = {}


def rest_struct(
    view: type,
    name: str,
    *,
    extra: tuple[tuple[str, Any], ...] = (),
    omit_defaults: bool = False,
    constructors: tuple[str, ...] = ("of",),
) -> Any:
    """The REST struct of a domain read model (a frozen dataclass): the same fields, types and
    defaults, named ``name`` for the OpenAPI document (clients generate their classes from these
    names); nested read models become the structs made for them before. ``extra``: fields the door
    adds, as ``(name, type)``. The view's ``constructors`` (class methods) are the struct's too:
    ``XOut.of(row)`` is ``from_view(XOut, XView.of(row))``. Typed ``Any``: modules say
    ``if TYPE_CHECKING: XOut = XView``, so that their handlers are checked against the view."""
    hints = typing.get_type_hints(view)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in dataclasses.fields(view):
        kind = _as_struct(hints[f.name])
        if f.default is not dataclasses.MISSING:
            fields.append((f.name, kind, f.default))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, kind))
    fields.extend(extra)
    namespace = {c: _constructor(getattr(view, c)) for c in constructors if hasattr(view, c)}
    struct = msgspec.defstruct(
        name, fields, kw_only=True, omit_defaults=omit_defaults, module=_caller_module(), namespace=namespace
    )
    struct.__doc__ = view.__doc__
    if not extra:  # a struct with fields of its own stands for no read model
        _STRUCTS[view] = struct
    return struct


def _constructor(make: Any) -> Any:
    def build(cls: type, *args: Any, **kwargs: Any) -> Any:
        return from_view(cls, make(*args, **kwargs))

    return classmethod(build)


def _as_struct(kind: Any) -> Any:
    """``kind`` with each read model in it replaced by its REST struct (in lists, unions)."""
    if isinstance(kind, type) and kind in _STRUCTS:
        return _STRUCTS[kind]
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind.__name__} has no REST struct yet: make it first (rest_struct)")
    args = typing.get_args(kind)
    if not args:
        return kind
    parts = tuple(_as_struct(a) for a in args)
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return functools.reduce(operator.or_, parts)
    origin = typing.get_origin(kind)
    return origin[parts] if origin is not None else kind


def _caller_module() -> str:
    """The module that called ``rest_struct``: the struct's home (its OpenAPI key starts there)."""
    return str(sys._getframe(2).f_globals.get("__name__", __name__))
