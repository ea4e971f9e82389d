"""REST controllers under /api/v1, described by OpenAPI.

To add endpoints, write a module that ends with ``route_handlers = [YourController, ...]`` (paths
start with ``backend.api.rest.common.API_PREFIX``) and add its dotted name to ``CONTROLLER_MODULES``.
Then run ``make openapi``: ``tests/api/test_openapi_in_sync.py`` fails until the document is redone.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from litestar import Controller
from litestar.handlers import HTTPRouteHandler

from backend.api.rest.documentation import document_handler

CONTROLLER_MODULES = [
    "backend.api.rest.datasets",
    "backend.api.rest.items",
    "backend.api.rest.classes",
    "backend.api.rest.events",
    "backend.api.rest.revoke",
    "backend.api.rest.rejections",
    "backend.api.rest.labels",
    "backend.api.rest.jobs",
    "backend.api.rest.fresh",
    "backend.api.rest.job_events",
    "backend.api.rest.guided",
    "backend.api.rest.next_actions",
    "backend.api.rest.stopping",
    "backend.api.rest.review",
    "backend.api.rest.explorer",
    "backend.api.rest.feature_report",
    "backend.api.rest.transfer",
    "backend.api.rest.accounts",
]


def rest_handlers() -> list[Any]:
    """Every REST controller, from each module's ``route_handlers`` list."""
    handlers: list[Any] = []
    for name in CONTROLLER_MODULES:
        handlers.extend(import_module(name).route_handlers)
    taken: set[str] = set()
    for entry in handlers:
        # A Controller's path is a class attribute that is also a slot: read here on the class.
        base = entry.path if isinstance(entry, type) and issubclass(entry, Controller) else ""  # type: ignore[misc]
        for handler in _route_handlers_of([entry]):
            document_handler(handler, taken, base)  # access answers, operation ids, binary bodies
    for handler in _route_handlers_of(handlers):
        _document_bad_request(handler)
    return handlers


def _route_handlers_of(entries: list[Any]) -> list[HTTPRouteHandler]:
    found: list[HTTPRouteHandler] = []
    for entry in entries:
        if isinstance(entry, HTTPRouteHandler):
            found.append(entry)
        elif isinstance(entry, type) and issubclass(entry, Controller):
            found.extend(v for v in vars(entry).values() if isinstance(v, HTTPRouteHandler))
    return found


def _document_bad_request(handler: HTTPRouteHandler) -> None:
    """Litestar documents a 400 with its own body (detail, status_code); ours is Problem, so every
    handler says so (schemathesis checks every answer against the document)."""
    from backend.api.rest.common import error_responses

    responses = dict(handler.responses or {})
    responses.setdefault(400, error_responses(400)[400])
    handler.responses = responses
