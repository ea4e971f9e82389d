"""Schemathesis against openapi/openapi.json, with the app served on 127.0.0.1.

Every operation of the published document gets generated requests (path ids both random and
pointing at a seeded dataset, its items, class and event); no answer may be a 5xx, and every
answer must match the schema the document gives for its status. Examples are derandomized so a
failure repeats; reads go first and deletes, users and tokens last, so the seeded data serves
as many operations as it can.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.live import live_app

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = 15  # per operation: ~60 operations, a few seconds each
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _seed(url: str, folder: Path) -> dict[str, int]:
    """A dataset of four images, a class, a labeling event: ids for the path parameters."""
    for i in range(4):
        pixels = (np.random.default_rng(i).random((24, 24)) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        (folder / f"img_{i}.png").write_bytes(buffer.getvalue())
    api = f"{url}/api/v1"
    dataset = requests.post(f"{api}/datasets", json={"name": "fuzz", "sources": [str(folder)]}, timeout=30)
    assert dataset.status_code == 201, dataset.text
    dataset_id = dataset.json()["dataset"]["id"]
    items = requests.get(f"{api}/datasets/{dataset_id}/items", timeout=30).json()["items"]
    label = requests.post(f"{api}/datasets/{dataset_id}/classes", json={"name": "rings"}, timeout=30).json()
    event = requests.post(
        f"{api}/datasets/{dataset_id}/tags",
        json={"item_ids": [items[0]["id"]], "label_id": label["id"]},
        timeout=30,
    ).json()
    return {
        "dataset_id": dataset_id,
        "item_id": items[1]["id"],
        "class_id": label["id"],
        "event_id": event["event"]["id"] if "event" in event else event["id"],
    }


def _order(operation) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    path, method = operation.path, operation.method.upper()
    if "/users" in path or "/tokens" in path:
        rank = 3  # accounts may switch the local single-user mode off: last
    elif method == "DELETE":
        rank = 2
    elif method == "GET":
        rank = 0
    else:
        rank = 1
    return rank, f"{path} {method}"


def test_no_operation_answers_5xx_or_outside_its_schema(settings, database, folder):
    schema = schemathesis.openapi.from_path(DOCUMENT)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) > 40
    failures: list[str] = []
    calls: list[int] = []
    with live_app(settings, run_jobs=False) as url, requests.Session() as http:
        ids = _seed(url, folder)
        for operation in operations:
            names = {p.name for p in operation.path_parameters}
            pinned = {name: ids[name] for name in names if name in ids}
            strategy = operation.as_strategy()
            if pinned:
                strategy = st.one_of(strategy, operation.as_strategy(path_parameters=pinned))

            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def exercise(case) -> None:  # type: ignore[no-untyped-def]
                response = case.call(base_url=url, session=http, timeout=60)
                calls.append(response.status_code)
                case.validate_response(response, checks=CHECKS)

            try:
                exercise()
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all are reported
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 5 * len(operations)  # the examples really went out
    assert any(200 <= status < 300 for status in calls) and any(status == 404 for status in calls)
