"""A job's event stream when the database goes away while it is open: it ends with an ``error``
message a client can read (and reopens later), not a connection broken off mid-chunk."""

from __future__ import annotations

import json

from backend.jobs import follow, submission
from labelwise_client.jobs import sse_messages


async def test_the_database_going_away_ends_the_stream_with_an_error_message(
    jobs_client, session, job_settings, image_dataset, monkeypatch
):
    job = await submission.submit_job(
        session, job_settings, None, kind="train", dataset_id=image_dataset.id, algorithm="test-sleeper"
    )

    async def database_gone(database, job_id, *, max_seconds, **watch):  # type: ignore[no-untyped-def]
        yield None  # a keep-alive, then PostgreSQL stops
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    monkeypatch.setattr(follow, "follow_job", database_gone)
    response = await jobs_client.get(f"/api/v1/jobs/{job.id}/events")
    assert response.status_code == 200
    messages = [(event, data) for event, data in sse_messages(response.text.splitlines()) if data]
    assert [event for event, _ in messages] == ["error"]
    error = json.loads(messages[0][1])
    assert error["code"] == "DATABASE_UNAVAILABLE" and "unavailable" in error["message"]
    assert "5432" not in response.text and "Connect call" not in response.text
