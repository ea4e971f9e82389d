"""The page tests' helpers (the CSRF token pages use, datasets made through the page), from
tests/helpers/pages.py."""

from __future__ import annotations

from tests.helpers.pages import csrf_headers, make_dataset  # noqa: F401
