"""``Job.wait()`` follows the steps the server queues by itself after a job (a chained job, a
dataset that keeps models fresh): it returns when the last of them ended, not when the job did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.settings import Settings
from labelwise_client import Client
from tests.factories import image_folder
from tests.live import live_app

FAST = {"steps": 1, "step_seconds": 0}


@pytest.fixture
def slow_ticker(job_settings: Settings, database) -> Iterator[str]:
    """A server whose runtime ticks once a second: the follow-up is queued a while after the job
    ended (as on a real server, where the tick is 5 s), so a wait that does not ask would miss it."""
    with live_app(job_settings.model_copy(update={"heartbeat_seconds": 1.0})) as url:
        yield url


@pytest.fixture
def lw(slow_ticker: str) -> Iterator[Client]:
    with Client(slow_ticker, tagger="notebook", timeout=30) as c:
        yield c


def keep_fresh(lw: Client, folder: Path, on: bool) -> int:
    image_folder(folder, count=12)
    dataset_id = int(lw.create_dataset(f"follow-{folder.name}", [str(folder)])["id"])
    lw._json("PUT", f"/datasets/{dataset_id}/keep-fresh", json={"keep_models_fresh": on})
    return dataset_id


def test_wait_returns_after_the_servers_inference_and_index_build(lw: Client, folder: Path):
    dataset_id = keep_fresh(lw, folder, True)
    job = lw.submit("train", dataset_id=dataset_id, algorithm="test-sleeper", parameters=FAST)
    assert job.wait(timeout=120, poll_seconds=0.1) is job
    assert [(j.data["kind"], j.state) for j in job.chain] == [
        ("infer", "succeeded"),
        ("build-index", "succeeded"),
    ]
    assert job.chain[0].data["caused_by_job_id"] == job.id
    assert job.last is job.chain[-1] and job.last.data["caused_by_job_id"] == job.chain[0].id
    assert not any(j.data["follow_up_pending"] for j in (job, *job.chain))
    # the vectors the walk asked for at once: there now
    ids, vectors = lw.vectors(int(job.model_id or 0), dataset_id)
    assert len(ids) == 12 and len(vectors) == 12

    # follow_server=False: the job alone, as before
    alone = lw.submit("train", dataset_id=dataset_id, algorithm="test-sleeper", parameters=FAST)
    assert alone.wait(timeout=120, poll_seconds=0.1, follow_server=False).chain == []


def test_a_job_nothing_follows_returns_at_its_end(lw: Client, folder: Path):
    dataset_id = keep_fresh(lw, folder, False)
    job = lw.submit("train", dataset_id=dataset_id, algorithm="test-sleeper", parameters=FAST)
    assert job.wait(timeout=120, poll_seconds=0.1).chain == []
    assert job.state == "succeeded" and job.data["follow_up_pending"] is False


def test_train_with_inference_submits_no_second_inference_where_the_server_ran_one(lw: Client, folder: Path):
    """``train(infer=True, index=True)`` on a dataset that keeps models fresh: the server's own
    inference and index build stand for the client's, nothing is run twice."""
    dataset_id = keep_fresh(lw, folder, True)
    job = lw.train(dataset_id, "test-sleeper", FAST, infer=True, index=True)
    job.wait(timeout=120, poll_seconds=0.1)
    assert [j.data["kind"] for j in job.chain] == ["infer", "build-index"]
    model = int(job.model_id or 0)
    listed = [j for j in lw.jobs(dataset_id) if j["model_id"] == model]
    assert sorted(j["kind"] for j in listed) == ["build-index", "infer", "train"], listed

    # on a dataset that does not keep them fresh the client submits both, as before
    other = keep_fresh(lw, folder / "plain", False)
    plain = lw.train(other, "test-sleeper", FAST, infer=True, index=True)
    plain.wait(timeout=120, poll_seconds=0.1)
    assert [(j.data["kind"], j.state) for j in plain.chain] == [
        ("infer", "succeeded"),
        ("build-index", "succeeded"),
    ]
