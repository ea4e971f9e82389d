"""A job's progress reports reach the database in the order they were taken.

The heartbeat thread and the job's own thread both flush. A heartbeat report taken at step 3
but written after the last one left a finished job at 75 % (seen once in CI).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from backend.jobs.execution import RUN, JobSpec, ProgressReport
from backend.settings import Settings
from workers.context import JobContext


class RecordingStore:
    """Stands in for the job store: keeps each report in the order it was written.

    The first write is slow: it waits (at most ``hold`` seconds) for a second write to start,
    as a heartbeat's write does when the database is busy.
    """

    def __init__(self, hold: float = 1.0, fail_first: bool = False) -> None:
        self.written: list[ProgressReport] = []
        self.hold = hold
        self.fail_first = fail_first
        self.calls = 0
        self.second_started = threading.Event()
        self.first_started = threading.Event()
        self._lock = threading.Lock()

    def call(self, fn: Any, job_id: int, attempt: int, report: ProgressReport) -> str:
        with self._lock:
            self.calls += 1
            number = self.calls
        if number == 1:
            self.first_started.set()
            self.second_started.wait(self.hold)
            if self.fail_first:
                raise ConnectionError("the database went away")
        else:
            self.second_started.set()
        with self._lock:
            self.written.append(report)
        return RUN


def _context(settings: Settings, tmp_path: Path, store: RecordingStore) -> JobContext:
    spec = JobSpec(
        job_id=1, attempt=1, kind="train", algorithm="test-sleeper", parameters={}, dataset_id=1,
        model_id=None, model_parameters={}, model_artifact=None, input_dir=None, output_rel="x",
        trained_on={}, items=[],
    )  # fmt: skip
    return JobContext(spec, settings, store, tmp_path)  # type: ignore[arg-type]


def _last_done(reports: list[ProgressReport]) -> int | None:
    done = None
    for report in reports:  # the database keeps the last value written
        if report.done is not None:
            done = report.done
    return done


def test_a_late_heartbeat_does_not_overwrite_the_last_step(settings: Settings, tmp_path: Path) -> None:
    store = RecordingStore()
    ctx = _context(settings, tmp_path, store)
    # Step 3 is reported and flushed on another thread; its write is slow.
    heartbeat = threading.Thread(target=ctx.progress, args=(3, 4))
    heartbeat.start()
    assert store.first_started.wait(5)
    ctx.progress(4, 4)
    ctx.flush()  # the runner's last flush before the final state
    heartbeat.join(5)
    assert [r.done for r in store.written if r.done is not None] == [3, 4]
    assert _last_done(store.written) == 4


def test_progress_of_a_failed_write_is_sent_with_the_next(settings: Settings, tmp_path: Path) -> None:
    store = RecordingStore(hold=0.0, fail_first=True)
    ctx = _context(settings, tmp_path, store)
    ctx.log("step one")
    ctx.progress(2, 4, epoch=1, epochs=2)  # its write fails
    assert store.written == []
    ctx.log("step two")
    ctx.flush()
    (report,) = store.written
    assert (report.done, report.total, report.epoch, report.epochs) == (2, 4, 1, 2)
    assert [message for _, _, message in report.logs] == ["step one", "step two"]
