"""GraphQL types from domain read models (``backend/*/views.py``), by field name.

A type declares what GraphQL shows (names, descriptions, scalars); ``from_view`` fills it from the
one read model REST renders too, so the doors show the same values without mapping each field.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition

T = TypeVar("T")


def from_view(cls: type[T], view: Any, **given: Any) -> T:
    """An instance of the strawberry type ``cls``: each field it takes at construction copied by
    name from ``view`` (nested read models into the nested types the fields name; resolver fields
    compute their own); ``given`` fills the rest (private fields, values the door adds). A field
    neither has fails here, so a drift shows at once."""
    definition = get_object_definition(cls, strict=True)
    values = {
        field.python_name: _convert(getattr(view, field.python_name), field.type)
        for field in definition.fields
        if field.init and field.python_name not in given and hasattr(view, field.python_name)
    }
    return cls(**values, **given)


def _convert(value: Any, target: Any) -> Any:
    if value is None:
        return None
    if isinstance(target, StrawberryOptional):
        return _convert(value, target.of_type)
    if isinstance(target, StrawberryList):
        if target.of_type in (int, float, str, bool):  # scalars (a projection's 100,000): as they are
            return list(value)
        return [_convert(v, target.of_type) for v in value]
    if (
        dataclasses.is_dataclass(value)
        and isinstance(target, type)
        and not isinstance(value, target)
        and get_object_definition(target) is not None
    ):
        return from_view(target, value)
    return value
