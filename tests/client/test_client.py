"""The labeling loop through ``labelwise_client``: every call a real request to the served app."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from labelwise_client import Client, LabelwiseError
from tests.factories import image_folder

PCA_PARAMS = {"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}


def test_importing_the_client_imports_neither_the_server_nor_ml_frameworks():
    code = (
        "import sys, labelwise_client; "
        "heavy = ('torch', 'tensorflow', 'keras', 'litestar', 'backend', 'sqlalchemy'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_items_carry_class_names_tagger_and_event_kind_and_undo_restores(client: Client, dataset):
    cat, dog = client.add_class(dataset, "cat"), client.add_class(dataset, "dog")
    assert client.dataset_id(dataset["name"]) == dataset["id"]
    ids = [row["id"] for row in client.items(dataset["name"])]
    assert len(ids) == 40
    before = datetime.now(UTC)
    first = client.tag(dataset["id"], ids[:3], "cat")
    second = client.tag(dataset["id"], ids[3:5], dog["id"], kind="review")

    frame = client.items(dataset["id"]).to_pandas().set_index("id")
    assert frame.loc[ids[0], "label"] == "cat" and frame.loc[ids[4], "labels"] == ["dog"]
    assert frame.loc[ids[0], "tagger"] == "notebook"
    assert frame.loc[ids[0], "event_kind"] == "manual" and frame.loc[ids[3], "event_kind"] == "review"
    assert frame.loc[ids[0], "label_ids"] == [cat["id"]]
    assert frame.loc[ids[9], "labels"] == [] and frame["path"].str.endswith(".png").all()

    labels = client.labels(dataset["id"]).to_pandas()
    assert dict(zip(labels["item_id"], labels["labels"], strict=True)) == {
        **{i: ["cat"] for i in ids[:3]},
        **{i: ["dog"] for i in ids[3:5]},
    }
    assert len(client.labels(dataset["id"], as_of=before)) == 0
    tomorrow = (before + timedelta(days=1)).date().isoformat()  # a date alone: its 00:00 UTC
    assert len(client.labels(dataset["id"], as_of=tomorrow)) == 5
    assert len(client.labels(dataset["id"], tagger="somebody-else")) == 0

    undone = client.undo(second)
    assert undone["kind"] == "undo"
    assert {r["item_id"] for r in client.labels(dataset["id"])} == set(ids[:3])
    assert [e["id"] for e in client.events(dataset["id"])] == [undone["id"], second["id"], first["id"]]


def test_labels_are_read_page_after_page_in_one_call(client: Client, dataset):
    """``labels`` reads the server's paged list a page at a time (a smaller server cap learnt), and
    returns every labeled item, by item id, as it did in one answer."""
    ids = [row["id"] for row in client.items(dataset)]
    client.add_class(dataset, "cat")
    client.tag(dataset, ids[:12], "cat")
    asked: list[httpx.URL] = []
    client._http.event_hooks["request"].append(lambda request: asked.append(request.url))
    client._page = 5
    rows = client.labels(dataset)
    assert [r["item_id"] for r in rows] == sorted(ids[:12]) and all(r["labels"] == ["cat"] for r in rows)
    pages = [url.params for url in asked if url.path.endswith("/labels")]
    assert [(p["offset"], p["limit"]) for p in pages] == [("0", "5"), ("5", "5"), ("10", "5")]
    assert len(client.labels(dataset, tagger="notebook")) == 12


def test_labels_read_a_server_that_answers_the_list_whole_once():
    """A server from before the list paged ignores offset and limit: its one answer is the list."""
    whole = [{"item_id": i, "label_ids": [1]} for i in range(1, 8)]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/classes"):
            return httpx.Response(200, json=[{"id": 1, "name": "cat"}])
        return httpx.Response(200, json=whole)

    for page, size in ((5, 7), (7, 7)):  # longer than a page, or exactly one page
        with Client("http://old.invalid") as lw:
            lw._http.close()
            lw._http = httpx.Client(base_url=f"{lw.url}/api/v1", transport=httpx.MockTransport(answer))
            lw._page = page
            assert [r["item_id"] for r in lw.labels(3)] == list(range(1, size + 1))


def test_an_export_as_of_a_time_imports_back_as_one_import_event(client: Client, dataset, tmp_path: Path):
    """The labels of a time, exported, are put back by ``import_labels``; refused rows are reported."""
    ids = [row["id"] for row in client.items(dataset)]
    client.add_class(dataset, "cat")
    client.tag(dataset, ids[:4], "cat")
    then = datetime.now(UTC)
    client.tag(dataset, ids[:4], None)
    client.tag(dataset, ids[4:6], "cat")
    exported = client.export(dataset, tmp_path / "then.csv", as_of=then)
    report = client.import_labels(dataset, exported)
    assert report["accepted"] == len(ids) and report["refused"] == [] and report["event_id"]
    assert {r["item_id"] for r in client.labels(dataset)} == set(ids[:4])  # unlabeled rows unlabel
    event = next(e for e in client.events(dataset) if e["id"] == report["event_id"])
    assert event["kind"] == "import" and event["tagger"] == "notebook"

    (tmp_path / "new.csv").write_text(f"item_id,label\n{ids[9]},dog\n{ids[8]},cat\n")
    refused = client.import_labels(dataset, tmp_path / "new.csv")
    assert (refused["accepted"], refused["unknown_classes"]) == (1, ["dog"])
    assert [r["line"] for r in refused["refused"]] == [2]
    created = client.import_labels(dataset["name"], tmp_path / "new.csv", create_classes=True)
    assert created["created_classes"] == ["dog"] and created["accepted"] == 2


def test_similar_reads_a_limit_over_the_page_cap_page_after_page():
    """``similar(limit=...)`` over the server's page cap is paged as the other lists are, not refused."""
    ranking = [{"item_id": i, "similarity": 1 - i / 100} for i in range(1, 13)]
    asked: list[tuple[int, int]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        if limit > 5:
            problem = {"code": "INVALID", "detail": f"limit {limit} is over the page size cap"}
            return httpx.Response(400, json={**problem, "details": {"max_limit": 5}})
        asked.append((offset, limit))
        page = ranking[offset : offset + limit]
        return httpx.Response(200, json={"items": page, "total": len(ranking), "offset": offset})

    with Client("http://paged.invalid") as lw:
        lw._http.close()
        lw._http = httpx.Client(base_url=f"{lw.url}/api/v1", transport=httpx.MockTransport(answer))
        near = lw.similar(3, 7, [1], limit=11)
    assert [r["item_id"] for r in near] == list(range(1, 12))
    assert asked == [(0, 5), (5, 5), (10, 1)]


def test_train_waits_through_inference_and_index_then_serves_vectors_and_neighbours(
    client: Client, dataset, tmp_path: Path
):
    job = client.train(dataset["id"], "pca", PCA_PARAMS, index=True)
    assert job.state == "queued"
    assert job.wait(progress=True, timeout=300) is job
    assert job.state == "succeeded"
    assert [j.data["kind"] for j in job.chain] == ["infer", "build-index"]
    assert all(j.state == "succeeded" for j in job.chain)

    ids, vectors = client.vectors(job.model_id)
    assert vectors.shape == (40, 4) and len(ids) == 40
    near = client.similar(dataset["id"], job.model_id, [int(ids[0])], limit=5)
    assert len(near) == 5 and near[0]["item_id"] == int(ids[0])
    with pytest.raises(LabelwiseError) as extractor:  # said as /probability says it, not a missing file
        client.probabilities(job.model_id)
    assert "feature_extractor, not a classifier" in extractor.value.message
    rest = httpx.get(
        f"{client.url}/api/v1/datasets/{dataset['id']}/probability",
        params={"model_id": job.model_id, "threshold": 0.5},
        timeout=10,
    ).json()
    assert (extractor.value.code, extractor.value.status, extractor.value.details) == (
        rest["code"],
        rest["status"],
        rest["details"],
    )
    assert rest["detail"].startswith(f"model {job.model_id} wrote no class probabilities")
    assert extractor.value.message.startswith(f"model {job.model_id} wrote no class probabilities")

    client.add_class(dataset, "cat")
    client.tag(dataset, [int(ids[0])], "cat")
    exported = client.export(dataset, tmp_path / "labels.csv")
    assert "cat" in exported.read_text() and not list(tmp_path.glob("*.part"))


def test_wait_raises_the_jobs_error_when_it_fails(client: Client, dataset):
    job = client.submit(
        "train", dataset_id=dataset["id"], algorithm="test-sleeper", parameters={"fail_at_step": 1}
    )
    with pytest.raises(LabelwiseError) as caught:
        job.wait(timeout=120)
    assert caught.value.code == "JOB_FAILED"
    assert job.state == "failed" and str(job.id) in caught.value.message


def test_wait_times_out_without_hanging(client: Client, dataset):
    job = client.submit(
        "train",
        dataset_id=dataset["id"],
        algorithm="test-sleeper",
        parameters={"steps": 200, "step_seconds": 0.05},
    )
    with pytest.raises(LabelwiseError) as caught:
        job.wait(timeout=0.5)
    assert caught.value.code == "TIMEOUT"
    job.cancel()


def test_every_refusal_is_one_error_type_with_the_servers_code(server: str, accounts, folder: Path):
    image_folder(folder, count=3)
    admin = Client(server, token=accounts["admin"].token)
    dataset = admin.create_dataset("guarded", [str(folder)])
    with pytest.raises(LabelwiseError) as missing:
        admin.items(999999)
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    with pytest.raises(LabelwiseError) as unknown_name:
        admin.dataset_id("no such dataset")
    assert unknown_name.value.code == "NOT_FOUND"

    with pytest.raises(LabelwiseError) as anonymous:
        Client(server).datasets()
    assert (anonymous.value.status, anonymous.value.code) == (401, "UNAUTHENTICATED")
    with Client(server, token="lw_not-a-token") as stranger, pytest.raises(LabelwiseError) as wrong_token:
        stranger.datasets()
    assert (wrong_token.value.status, wrong_token.value.code) == (401, "UNAUTHENTICATED")

    with Client(server, token=accounts["viewer"].token) as viewer:
        assert [d["id"] for d in viewer.datasets()] == [dataset["id"]]
        with pytest.raises(LabelwiseError) as too_low:
            viewer.tag(dataset["id"], [1], None)
    assert (too_low.value.status, too_low.value.code) == (403, "FORBIDDEN")
    assert "labeler" in too_low.value.message


def test_token_and_url_come_from_the_environment(server: str, accounts, monkeypatch):
    monkeypatch.setenv("LABELWISE_URL", server)
    monkeypatch.setenv("LABELWISE_TOKEN", accounts["labeler"].token)
    with Client() as from_env:
        assert list(from_env.datasets()) == []
    monkeypatch.delenv("LABELWISE_URL")
    with pytest.raises(LabelwiseError) as no_url:
        Client()
    assert no_url.value.code == "NO_URL"


def test_a_server_that_is_not_there_is_an_error_not_a_hang():
    with Client("http://127.0.0.1:9", timeout=2) as nowhere, pytest.raises(LabelwiseError) as caught:
        nowhere.datasets()
    assert caught.value.code == "UNREACHABLE" and caught.value.status is None


def test_a_server_that_is_not_there_is_named_in_the_error_without_credentials(tmp_path: Path):
    """No answer: the message says which server was tried, never the token or a url's password."""
    with Client("http://someone:hunter2@127.0.0.1:9/", token="lw_secret-token", timeout=2) as nowhere:
        for call in (nowhere.datasets, lambda: nowhere.export(3, tmp_path / "labels.csv")):
            with pytest.raises(LabelwiseError) as caught:
                call()
            said = str(caught.value)
            assert caught.value.code == "UNREACHABLE" and "http://127.0.0.1:9/api/v1/datasets" in said
            assert "hunter2" not in said and "someone" not in said and "lw_secret-token" not in said


def test_a_job_is_followed_through_its_event_stream_to_the_end(client: Client, server: str, dataset):
    job = client.submit(
        "train",
        dataset_id=dataset["id"],
        algorithm="test-sleeper",
        parameters={"steps": 4, "step_seconds": 0.1},
    )
    with httpx.stream("GET", f"{server}/api/v1/jobs/{job.id}/events", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            line.split(":", 1)[1].strip() for line in response.iter_lines() if line.startswith("event:")
        ]
    assert events[0] == "job" and events[-1] == "end" and "log" in events
    finished = client.job(job.id).data
    assert finished["state"] == "succeeded" and finished["progress"] == 1.0
    assert finished["duration_seconds"] > 0

    again = client.submit(
        "train",
        dataset_id=dataset["id"],
        algorithm="test-sleeper",
        parameters={"steps": 3, "step_seconds": 0.1},
    )
    assert again.wait(timeout=60).followed_by == "events"


def test_an_event_stream_ends_after_its_lifetime_even_while_the_job_runs(
    client: Client, server: str, dataset
):
    job = client.submit(
        "train",
        dataset_id=dataset["id"],
        algorithm="test-sleeper",
        parameters={"steps": 400, "step_seconds": 0.05},
    )
    url = f"{server}/api/v1/jobs/{job.id}/events"
    with httpx.stream("GET", url, params={"max_seconds": 1}, timeout=30) as response:
        lines = list(response.iter_lines())
    assert "event: end" not in lines and "event: job" in lines
    assert client.job(job.id).cancel().state in ("running", "canceled", "queued")
    assert httpx.get(f"{server}/api/v1/jobs/999999/events", timeout=10).status_code == 404


def test_the_scripting_example_runs_against_the_served_app(server: str, dataset, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LABELWISE_URL", server)
    out = tmp_path / "labels.csv"
    params = '{"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}'
    done = subprocess.run(
        [sys.executable, "docs/scripting_example.py", "--dataset", dataset["name"], "--out", str(out),
         "--parameters", params],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "40 items, 0 labeled" in done.stdout and "4-d vectors for 40 items" in done.stdout
    assert out.read_text().count("interesting") == 2
    refused = subprocess.run(
        [sys.executable, "docs/scripting_example.py", "--dataset", "999999"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert refused.returncode == 1 and "NOT_FOUND" in refused.stdout


def test_probabilities_come_back_as_a_frame_with_class_names_by_item_id(client: Client, dataset):
    from tests.guided.fixed_classifier import expected_probabilities

    client.add_class(dataset, "cat")
    client.add_class(dataset, "dog")
    ids = [row["id"] for row in client.items(dataset)]
    client.tag(dataset, ids[:2], "cat")
    client.tag(dataset, ids[2:4], "dog")
    job = client.train(dataset, "test-fixed-classifier").wait(timeout=120)
    frame = client.probabilities(job.model_id)
    assert list(frame.columns) == ["cat", "dog"] and frame.index.name == "item_id"
    assert frame.index.tolist() == ids
    assert np.allclose(frame.to_numpy(), expected_probabilities(40, 2))
    with pytest.raises(LabelwiseError) as untrained:
        client.probabilities(999999)
    assert untrained.value.code == "NOT_FOUND"


def test_wait_follows_a_job_across_a_server_restart_and_says_why_when_it_stays_down(
    job_settings, database, folder: Path
):
    """The stream breaks when the server stops; the client opens it again on the restarted server
    (the job went back to the queue and runs again there); a server that stays away is an error."""
    import threading

    from tests.live import live_app

    image_folder(folder, count=3)
    outcome: dict = {}
    with live_app(job_settings) as url:
        port = int(url.rsplit(":", 1)[1])
        lw = Client(url, timeout=10)
        dataset = lw.create_dataset("restarted", [str(folder)])
        job = lw.submit(
            "train",
            dataset_id=dataset["id"],
            algorithm="test-sleeper",
            parameters={"steps": 80, "step_seconds": 0.1},
        )

        def wait() -> None:
            try:
                outcome["job"] = job.wait(timeout=120, poll_seconds=0.2, reconnect_seconds=60)
            except LabelwiseError as exc:  # pragma: no cover - reported below
                outcome["error"] = exc

        waiter = threading.Thread(target=wait)
        waiter.start()
        deadline = time.monotonic() + 30
        while job.state != "running" and time.monotonic() < deadline:
            time.sleep(0.05)  # the waiter updates job.data from the stream
        assert job.state == "running"
    # stopped with the stream open; a new server on the same port and database
    assert waiter.is_alive(), outcome  # the stop cut the stream (the job needs 8 s)
    with live_app(job_settings, port=port):
        waiter.join(90)
    assert not waiter.is_alive() and "error" not in outcome, outcome
    assert outcome["job"].state == "succeeded" and job.followed_by == "events"
    assert job.data["attempt"] >= 1

    with live_app(job_settings, port=port):
        again = lw.submit(
            "train",
            dataset_id=dataset["id"],
            algorithm="test-sleeper",
            parameters={"steps": 200, "step_seconds": 0.1},
        )
        waiter = threading.Thread(target=lambda: outcome.update(gone=_wait_error(again)))
        waiter.start()
        time.sleep(1.0)
    started = time.monotonic()
    waiter.join(60)
    assert not waiter.is_alive()
    gone = outcome["gone"]
    assert gone is not None and gone.code == "UNREACHABLE" and "did not come back in 2 s" in gone.message
    assert f"127.0.0.1:{port}/api/v1/jobs/{again.id}/events" in gone.message  # which server it tried
    assert time.monotonic() - started < 30  # given up after reconnect_seconds, not hung
    lw.close()


def _wait_error(job) -> LabelwiseError | None:
    try:
        job.wait(timeout=120, poll_seconds=0.2, reconnect_seconds=2)
    except LabelwiseError as exc:
        return exc
    return None


def test_items_filters_and_the_status_of_unreadable_items(client: Client, folder: Path):
    image_folder(folder, count=3)
    (folder / "zz_broken.png").write_bytes(b"not an image at all")
    dataset = client.create_dataset("with-a-broken-file", [str(folder)])
    everything = client.items(dataset).to_pandas()
    assert len(everything) == 4 and everything["id"].tolist() == sorted(everything["id"])  # position order
    broken = everything[everything["path"].str.endswith("zz_broken.png")]
    assert broken["status"].tolist() != ["ok"] and (everything["status"] == "ok").sum() == 3
    client.add_class(dataset, "cat")
    client.tag(dataset, [int(everything["id"][0])], "cat")
    assert [r["labels"] for r in client.items(dataset, filter="labeled")] == [["cat"]]
    assert len(client.items(dataset, filter="unlabeled")) == 3
    assert [r["path"] for r in client.items(dataset, filter="unreadable")] == broken["path"].tolist()
    with pytest.raises(LabelwiseError) as bad:
        client.items(dataset, filter="nonsense")
    assert bad.value.code == "INVALID"


def test_datasets_have_the_same_columns_with_none_and_with_some(client: Client, folder: Path):
    """A script's table of datasets has one shape, whether the server holds datasets or not: the
    columns of REST's DatasetOut, in a fixed order."""
    import json

    document = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())
    described = document["components"]["schemas"]["DatasetOut"]["properties"]
    empty = client.datasets()
    assert len(empty) == 0
    image_folder(folder, count=3)
    client.create_dataset("shape", [str(folder)])
    some = client.datasets()
    assert empty.columns == some.columns
    assert set(some.columns) == set(some[0]) == set(described)


def test_the_filters_rest_takes_are_the_clients_too(client: Client, dataset, tmp_path: Path):
    """``events`` by tagger, kind and time; ``models`` by kind and state; ``export`` without the
    unlabeled items; ``similar`` with no query item is the client's clear INVALID, not the
    server's "missing parameter"."""
    import csv

    ids = [row["id"] for row in client.items(dataset)]
    client.add_class(dataset, "cat")
    first = client.tag(dataset, ids[:2], "cat")
    between = datetime.now(UTC)
    client.tag(dataset, ids[1:2], None)
    with Client(client.url, tagger="someone-else", timeout=30) as other:
        other.tag(dataset, ids[3:4], "cat")
    assert [e["tagger"] for e in client.events(dataset, tagger="someone-else")] == ["someone-else"]
    assert [e["id"] for e in client.events(dataset, until=between)] == [first["id"]]
    assert len(client.events(dataset, since=between)) == 2
    assert list(client.events(dataset, kind="undo")) == []

    assert client.models(dataset, kind="classifier") == [] and client.models(dataset, state="ready") == []

    everything = client.export(dataset, tmp_path / "all.csv")
    labeled = client.export(dataset, tmp_path / "labeled.csv", unlabeled=False)
    rows = list(csv.DictReader(labeled.read_text().splitlines()))
    assert sorted(int(r["item_id"]) for r in rows) == [ids[0], ids[3]]
    assert len(list(csv.DictReader(everything.read_text().splitlines()))) == len(ids)

    with pytest.raises(LabelwiseError) as nothing:
        client.similar(dataset, 1, [])
    assert nothing.value.code == "INVALID" and "at least one query item" in nothing.value.message
