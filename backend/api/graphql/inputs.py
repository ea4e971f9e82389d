"""Checks on GraphQL input that its types cannot say."""

from __future__ import annotations

from typing import Any

from backend.errors import Invalid


def json_object(value: Any, name: str) -> dict[str, Any]:
    """A JSON argument that must be an object (``null`` is an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"'{name}' must be a JSON object, got {type(value).__name__}")
    return dict(value)
