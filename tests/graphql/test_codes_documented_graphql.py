"""Every ``extensions.code`` a client can get from ``/graphql`` for a refused document or request is
named where README lists the codes (a script author looks a code up there, and found
``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES`` and ``BAD_REQUEST`` nowhere)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.graphql import GRAPHQL

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_codes() -> set[str]:
    """The upper-case codes in backquotes in README's **Errors** entry (its table and its lines after)."""
    text = README.read_text(encoding="utf-8")
    entry = text.split("- **Errors**", 1)[1].split("\n- **", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z_]+)`", entry))


async def codes_of(client, body) -> set[str]:
    response = await client.post(GRAPHQL, json=body)
    return {error["extensions"]["code"] for error in response.json()["errors"]}


async def test_every_refusal_code_of_graphql_is_in_the_readme(client, settings):
    depth = settings.graphql_max_depth + 1
    given = set()
    for body in (
        {"query": "{ " + "datasets { " * depth + "id" + " }" * depth + " }"},  # too deep
        {"query": "{ " + " ".join(f"a{i}: datasets {{ id }}" for i in range(40)) + " }"},  # aliases
        {"query": "{ datasets { "},  # does not parse
        {"query": "{ nothingHere }"},  # does not validate
        [{"query": "{ datasets { id } }"}],  # a batch: refused before GraphQL reads it
        {"query": "{ datasets { id } }", "variables": [1]},
    ):
        given |= await codes_of(client, body)
    assert {"QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "BAD_REQUEST", "GRAPHQL_PARSE_FAILED"} <= given
    assert given <= documented_codes(), sorted(given - documented_codes())
