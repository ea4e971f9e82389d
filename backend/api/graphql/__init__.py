"""GraphQL (Strawberry) at /graphql: datasets, items, classes, labeling, history, jobs and models.

POST (or GET, for queries) ``/graphql`` with ``{"query": ..., "variables": ...}``; the tagger is
the ``X-Labelwise-Tagger`` header as for REST. Every error carries ``extensions.code``. No
in-browser IDE is served (they load scripts from a CDN); ``openapi/schema.graphql`` holds the SDL.
The schema is assembled in ``schema.py`` from the modules listed in ``GRAPHQL_MODULES``.
"""

from __future__ import annotations

from typing import Any


def graphql_handlers() -> list[Any]:
    """The GraphQL controller, its context built from the app's session and settings."""
    from backend.api.graphql.controller import graphql_controller

    return [graphql_controller()]
