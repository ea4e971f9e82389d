"""The fast executor answers exactly what graphql-core's own does: data, errors, paths, nulls."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from backend.api.graphql.executor import FastExecutor


@strawberry.type
class Inner:
    name: str


@strawberry.type
class Row:
    id: int
    name: str
    tags: list[int]
    maybe: list[int | None] | None
    inner: Inner | None
    must: str  # a row may break it: None, which is not a string
    flag: bool = True
    key: strawberry.ID = strawberry.ID("k")
    ratio: float | None = 0.5

    @strawberry.field
    def computed(self) -> str:
        return f"row {self.id}"


def _rows() -> list[Row]:
    return [
        Row(id=1, name="a", tags=[1, 2], maybe=[None, 3], inner=None, must="x"),
        Row(id=2, name="b", tags=[], maybe=None, inner=Inner(name="in"), must=None),  # type: ignore[arg-type]
        Row(id=3, name="c", tags=["not an int"], maybe=[1], inner=None, must="z", flag=1, ratio=float("nan")),  # type: ignore[list-item,arg-type]
        Row(id=2**40, name="d", tags=[4], maybe=[], inner=None, must="w"),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def rows(self) -> list[Row | None]:
        return list(_rows())

    @strawberry.field
    def strict_rows(self) -> list[Row]:
        return list(_rows())


QUERIES = [
    "{ rows { id name tags maybe inner { name } computed __typename } }",
    "{ rows { id must } }",
    "{ strictRows { name must } }",
    "{ rows { id tags } }",
    "{ rows { flag key ratio } strictRows { id flag } }",
    "{ rows { key: id other: name ...F ... on Row { inner { name } } } } fragment F on Row { maybe }",
    "query($s: Boolean!) { rows { id name @skip(if: $s) tags @include(if: $s) } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_same_answer_as_graphql_core(query: str) -> None:
    plain = strawberry.Schema(query=Query)
    fast = strawberry.Schema(query=Query, execution_context_class=FastExecutor)
    variables: dict[str, Any] = {"s": True}
    expected = await plain.execute(query, variable_values=variables)
    got = await fast.execute(query, variable_values=variables)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]


async def test_errors_are_really_met() -> None:
    """The cases above do reach graphql-core's error paths (else the comparison proves little)."""
    fast = strawberry.Schema(query=Query, execution_context_class=FastExecutor)
    result = await fast.execute("{ rows { id must tags } }")
    messages = " ".join(e.message for e in result.errors or [])
    assert "Cannot return null for non-nullable field Row.must" in messages
    assert "Int cannot represent" in messages
    assert result.data is not None and result.data["rows"][1] is None and result.data["rows"][0]["id"] == 1
