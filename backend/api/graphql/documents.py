"""Documents parsed and validated once per text: paging sends the same document page after page.

Parsing and graphql-core's validation depend on the document's text and the validation rules alone
(never on variables or the caller), so ``DocumentCache`` keeps the parsed document per text and
remembers which (text, rules) pairs passed validation, in bounded LRU maps. Everything that does
depend on the request still runs every time, before it: the size check and the selection and
cost limits (``cost.py``, which reads variables and item counts), the mutation roles
(``permissions.py``). The depth and alias rules (``limits.py``) are part of the rules a
validation is remembered under, so an app with other limits validates for itself. Only passing
validations are remembered: a refused document is validated again, its errors made afresh.

It must come after ``QueryCost`` and ``MutationRoles`` in the schema's extensions: theirs run
first, and a refusal they set is left alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

MAX_DOCUMENTS = 256


class _Lru(OrderedDict):
    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_recent(self, key: Any) -> Any:
        found = self.get(key)
        if found is not None:
            self.move_to_end(key)
        return found

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


_PARSED: _Lru = _Lru(MAX_DOCUMENTS)  # query text -> DocumentNode
_VALID: _Lru = _Lru(MAX_DOCUMENTS)  # (schema, query text, validation rules) -> True


def clear() -> None:
    """Forget every document (tests)."""
    _PARSED.clear()
    _VALID.clear()


class DocumentCache(SchemaExtension):
    """Reuses the parsed document and a passed validation of a document text seen before."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        cacheable = bool(query) and context.graphql_document is None and not context.parse_options
        if cacheable:
            document = _PARSED.get_recent(query)
            if document is not None:
                context.graphql_document = document
                cacheable = False
        yield
        if cacheable and context.graphql_document is not None:
            _PARSED.put(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        key = None
        if context.pre_execution_errors is None and context.query and context.graphql_document is not None:
            key = (context.schema, context.query, tuple(context.validation_rules))
            if _VALID.get_recent(key):
                context.pre_execution_errors = []  # passed before: graphql-core's validation is skipped
                key = None
        yield
        if key is not None and context.pre_execution_errors == []:
            _VALID.put(key, True)
