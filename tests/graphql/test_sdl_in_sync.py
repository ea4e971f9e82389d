"""The committed GraphQL SDL is the live schema: clients generate code from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.api.graphql.schema import GRAPHQL_MODULES, build_schema, sdl

SDL_PATH = Path(__file__).resolve().parents[2] / "openapi" / "schema.graphql"


def test_openapi_schema_graphql_equals_the_live_sdl():
    assert SDL_PATH.exists(), "openapi/schema.graphql is missing: run `make openapi`"
    assert SDL_PATH.read_text() == sdl(), "openapi/schema.graphql is out of date: run `make openapi`"


def test_sdl_is_stable_and_ends_in_one_newline():
    text = sdl()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert build_schema().as_str().rstrip("\n") + "\n" == text  # a second build prints the same


def test_fields_defined_twice_across_modules_are_refused():
    with pytest.raises(RuntimeError, match="more than one module: dataset, datasets"):
        build_schema([*GRAPHQL_MODULES, GRAPHQL_MODULES[0]])
