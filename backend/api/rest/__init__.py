"""REST controllers under /api/v1, described by OpenAPI.

To add endpoints, write a module that ends with ``route_handlers = [YourController, ...]`` (paths
start with ``backend.api.rest.common.API_PREFIX``) and add its dotted name to ``CONTROLLER_MODULES``.
Then run ``make openapi``: ``tests/api/test_openapi_in_sync.py`` fails until the document is redone.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

CONTROLLER_MODULES = [
    "backend.api.rest.datasets",
    "backend.api.rest.items",
    "backend.api.rest.classes",
    "backend.api.rest.events",
    "backend.api.rest.labels",
    "backend.api.rest.jobs",
    "backend.api.rest.guided",
    "backend.api.rest.explorer",
    "backend.api.rest.transfer",
    "backend.api.rest.accounts",
]


def rest_handlers() -> list[Any]:
    """Every REST controller, from each module's ``route_handlers`` list."""
    handlers: list[Any] = []
    for name in CONTROLLER_MODULES:
        handlers.extend(import_module(name).route_handlers)
    return handlers
