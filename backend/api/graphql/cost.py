"""A cost limit: how many list entries one GraphQL document may ask for, nested pages multiplied.

Page sizes are capped per field and depth and aliases per document (``limits.py``); but pages
nest (events of 500, each with 500 tags) and aliases repeat them, so the product is what a server
has to produce. The cost of a document is the sum, over every field that takes a ``limit``, of
that limit times the limits of the paged fields around it, each limit counted at most at the page
size cap (a single limit over its cap is the field's own error, with its own message). Above
``MAX_COST`` the document is refused before anything runs, with ``extensions.code``
QUERY_TOO_COSTLY and the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.pyutils import Undefined
from strawberry.extensions import SchemaExtension

from backend.settings import Settings

MAX_COST = 200_000
DEFAULT_PAGE_CAP: int = Settings.model_fields["max_page_size"].default
PAGE_ARGUMENTS = ("limit", "first")


def _limit(field: FieldNode, definition: Any, variables: dict[str, Any]) -> int | None:
    """The page size this field will be asked for (its argument, a variable, or the default)."""
    for name in PAGE_ARGUMENTS:
        if name not in definition.args:
            continue
        for argument in field.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = variables.get(value.name.value)
                return given if isinstance(given, int) else None
            return None
        default = definition.args[name].default_value
        return default if isinstance(default, int) and default is not Undefined else None
    return None


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict,
        page_cap: int,
    ) -> None:
        self.page_cap = page_cap
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.seen: set[str] = set()

    def cost(self, selections: SelectionSetNode | None, parent: Any, factor: int) -> int:
        if selections is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for selection in self._fields(selections, parent):
            field, owner = selection
            definition = owner.fields.get(field.name.value)
            if definition is None:
                continue  # validation will say so
            limit = _limit(field, definition, self.variables)
            if limit is not None:
                limit = min(max(limit, 1), self.page_cap)
            inner = factor * (limit or 1)
            if limit is not None:
                total += inner
            total += self.cost(field.selection_set, get_named_type(definition.type), inner)
        return total

    def _fields(
        self, selections: SelectionSetNode, parent: GraphQLObjectType
    ) -> Iterator[tuple[FieldNode, Any]]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                owner = self._type(selection.type_condition, parent)
                yield from self._fields(selection.selection_set, owner)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self.seen:  # unknown or cyclic: validation refuses it
                    continue
                self.seen.add(name)
                yield from self._fields(fragment.selection_set, self._type(fragment.type_condition, parent))
                self.seen.discard(name)

    def _type(self, condition: Any, parent: GraphQLObjectType) -> Any:
        if condition is None:
            return parent
        found = self.schema.get_type(condition.name.value)
        return found if isinstance(found, GraphQLObjectType) else parent


def document_cost(
    schema: GraphQLSchema, document: Any, variables: dict[str, Any] | None, page_cap: int = DEFAULT_PAGE_CAP
) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments, variables or {}, page_cap)
    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            total += walk.cost(definition.selection_set, root, 1)
    return total


class QueryCost(SchemaExtension):
    """Refuses documents whose nested pages ask for more than ``MAX_COST`` entries in all."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            settings = getattr(context.context, "settings", None)
            cap = settings.max_page_size if isinstance(settings, Settings) else DEFAULT_PAGE_CAP
            cost = document_cost(context.schema._schema, context.graphql_document, context.variables, cap)
            if cost > MAX_COST:
                message = (
                    f"this query asks for about {cost} list entries (nested pages multiply); "
                    f"at most {MAX_COST}: ask for smaller pages"
                )
                extensions = {"code": "QUERY_TOO_COSTLY", "cost": cost, "max_cost": MAX_COST}
                context.pre_execution_errors = [GraphQLError(message, extensions=extensions)]
        yield
