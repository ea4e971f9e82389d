"""Roles for GraphQL: the HTTP guard lets viewers in; each mutation field then needs its own role.

The check runs after parsing and before validation, so a caller without the role learns nothing
about the mutation's arguments; the roles come from ``backend.accounts.roles.mutation_role``
(``MUTATION_ROLES``, else labeler), so a new mutation is closed to viewers without any edit here.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from backend.accounts.roles import allows, mutation_role


def _top_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _top_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            fragment = fragments.pop(selection.name.value)  # popped: a cycle cannot loop forever
            yield from _top_fields(fragment.selection_set, fragments)


def mutation_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """The mutation fields the document's chosen operation would run (all of them when ambiguous)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    fields: list[str] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation != OperationType.MUTATION:
            continue
        if operation_name and definition.name and definition.name.value != operation_name:
            continue
        fields.extend(_top_fields(definition.selection_set, dict(fragments)))
    return fields


class MutationRoles(SchemaExtension):
    """Refuses a mutation whose caller's role is below any of its fields' roles (code FORBIDDEN)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            fields = mutation_fields(document, context.operation_name)
            if fields:
                refusal = self._refusal(fields)
                if refusal:
                    context.pre_execution_errors = [GraphQLError(refusal, extensions={"code": "FORBIDDEN"})]
        yield

    def _refusal(self, fields: list[str]) -> str | None:
        from backend.api.access import caller_of

        connection = getattr(self.execution_context.context, "connection", None)  # request or websocket
        caller = caller_of(connection) if connection is not None else None
        if caller is None:
            return "sign in first, or send an API token (Authorization: Bearer ...)"
        for field in fields:
            needed = mutation_role(field)
            if not allows(caller.role, needed):
                return f"{field} needs the {needed} role; '{caller.name}' is a {caller.role}"
        return None
