"""Limits on what one GraphQL document may ask for: depth, aliases. Page sizes are checked per field.

The depth limit is Strawberry's ``QueryDepthLimiter`` rule with the maximum read per request from
``settings.graphql_max_depth`` (so an app built on other settings gets its own limit); the alias
limit is Strawberry's ``MaxAliasesLimiter`` rule, which stops one document from repeating an
expensive field hundreds of times under different names. Both refuse the whole document before
anything runs, with ``extensions.code`` QUERY_TOO_DEEP or TOO_MANY_ALIASES.

A document of several operations runs only with ``operationName`` (GraphQL's rule; Strawberry ran
the first one in silence): refused otherwise as GRAPHQL_VALIDATION_FAILED, before anything runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from backend.settings import Settings

MAX_ALIASES = 30
DEFAULT_MAX_DEPTH: int = Settings.model_fields["graphql_max_depth"].default


def _with_code(rule: type[ValidationRule], code: str, **details: Any) -> type[ValidationRule]:
    """The same rule, its errors marked with a machine-readable code."""

    class CodedRule(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            report: Callable[[GraphQLError], None] = context.report_error

            def report_with_code(error: GraphQLError) -> None:
                error.extensions = {**(error.extensions or {}), "code": code, **details}
                report(error)

            context.report_error = report_with_code  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                del context.report_error

    return CodedRule


@functools.cache
def depth_rule(max_depth: int) -> type[ValidationRule]:
    return _with_code(depth_validator(max_depth, None), "QUERY_TOO_DEEP", max_depth=max_depth)


@functools.cache
def alias_rule(max_aliases: int) -> type[ValidationRule]:
    return _with_code(alias_validator(max_aliases), "TOO_MANY_ALIASES", max_aliases=max_aliases)


class RequestLimits(SchemaExtension):
    """Adds the depth and alias rules to each operation's validation, sized by the app's settings."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        settings = getattr(context, "settings", None)
        max_depth = settings.graphql_max_depth if isinstance(settings, Settings) else DEFAULT_MAX_DEPTH
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules,
            depth_rule(max_depth),
            alias_rule(MAX_ALIASES),
        )
        yield

    def on_validate(self) -> Iterator[None]:
        # first of the extensions: a refusal here is left alone by the roles, the cost and the cache
        context = self.execution_context
        document = context.graphql_document
        # Strawberry's operation_name falls back to the first operation's: what the client sent
        # is kept apart ("" where a Strawberry without it is met: no refusal then)
        provided = getattr(context, "_provided_operation_name", "")
        if document is not None and context.pre_execution_errors is None and provided is None:
            count = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if count > 1:
                message = f"the document holds {count} operations: name the one to run in operationName"
                context.pre_execution_errors = [
                    GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
                ]
        yield
