"""A real Tiled server over a tree the tests write, from tests/helpers/tiled.py (shared with the
accounts tests)."""

from __future__ import annotations

from tests.helpers.tiled import (  # noqa: F401
    API_KEY,
    ITEM_COUNT,
    TiledServer,
    free_port,
    tiled_server,
    tiled_tree,
    write_tree,
)
