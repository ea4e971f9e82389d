"""Limits on what one GraphQL document may cost: its size, its selections, its list entries.

Three checks, each before the expensive step it protects, each refusing the whole document with
its own ``extensions.code`` and figures:

1. Size (DOCUMENT_TOO_LARGE): a document over ``settings.graphql_max_document_bytes`` is refused
   before it is parsed (parsing 1 MB took 3 s, validating its spreads 20 s).
2. Selections (QUERY_TOO_COMPLEX, FRAGMENT_CYCLE): fields and fragment spreads are counted with
   every spread expanded, each fragment counted once (memoised) so ``A1 { ...A0 ...A0 }`` chains
   cost their count, not their expansion time; above ``settings.graphql_max_selections`` the
   document is refused before validation (whose overlap check is quadratic in repeated fields).
   A fragment that spreads itself, directly or not, is refused as soon as it is met.
3. Cost (QUERY_TOO_COSTLY), below.

A cost limit: how many list entries one GraphQL document may ask for, nested pages multiplied.

Page sizes are capped per field and depth and aliases per document (``limits.py``); but pages
nest (events of 500, each with 500 tags) and aliases repeat them, so the product is what a server
has to produce. The cost of a document is the sum, over every field that takes a ``limit``, of
that limit times the limits of the paged fields around it, each limit counted at most at the page
size cap (a single limit over its cap is the field's own error, with its own message). Unpaged
fields that return one entry per item (``SIZED_FIELDS``: ``labels``) count the dataset's item
count, read from the database before validation, unless given a ``limit``; every alias counts
again. Above ``MAX_COST`` the document is refused before anything runs, with ``extensions.code``
QUERY_TOO_COSTLY and the figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
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

from backend.datasets.items import item_counts
from backend.settings import Settings

MAX_COST = 200_000
DEFAULT_PAGE_CAP: int = Settings.model_fields["max_page_size"].default
DEFAULT_MAX_BYTES: int = Settings.model_fields["graphql_max_document_bytes"].default
DEFAULT_MAX_SELECTIONS: int = Settings.model_fields["graphql_max_selections"].default
PAGE_ARGUMENTS = ("limit", "first")
# (type, field) -> the argument naming the dataset whose items the field lists, one entry each.
SIZED_FIELDS: dict[tuple[str, str], str] = {("Query", "labels"): "datasetId"}


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
        item_counts: dict[int, int] | None = None,
    ) -> None:
        self.page_cap = page_cap
        self.item_counts = item_counts or {}
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
            sized = SIZED_FIELDS.get((owner.name, field.name.value))
            if sized is not None and limit is None:
                dataset_id = _int_argument(field, sized, self.variables)
                # Unknown dataset: NOT_FOUND later; an unreadable id: counted at the page cap.
                limit = self.item_counts.get(dataset_id, 0) if dataset_id is not None else self.page_cap
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
    schema: GraphQLSchema,
    document: Any,
    variables: dict[str, Any] | None,
    page_cap: int = DEFAULT_PAGE_CAP,
    item_counts: dict[int, int] | None = None,
) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments, variables or {}, page_cap, item_counts)
    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            total += walk.cost(definition.selection_set, root, 1)
    return total


def _int_argument(field: FieldNode, name: str, variables: dict[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else None
    return None


class FragmentCycle(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expanded_selections(document: Any, stop_above: int) -> int:
    """Fields and spreads of the operations, fragments expanded; counting stops above ``stop_above``.

    Each fragment's size is computed once, so the time is linear in the document's length however
    often fragments spread each other. Raises ``FragmentCycle`` on a fragment that spreads itself.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}
    open_fragments: set[str] = set()

    def fragment_size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        if name in open_fragments:
            raise FragmentCycle(name)
        fragment = fragments.get(name)
        if fragment is None:
            return 0  # validation names the unknown fragment
        open_fragments.add(name)
        sizes[name] = size(fragment.selection_set)
        open_fragments.discard(name)
        return sizes[name]

    def size(selections: SelectionSetNode | None) -> int:
        total = 0
        for selection in selections.selections if selections is not None else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += 1 + fragment_size(selection.name.value)
            if total > stop_above:
                break  # already too many: the exact figure does not matter
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += size(definition.selection_set)
            if total > stop_above:
                break
    return total


def _sized_dataset_ids(document: Any, variables: dict[str, Any]) -> set[int]:
    """The datasets named by the document's ``SIZED_FIELDS`` (any alias, any fragment)."""
    names = {field: argument for (_, field), argument in SIZED_FIELDS.items()}
    found: set[int] = set()
    pending = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while pending:
        selections = pending.pop()
        for selection in selections.selections if selections is not None else ():
            if isinstance(selection, FieldNode) and selection.name.value in names:
                dataset_id = _int_argument(selection, names[selection.name.value], variables)
                if dataset_id is not None:
                    found.add(dataset_id)
            if getattr(selection, "selection_set", None) is not None:
                pending.append(selection.selection_set)
    return found


async def _item_counts(context: Any, dataset_ids: set[int]) -> dict[int, int]:
    session = getattr(context, "session", None)
    lock = getattr(context, "lock", None)
    if not dataset_ids or session is None or lock is None:
        return {}
    async with lock:
        return await item_counts(session, sorted(dataset_ids)[:100])


def _refusal(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions=extensions)


class QueryCost(SchemaExtension):
    """Refuses documents too large to parse, too complex to validate, or asking for more than
    ``MAX_COST`` entries in all."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        settings = getattr(context.context, "settings", None)
        limit = settings.graphql_max_document_bytes if isinstance(settings, Settings) else DEFAULT_MAX_BYTES
        size = len((context.query or "").encode("utf-8", "replace"))
        if context.graphql_document is None and size > limit:
            raise _refusal(
                f"this GraphQL document is {size} bytes; at most {limit}: pass long lists as variables",
                code="DOCUMENT_TOO_LARGE",
                size=size,
                max_size=limit,
            )
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = await self._refusals(context) or None
        yield

    async def _refusals(self, context: Any) -> list[GraphQLError]:
        settings = getattr(context.context, "settings", None)
        cap = settings.max_page_size if isinstance(settings, Settings) else DEFAULT_PAGE_CAP
        most = settings.graphql_max_selections if isinstance(settings, Settings) else DEFAULT_MAX_SELECTIONS
        document = context.graphql_document
        try:
            selections = expanded_selections(document, most)
        except FragmentCycle as cycle:
            message = f"fragment '{cycle.name}' spreads itself (directly or through others): not allowed"
            return [_refusal(message, code="FRAGMENT_CYCLE", fragment=cycle.name)]
        except RecursionError:
            selections = most + 1
        if selections > most:
            message = (
                f"this query has more than {most} fields and fragment spreads once fragments are "
                "expanded: ask for less in one document"
            )
            return [_refusal(message, code="QUERY_TOO_COMPLEX", max_selections=most)]
        variables = context.variables or {}
        counts = await _item_counts(context.context, _sized_dataset_ids(document, variables))
        cost = document_cost(context.schema._schema, document, variables, cap, counts)
        if cost > MAX_COST:
            message = (
                f"this query asks for about {cost} list entries (nested pages multiply, aliases add "
                f"up, an unpaged 'labels' counts every item of its dataset); at most {MAX_COST}: ask "
                "for smaller pages"
            )
            return [_refusal(message, code="QUERY_TOO_COSTLY", cost=cost, max_cost=MAX_COST)]
        return []
