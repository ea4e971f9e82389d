"""The one page-size rule every listing shares (REST, GraphQL, pages and the domain alike).

A page larger than the cap (``settings.max_page_size`` unless a listing says otherwise) is refused
with ``Invalid`` naming the cap (``max_limit``), never silently clamped: a script asking for 1000
rows and getting 500 would miss the rest without knowing.
"""

from __future__ import annotations

from backend.errors import Invalid

# A batch action (review many items at once) may name this many page sizes of items.
BATCH_PAGES = 20


def check_page(offset: int, limit: int, max_limit: int) -> None:
    """Refuse pages the server will not serve in one response, saying what is allowed."""
    if offset < 0:
        raise Invalid(f"offset must be >= 0, got {offset}")
    if limit < 1:
        raise Invalid(f"limit must be >= 1, got {limit}")
    if limit > max_limit:
        raise Invalid(
            f"limit {limit} is over the page size cap: at most {max_limit} per page", max_limit=max_limit
        )


def check_batch(count: int, max_page_size: int) -> None:
    """Refuse a batch of more than ``BATCH_PAGES`` page sizes of items."""
    cap = max_page_size * BATCH_PAGES
    if count > cap:
        raise Invalid(f"at most {cap} items per batch")
