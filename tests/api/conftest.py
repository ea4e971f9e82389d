"""The REST tests' fixtures and helpers, from tests/helpers/rest.py (where other packages import them)."""

from __future__ import annotations

from tests.helpers.rest import (  # noqa: F401
    API,
    ClientFactory,
    add_class,
    assert_error,
    client_with,
    create_dataset,
    item_ids,
    snapshot,
    tag,
)
