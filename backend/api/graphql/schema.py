"""The GraphQL schema: the ``Query`` and ``Mutation`` types of each module in ``GRAPHQL_MODULES``, merged.

One module per concept, each thin over the same domain functions REST calls. To add one, write
``backend/api/graphql/<concept>.py`` with ``@strawberry.type class Query`` and/or ``class Mutation``
and add its dotted name to ``GRAPHQL_MODULES`` (one line; e.g. ``"backend.api.graphql.guided"`` for
similarity search and probability labeling). Field names must not clash across modules: building
the schema fails and names the clash. Then run ``make openapi`` (``labelwise openapi --write``):
``tests/graphql/test_sdl_in_sync.py`` fails until ``openapi/schema.graphql`` is written again.

Errors: every error has ``extensions.code`` (see ``errors.py``); limits: ``limits.py``.
Speed (issue 21): plain attribute fields are completed without per-field machinery
(``executor.py``), and a document text is parsed and validated once (``documents.py``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from datetime import datetime
from importlib import import_module
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from backend.api.common import parse_time
from backend.api.graphql.cost import QueryCost
from backend.api.graphql.documents import DocumentCache
from backend.api.graphql.errors import classify
from backend.api.graphql.executor import FastExecutor
from backend.api.graphql.limits import RequestLimits
from backend.api.graphql.permissions import MutationRoles

GRAPHQL_MODULES = [
    "backend.api.graphql.datasets",
    "backend.api.graphql.items",
    "backend.api.graphql.classes",
    "backend.api.graphql.labels",
    "backend.api.graphql.history",
    "backend.api.graphql.revoke",
    "backend.api.graphql.rejections",
    "backend.api.graphql.jobs",
    "backend.api.graphql.guided",
    "backend.api.graphql.next_actions",
    "backend.api.graphql.fresh",
    "backend.api.graphql.explorer",
    "backend.api.graphql.review",
    "backend.api.graphql.accounts",
    "backend.api.graphql.feature_report",
]


class LabelwiseSchema(strawberry.Schema):
    """A Strawberry schema whose errors all carry a machine-readable code."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            classify(error)


# DateTime arguments read as REST reads its time query parameters: one parser for both doors.
DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=wrap_parser(parse_time, "DateTime"))


def _merged(name: str, parts: list[type]) -> type:
    fields = Counter(f.name for part in parts for f in part.__strawberry_definition__.fields)  # type: ignore[attr-defined]
    clashes = sorted(field for field, count in fields.items() if count > 1)
    if clashes:
        raise RuntimeError(f"GraphQL {name} fields defined by more than one module: {', '.join(clashes)}")
    return merge_types(name, tuple(parts))


def build_schema(modules: list[str] | None = None) -> LabelwiseSchema:
    loaded = [import_module(name) for name in (modules or GRAPHQL_MODULES)]
    queries = [m.Query for m in loaded if hasattr(m, "Query")]
    mutations = [m.Mutation for m in loaded if hasattr(m, "Mutation")]
    subscriptions = [m.Subscription for m in loaded if hasattr(m, "Subscription")]
    # DocumentCache last: the limits and roles run before it on every request (documents.py).
    extensions: list[type[SchemaExtension]] = [RequestLimits, MutationRoles, QueryCost, DocumentCache]
    return LabelwiseSchema(
        query=_merged("Query", queries),
        mutation=_merged("Mutation", mutations) if mutations else None,
        subscription=_merged("Subscription", subscriptions) if subscriptions else None,
        extensions=extensions,
        execution_context_class=FastExecutor,
        scalar_overrides={datetime: DATETIME},
    )


@functools.cache
def get_schema() -> LabelwiseSchema:
    """The schema, built once per process."""
    return build_schema()


def sdl() -> str:
    """The schema in SDL: stable text ending in one newline (written to ``openapi/schema.graphql``)."""
    return get_schema().as_str().rstrip("\n") + "\n"


def __getattr__(name: str) -> Any:
    if name == "schema":
        return get_schema()
    raise AttributeError(name)
