"""Plain attribute fields completed in one step: lists of objects cost what REST costs.

graphql-core resolves every field of every object on its own: a ``Path``, a resolve info, the
resolver, then completion through the non-null, list and leaf cases. A 500-item page asks for about
7,000 such fields, nearly all of them plain attributes (``id``, ``uri``, ``labelIds``...) read by
Strawberry's default resolver and coerced by their scalar; that machinery made a GraphQL page 3x
the REST one (issue 21).

``FastExecutor`` keeps the executor and short-cuts only fields where nothing can differ: a
Strawberry field without resolver, extensions or permission classes (``is_basic_field``), without
arguments or directives, whose type is a scalar or enum or a list of them, or a nullable object
whose value is null. Their value is the
attribute, coerced by the same ``coerce_output_value`` graphql-core calls. Anything unusual (a
null in a non-null field, an exception, a value the scalar refuses, a non-list value, a schema
with field middleware) goes through graphql-core's own ``execute_field``, which raises or reports
what it always did: errors, paths and ``null`` propagation stay graphql-core's.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    is_leaf_type,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (resolve attribute, python name, leaf coercion (None: a nullable object), non-null, list, items non-null),
# or None: the slow way.
Plan = tuple[Any, str, Any, bool, bool, bool] | None
_PLANS: dict[int, tuple[GraphQLField, Plan]] = {}  # by id(field); the field is kept alive with it


def _plan(field: GraphQLField) -> Plan:
    found = _PLANS.get(id(field))
    if found is not None and found[0] is field:
        return found[1]
    plan = _make_plan(field)
    _PLANS[id(field)] = (field, plan)
    return plan


def _make_plan(field: GraphQLField) -> Plan:
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    if not definition.is_basic_field:  # a resolver, field extensions or permission classes
        return None
    kind: Any = field.type  # graphql-core's wrapped type, unwrapped step by step below
    non_null = isinstance(kind, GraphQLNonNull)
    kind = kind.of_type if non_null else kind
    is_list = isinstance(kind, GraphQLList)
    items_non_null = False
    if is_list:
        kind = kind.of_type
        items_non_null = isinstance(kind, GraphQLNonNull)
        kind = kind.of_type if items_non_null else kind
    if not is_leaf_type(kind):
        if is_list or non_null:
            return None
        kind = None  # a nullable object: only its null is completed here
    coerce = _coercer(kind) if kind is not None else None
    return (definition.default_resolver, definition.python_name, coerce, non_null, is_list, items_non_null)


_SLOW = object()
MIN_INT, MAX_INT = -(2**31), 2**31 - 1


def _coercer(leaf: Any) -> Any:
    """The leaf's ``coerce_output_value``, skipped for values it returns unchanged (an ``int`` in
    32 bits for Int, a ``str`` for String and ID, a ``bool`` for Boolean)."""
    coerce = leaf.coerce_output_value
    if leaf is GraphQLInt:
        return lambda value: value if type(value) is int and MIN_INT <= value <= MAX_INT else coerce(value)
    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda value: value if type(value) is str else coerce(value)
    if leaf is GraphQLBoolean:
        return lambda value: value if type(value) is bool else coerce(value)
    return coerce


def _complete(plan: Plan, source: Any) -> Any:
    """The field's completed value, or ``_SLOW`` when graphql-core must decide (errors included)."""
    assert plan is not None
    resolve, name, coerce, non_null, is_list, items_non_null = plan
    try:
        value = resolve(source, name)
        if value is None:
            return _SLOW if non_null else None
        if coerce is None or isinstance(value, Exception):
            return _SLOW
        if not is_list:
            coerced = coerce(value)
            return _SLOW if coerced is None or coerced is Undefined else coerced
        if not isinstance(value, list | tuple):
            return _SLOW
        completed: list[Any] = []
        for entry in value:
            if entry is None:
                if items_non_null:
                    return _SLOW
                completed.append(None)
                continue
            coerced = coerce(entry)
            if coerced is None or coerced is Undefined:
                return _SLOW
            completed.append(coerced)
        return completed
    except Exception:  # graphql-core's own path reports it, located
        return _SLOW


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with plain attribute fields completed without per-field machinery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per selection set (graphql-core memoises them: one object for every item of a list), its
        # fields with their plans; the set itself is kept so that its id stays its own.
        self._compiled: dict[int, tuple[Any, list[tuple[str, Any, Plan]]]] = {}

    def _compile(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[tuple[str, Any, Plan]]:
        found = self._compiled.get(id(grouped_field_set))
        if found is not None and found[0] is grouped_field_set:
            return found[1]
        fields = parent_type.fields
        compiled = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            field = fields.get(node.name.value)
            simple = field is not None and not node.arguments and not node.directives
            compiled.append((response_name, field_details_list, _plan(field) if simple else None))
        self._compiled[id(grouped_field_set)] = (grouped_field_set, compiled)
        return compiled

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        middleware = self.middleware_manager
        if (middleware is not None and middleware.middlewares) or source_value is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list, plan in self._compile(parent_type, grouped_field_set):
                if plan is not None:
                    value = _complete(plan, source_value)
                    if value is not _SLOW:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """The results with their awaitables awaited, as graphql-core's ``execute_fields`` does."""
    if len(awaitable_fields) == 1:
        name = awaitable_fields[0]
        results[name] = await results[name]
    else:
        done = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, done, strict=True))
    return results
