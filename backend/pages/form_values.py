"""Values of a page's query string or form, read with the error a person can act on: pages take
raw strings (an empty field is "not given"), and a bad one is a 400 that names the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from backend.api.common import parse_time
from backend.errors import Invalid


@overload
def whole_number(raw: Any, name: str, default: int) -> int: ...
@overload
def whole_number(raw: Any, name: str, default: None = None) -> int | None: ...
def whole_number(raw: Any, name: str, default: int | None = None) -> int | None:
    """``raw`` as an int; ``default`` where the field is absent or empty."""
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a whole number, got '{raw}'") from None


@overload
def number(raw: Any, name: str, default: float) -> float: ...
@overload
def number(raw: Any, name: str, default: None = None) -> float | None: ...
def number(raw: Any, name: str, default: float | None = None) -> float | None:
    """``raw`` as a float; ``default`` where the field is absent or empty."""
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number, got '{raw}'") from None


def flag(raw: Any) -> bool:
    """A checkbox or query flag: on for 1, true, on, yes (any case)."""
    return str(raw).lower() in ("1", "true", "on", "yes")


def moment(raw: Any, name: str) -> datetime | None:
    """A time field, read as REST reads times in a body (``parse_time``); empty: no time."""
    if raw in (None, ""):
        return None
    try:
        return parse_time(str(raw))
    except ValueError as exc:
        raise Invalid(f"'{name}': {exc}", field=name) from None
