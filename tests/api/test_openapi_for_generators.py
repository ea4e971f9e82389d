"""The OpenAPI document says what a client generator needs: how to authenticate, what every
operation can refuse, which answers are files, and names to call operations by."""

from __future__ import annotations

import json
import re

from backend.api.openapi_export import OPENAPI_PATH

DOCUMENT = json.loads(OPENAPI_PATH.read_text())
OPERATIONS = [(path, method, op) for path, ops in DOCUMENT["paths"].items() for method, op in ops.items()]


def test_the_bearer_token_and_session_cookie_are_declared_and_required():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["type"], schemes["session"]["in"]) == ("apiKey", "cookie")
    assert schemes["session"]["name"] == "labelwise_session"
    assert DOCUMENT["security"] == [{"bearer": []}, {"session": []}]


def test_every_api_operation_documents_401_and_403_as_problems():
    assert len(OPERATIONS) > 50
    for path, method, op in OPERATIONS:
        for status in ("401", "403"):
            response = op["responses"].get(status)
            assert response, f"{method.upper()} {path} does not document {status}"
            assert list(response["content"]) == ["application/problem+json"], (path, status)
        for status, response in op["responses"].items():  # every error answer: the one problem body
            if status[0] in "45":
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, status)
    needs = DOCUMENT["paths"]["/api/v1/jobs"]["post"]["responses"]["403"]["description"]
    assert "trainer" in needs


def test_file_answers_are_bytes_and_operation_ids_read_as_names():
    files = 0
    for path, method, op in OPERATIONS:
        for media, content in op["responses"].get("200", {}).get("content", {}).items():
            if media == "application/json" or media == "text/event-stream":
                continue
            files += 1
            assert content["schema"] == {"type": "string", "format": "binary"}, (method, path, media)
    assert files >= 9  # models' files, vectors, item ids, job outputs, images, heatmap, export x3
    image = DOCUMENT["paths"]["/api/v1/items/{item_id}/image"]["get"]["responses"]["200"]["content"]
    assert list(image) == ["image/png"]
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", i) and not i.startswith("ApiV1") for i in ids)
    assert "list_datasets" in ids and "job_events" in ids


def test_the_problem_body_is_rfc_9457_with_our_code():
    problem = DOCUMENT["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert {"details", "error"} <= set(problem["properties"])
