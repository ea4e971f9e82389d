"""The live streams of a queued job say when no worker is alive, and when one appears (round two).

Before, GraphQL ``jobEvents`` and REST ``GET /jobs/{id}/events`` sent only the job's own changes:
a client following a job queued with the Redis broker and no `labelwise worker` running was never
told, unless it read the job again. Now the stream sends one update when the note appears (after
``no_worker_grace_seconds``, not before), one when it clears (a worker's heartbeat), and nothing
on the ticks between. The job page needs nothing new: its live part is polled and re-rendered
(``/jobs/{id}/live``), each time with the note as it is then. Through a real Redis, the served app
and a real websocket; the heartbeats come from ``live_worker`` (no worker process: the job stays
queued).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from backend.settings import Settings
from labelwise_client import Client, LabelwiseError
from labelwise_client.jobs import sse_messages
from tests.helpers.redis import last_seen, live_worker, redis_settings  # noqa: F401
from tests.helpers.redis import pytestmark as redis_marks
from tests.live import live_app

# Longer than the server needs to send a stream's first update, so that it comes within the grace.
GRACE = 1.5
SLEEPER = {"algorithm": "test-sleeper", "parameters": {"steps": 2}}
FOLLOW = """subscription($id: Int!) {
  jobEvents(id: $id, maxSeconds: 60) { finished job { id state noWorker } }
}"""
NONE_SEEN = "no worker has been seen on the broker"


@pytest.fixture
def lonely_settings(redis_settings: Settings) -> Settings:  # noqa: F811
    return redis_settings.model_copy(update={"no_worker_grace_seconds": GRACE})


@contextmanager
def _subscribed(server: str, job_id: int) -> Iterator[list[tuple[float, dict[str, Any]]]]:
    """``jobEvents`` of the job over a websocket while the block runs: each update with when it
    came (``time.monotonic``), appended as it comes."""
    updates: list[tuple[float, dict[str, Any]]] = []
    stop = threading.Event()
    ready = threading.Event()

    def listen() -> None:
        url = server.replace("http://", "ws://") + "/graphql"
        with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            payload = {"query": FOLLOW, "variables": {"id": job_id}}
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            ready.set()
            while not stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.05))
                except TimeoutError:
                    continue
                if message["type"] == "ping":
                    ws.send(json.dumps({"type": "pong"}))
                elif message["type"] == "next":
                    updates.append((time.monotonic(), message["payload"]["data"]["jobEvents"]))
                else:
                    raise AssertionError(f"the subscription ended: {message}")

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(15), "the subscription did not start"
    try:
        yield updates
    finally:
        stop.set()
        thread.join(10)


async def _until(updates: list[tuple[float, dict[str, Any]]], count: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while len(updates) < count:
        assert time.monotonic() < deadline, f"no {what} in 10 s: {updates}"
        await asyncio.sleep(0.05)


def _submit(server: str, dataset_id: int) -> int:
    response = httpx.post(f"{server}/api/v1/jobs", json={"dataset_id": dataset_id, **SLEEPER}, timeout=30)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@redis_marks[0]
@redis_marks[1]
async def test_job_events_of_a_queued_job_say_no_worker_after_the_grace_and_when_one_appears(
    lonely_settings, database, image_dataset
):
    with live_app(lonely_settings) as server:
        submitted = time.monotonic()  # the job is created after this
        job_id = await asyncio.to_thread(_submit, server, image_dataset.id)
        with _subscribed(server, job_id) as updates:
            await _until(updates, 2, "update saying no worker is alive")
            with live_worker(lonely_settings):
                await _until(updates, 3, "update once a worker beats")
            seen = last_seen(lonely_settings)
            await _until(updates, 4, "update once its heartbeats stop")
            await asyncio.sleep(1.5)  # the follower asks the broker each second: no update per ask
        notes = [update["job"]["noWorker"] for _, update in updates]
        assert all(u["job"]["state"] == "queued" and not u["finished"] for _, u in updates), updates
        assert len(notes) == 4, notes  # the first at once, then only when the note moved
        assert notes[0] is None  # within the grace
        arrived = updates[1][0] - submitted
        assert arrived >= GRACE, f"said {arrived:.2f} s after the job was queued, inside the grace"
        assert notes[1] is not None and NONE_SEEN in notes[1] and "labelwise worker" in notes[1]
        assert notes[2] is None  # a worker appeared
        assert seen is not None and notes[3] is not None
        assert f"since {seen:%Y-%m-%d %H:%M:%S} UTC" in notes[3]


def _job_events(server: str, job_id: int, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """The ``job`` messages of ``GET /jobs/{id}/events`` for ``seconds``, each with when it came."""
    url = f"{server}/api/v1/jobs/{job_id}/events"
    messages = []
    with httpx.stream("GET", url, params={"max_seconds": seconds}, timeout=30) as response:
        assert response.status_code == 200
        for event, data in sse_messages(response.iter_lines()):
            if event == "job":
                messages.append((time.monotonic(), json.loads(data)))
    return messages


def _wait_briefly(server: str, job_id: int, seconds: float) -> tuple[str | None, str]:
    """The script client's ``wait`` on the job, given up after ``seconds``: what it learnt of the
    missing worker, and how the wait ended."""
    with Client(server, timeout=30) as client:
        job = client.job(job_id)
        try:
            job.wait(timeout=seconds, progress=True)
        except LabelwiseError as exc:
            return job.no_worker, exc.code
        return job.no_worker, "finished"


@redis_marks[0]
@redis_marks[1]
async def test_the_rest_event_stream_and_the_script_client_learn_it_too(
    lonely_settings, database, image_dataset, capsys
):
    with live_app(lonely_settings) as server:
        submitted = time.monotonic()
        job_id = await asyncio.to_thread(_submit, server, image_dataset.id)
        messages = await asyncio.to_thread(_job_events, server, job_id, GRACE + 2.5)
        notes = [job["no_worker"] for _, job in messages]
        assert len(notes) == 2 and notes[0] is None, notes  # at once, then once when it appeared
        assert notes[1] is not None and NONE_SEEN in notes[1]
        assert messages[1][0] - submitted >= GRACE

        note, ended = await asyncio.to_thread(_wait_briefly, server, job_id, 2.0)
        assert ended == "TIMEOUT" and note is not None and NONE_SEEN in note
        assert f"waiting: {note}" in capsys.readouterr().err  # wait(progress=True) shows it
