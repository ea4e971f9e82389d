"""The GraphQL tests' helpers, from tests/helpers/graphql.py (where other packages import them)."""

from __future__ import annotations

from tests.helpers.graphql import (  # noqa: F401
    CREATE_DATASET,
    GRAPHQL,
    SNAPSHOT,
    TAG,
    add_class,
    create_dataset,
    gql,
    gql_error,
    gql_response,
    item_ids,
    snapshot,
    tag,
)
