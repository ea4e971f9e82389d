"""The committed OpenAPI document is the live app's: clients generate code from the file.

``make openapi`` (``labelwise openapi --write``) writes it again; the GraphQL SDL has the same
check in ``tests/graphql/test_sdl_in_sync.py``.
"""

from __future__ import annotations

from backend.api.openapi_export import OPENAPI_PATH, openapi_text


def test_the_committed_document_is_what_every_app_of_the_process_describes():
    assert OPENAPI_PATH.exists(), "openapi/openapi.json is missing: run `make openapi`"
    first, second = openapi_text(), openapi_text()  # two apps: handlers are documented once
    assert first == second, "two apps of one process describe different documents"
    assert first == OPENAPI_PATH.read_text(), "openapi/openapi.json is out of date: run `make openapi`"
