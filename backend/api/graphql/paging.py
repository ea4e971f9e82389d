"""Paging and time arguments as REST has them: the same checks, the same limits, the same errors.

A page larger than ``settings.max_page_size`` is refused (code INVALID, ``extensions.max_limit``
says the cap), never silently clamped: a script asking for 1000 rows and getting 500 would miss
the rest without knowing.
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from backend.api.common import as_utc, check_page
from backend.api.graphql.context import context_of

__all__ = ["as_utc", "checked_page"]


def checked_page(info: Info[Any, Any], offset: int, limit: int) -> tuple[int, int]:
    """``(offset, limit)`` after the server's page checks; raises ``Invalid`` otherwise."""
    check_page(offset, limit, context_of(info).settings)
    return offset, limit
