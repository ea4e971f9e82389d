"""Which finished jobs the server is about to follow up (``QueueState.server_follows``): the queue
leaves their next step to the server instead of suggesting it (accepting it too would run it
twice). A chained job, or one finished while the dataset keeps models fresh, until the server's
round has claimed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.feature_report.report import FeatureReport
from backend.guided.suggest_state import QueueState
from backend.storage.job_tables import Job
from backend.storage.tables import Dataset

SWITCHED_ON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def state_of(dataset: Dataset, jobs: list[Job]) -> QueueState:
    return QueueState(dataset, {}, {}, 0, 0, {}, jobs, {}, FeatureReport(dataset_id=1))


def job(kind: str, finished: datetime | None, **fields: object) -> Job:
    return Job(
        **{
            "kind": kind,
            "state": "succeeded",
            "model_id": 5,
            "dataset_id": 1,
            "finished_at": finished,
            **fields,
        }
    )


def test_a_job_finished_while_models_are_kept_fresh_is_the_servers_until_claimed():
    fresh = Dataset(id=1, name="d", keep_models_fresh=True, fresh_since=SWITCHED_ON)
    after = job("train", SWITCHED_ON + timedelta(seconds=1))
    before = job("train", SWITCHED_ON - timedelta(seconds=1))
    claimed = job("train", SWITCHED_ON + timedelta(seconds=1), followed_up=True)
    failed = job("train", SWITCHED_ON + timedelta(seconds=1), state="failed")
    report = job("feature-report", SWITCHED_ON + timedelta(seconds=2), model_id=None)
    state = state_of(fresh, [after, before, claimed, failed, report])
    assert [state.server_follows(j) for j in (after, before, claimed, failed, report)] == [
        True,
        False,  # finished before the switch: switching on does not replay old history
        False,
        False,  # a failed step stops the chain
        True,
    ]
    assert state.following(5) and state.report_following()
    assert not state_of(fresh, [before, claimed]).following(5)


def test_without_the_switch_only_a_chained_job_is_followed():
    off = Dataset(id=1, name="d", keep_models_fresh=False, fresh_since=None)
    plain = job("train", SWITCHED_ON)
    chained = job("train", SWITCHED_ON, chain=True)
    state = state_of(off, [plain])
    assert not state.server_follows(plain) and not state.following(5)
    assert state_of(off, [chained]).following(5)
    assert not state_of(off, [job("feature-report", SWITCHED_ON, model_id=None)]).report_following()
