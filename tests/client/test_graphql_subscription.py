"""GraphQL ``jobEvents`` over a real websocket (graphql-transport-ws) against the served app."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from labelwise_client import Client

FOLLOW = """subscription($id: Int!, $max: Float! = 3600) {
  jobEvents(id: $id, maxSeconds: $max) {
    finished latestMetrics
    job { id state done total progress error }
    log { id level message }
  }
}"""


def _ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/graphql"


def follow(
    server: str,
    job_id: int,
    headers: dict[str, str] | None = None,
    max_seconds: float = 3600,
    query: str = FOLLOW,
) -> list[dict[str, Any]]:
    """Every message of one operation over the websocket until ``complete`` (or ``error``)."""
    with connect(
        _ws_url(server),
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=headers or {},
        open_timeout=10,
    ) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        variables = {"id": job_id, "max": max_seconds} if query == FOLLOW else {"id": job_id}
        payload = {"query": query, "variables": variables}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        messages = []
        while True:
            message = json.loads(ws.recv(timeout=60))
            if message["type"] == "ping":
                ws.send(json.dumps({"type": "pong"}))
                continue
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


def _sleeper(client: Client, dataset: dict, **parameters: Any) -> int:
    job = client.submit("train", dataset_id=dataset["id"], algorithm="test-sleeper", parameters=parameters)
    return job.id


def test_a_job_is_followed_to_its_end_with_state_progress_and_log(client: Client, server: str, dataset):
    job_id = _sleeper(client, dataset, steps=20, step_seconds=0.1)  # 2 s: caught while it runs
    messages = follow(server, job_id)
    assert messages[-1] == {"id": "1", "type": "complete"}
    updates = [m["payload"]["data"]["jobEvents"] for m in messages if m["type"] == "next"]
    assert updates[0]["job"]["id"] == job_id and not updates[0]["finished"]
    last = updates[-1]
    assert last["finished"] and last["job"]["state"] == "succeeded" and last["job"]["progress"] == 1.0
    assert [u for u in updates[:-1] if u["finished"]] == []  # only the last update is the end
    lines = [line for u in updates for line in u["log"]]
    assert lines and len({line["id"] for line in lines}) == len(lines)  # each log line once
    # the same job as the REST view of it, once it ended
    assert client.job(job_id).data["state"] == last["job"]["state"]


def test_an_unknown_job_is_not_found_and_a_stream_ends_after_max_seconds(
    client: Client, server: str, dataset
):
    unknown = follow(server, 999999)
    assert [m["type"] for m in unknown] == ["next", "complete"]  # an execution error, then the end
    assert unknown[0]["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in unknown[0]["payload"]["errors"]] == ["NOT_FOUND"]

    job_id = _sleeper(client, dataset, steps=400, step_seconds=0.05)
    cut = follow(server, job_id, max_seconds=1)
    updates = [m["payload"]["data"]["jobEvents"] for m in cut if m["type"] == "next"]
    assert cut[-1]["type"] == "complete" and updates and not updates[-1]["finished"]
    client.job(job_id).cancel()


def test_subscriptions_need_a_viewer_and_the_same_site(server: str, accounts, folder):
    from tests.factories import image_folder

    image_folder(folder, count=3)
    with Client(server, token=accounts["admin"].token) as admin:
        dataset = admin.create_dataset("followed", [str(folder)])
        job_id = _sleeper(admin, dataset, steps=2, step_seconds=0.05)
    with pytest.raises(InvalidStatus) as anonymous:
        follow(server, job_id)
    assert anonymous.value.response.status_code in (401, 403)
    from_elsewhere = {**accounts["viewer"].headers, "Origin": "https://evil.example"}
    with pytest.raises(InvalidStatus) as cross_site:
        follow(server, job_id, from_elsewhere)
    assert cross_site.value.response.status_code == 403

    messages = follow(server, job_id, accounts["viewer"].headers)  # viewers may follow, as over REST
    assert messages[-1]["type"] == "complete"
    assert messages[-2]["payload"]["data"]["jobEvents"]["job"]["state"] == "succeeded"

    # the websocket is no way around roles: a viewer's mutation over it is refused as over HTTP
    cancel = "mutation($id: Int!) { cancelJob(id: $id) { state } }"
    refused = follow(server, job_id, accounts["viewer"].headers, query=cancel)
    assert refused[0]["type"] in ("next", "error"), refused
    errors = refused[0]["payload"] if refused[0]["type"] == "error" else refused[0]["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], refused


@pytest.mark.parametrize("outage", ["refused", "operational"])
def test_the_database_going_away_mid_stream_ends_it_with_a_graphql_error(
    client: Client, server: str, dataset, monkeypatch, caplog, outage: str
):
    """As REST's event stream ends with an ``error`` event: one update, then the database stops
    (PostgreSQL's refused connection surfaces as a bare ``ConnectionRefusedError``, a dropped one
    as SQLAlchemy's ``OperationalError``); the subscription ends with a GraphQL error saying so,
    without the server's address, and the websocket closes cleanly."""
    from sqlalchemy.exc import OperationalError

    from backend.jobs import follow as following

    real = following.follow_job

    async def database_gone(database, job_id, **options):  # type: ignore[no-untyped-def]
        async for now in real(database, job_id, **options):
            yield now  # the first update, read from the database
            break
        refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        if outage == "refused":
            raise refused
        raise OperationalError("SELECT job.state FROM job", {}, refused)

    job_id = _sleeper(client, dataset, steps=400, step_seconds=0.05)
    monkeypatch.setattr(following, "follow_job", database_gone)
    messages = follow(server, job_id)
    client.job(job_id).cancel()
    assert [m["type"] for m in messages] == ["next", "next", "complete"], messages
    assert messages[0]["payload"]["data"]["jobEvents"]["job"]["id"] == job_id
    ended = messages[1]["payload"]
    assert ended["data"] is None
    assert [e["extensions"]["code"] for e in ended["errors"]] == ["DATABASE_UNAVAILABLE"], ended
    assert "unavailable" in ended["errors"][0]["message"]
    text = json.dumps(messages)
    assert "5432" not in text and "Connect call" not in text and "SELECT" not in text
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # one line logged, no traceback
