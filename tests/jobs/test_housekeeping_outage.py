"""The job runtime's housekeeping while the database is down: one line when it stops working, one
when it works again, not a traceback every round (a night's outage buried the server's log)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest

from backend.settings import Settings
from workers.runtime import JobRuntime


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _housekeeping(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "labelwise.worker" and "housekeeping" in r.getMessage()]


def test_a_database_down_is_logged_once_without_a_traceback(tmp_path: Path, caplog):
    url = f"postgresql+asyncpg://lab:pw-Not-Logged-3@127.0.0.1:{_closed_port()}/labelwise"
    settings = Settings(data_dir=tmp_path, database_url=url, heartbeat_seconds=0.05)
    caplog.set_level(logging.INFO, logger="labelwise.worker")
    runtime = JobRuntime(settings).start()
    try:
        time.sleep(1.0)  # some twenty rounds, each failing to connect
    finally:
        runtime.stop()
    records = _housekeeping(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "cannot be reached" in record.getMessage() and "ConnectionRefusedError" in record.getMessage()
    assert "pw-Not-Logged-3" not in caplog.text


def test_housekeeping_says_when_it_works_again_and_shows_a_bug_once(tmp_path: Path, caplog, monkeypatch):
    settings = Settings(data_dir=tmp_path, heartbeat_seconds=0.05)
    runtime = JobRuntime(settings)
    outcomes = [ConnectionRefusedError(111, "refused")] * 3 + [None] + [ValueError("a bug")] * 3
    done = threading.Event()

    def tick(*, resend_all: bool = False) -> None:
        if not outcomes:
            done.set()
            return
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(runtime, "tick", tick)
    caplog.set_level(logging.INFO, logger="labelwise.worker")
    loop = threading.Thread(target=runtime._tick_loop)
    loop.start()
    try:
        assert done.wait(10)
    finally:
        runtime.stopping.set()
        loop.join(5)
        runtime.stop()
    records = _housekeeping(caplog)
    messages = [r.getMessage() for r in records]
    assert len(records) == 4, messages  # paused, works again, the bug, works again
    assert "paused" in messages[0] and records[0].exc_info is None
    assert "works again, after 3 failed round(s)" in messages[1]
    assert records[2].exc_info is not None and records[2].levelno == logging.ERROR  # a bug: its traceback
    assert "works again, after 3 failed round(s)" in messages[3]
