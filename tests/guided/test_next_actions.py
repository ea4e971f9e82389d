"""The next-best-action queue (issue 18) through REST, on real jobs of test algorithms: which
suggestion appears in which situation, its ranking, ``needs`` for bad input, and accepting (one
event per batch naming its model, 409 for the second of two users, jobs queued as jobs)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tests.guided.cluster_features
import tests.guided.trust_classifiers
import tests.jobs.sleeper  # noqa: F401  (registers a test algorithm that fails when told)
from backend.cli import main
from backend.settings import Settings, get_settings
from tests.helpers.cli import env_of
from tests.helpers.graphql import gql, gql_error
from tests.helpers.guided import (
    API,
    accept,
    add_class,
    assert_ranked,
    events,
    feature_dir,
    item_ids,
    kinds,
    of_kind,
    oracle,
    queue,
    run_job,
    tag,
)
from tests.helpers.jobs import CNN_TRAINING_SECONDS, follow_up, make_dataset, wait_for, wait_until
from tests.html import by_id, parse, text_of


async def test_an_empty_dataset_says_what_it_needs_and_suggests_the_first_steps(server, dataset):
    found = await queue(server, dataset.id)
    assert found["dataset_id"] == dataset.id
    assert found["stopping"]["model_id"] is None and found["stopping"]["unlabeled"] == 30
    assert any("two label classes" in n for n in found["needs"])
    assert any("train a feature extractor" in n for n in found["needs"])
    assert "train_extractor" in kinds(found) and "add_classes" in kinds(found)
    assert "label_items" not in kinds(found)  # nothing to label with yet

    a = await add_class(server, dataset.id, "a")
    found = await queue(server, dataset.id)
    assert any("second label class" in n for n in found["needs"])
    await add_class(server, dataset.id, "b")
    found = await queue(server, dataset.id)
    assert not any("label class" in n for n in found["needs"])
    spread = of_kind(found, "label_items")[0]  # no features: a spread sample
    ids = await item_ids(server, dataset.id)
    assert len(spread["item_ids"]) == 10 and set(spread["item_ids"]) <= set(ids)
    assert spread["item_ids"][0] == ids[0] and spread["item_ids"][-1] == ids[-1]
    assert spread["expected_labels"] == spread["expected_actions"] == 10
    assert_ranked(found)
    # carried out by labeling, not by accepting
    response = await accept(server, dataset.id, {"key": spread["key"]})
    assert response.status_code == 400 and "one by one" in response.text
    assert a


async def test_accepting_a_job_suggestion_queues_a_normal_job(server, dataset):
    found = await queue(server, dataset.id)
    train = of_kind(found, "train_extractor")[0]
    assert train["params"]["algorithm"] and train["item_ids"] == []
    response = await accept(server, dataset.id, {"key": train["key"]})
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["labeled"] == 0 and result["batch_id"] is None and len(result["job_ids"]) == 1
    job = (await server.get(f"{API}/jobs/{result['job_ids'][0]}")).json()
    assert job["kind"] == "train" and job["algorithm"] == train["params"]["algorithm"]
    assert job["dataset_id"] == dataset.id and job["submitted_by"]
    # a normal job: visible, cancellable; while it trains the queue does not ask for another, and a
    # second user accepting the same suggestion gets a conflict, not a second job
    assert "train_extractor" not in kinds(await queue(server, dataset.id))
    again = await accept(server, dataset.id, {"key": train["key"]})
    assert again.status_code == 409 and f"job {job['id']}" in again.json()["error"]["message"]
    assert (await server.post(f"{API}/jobs/{job['id']}/cancel")).status_code in (200, 201, 202)
    await wait_for(server, job["id"])

    # trained, no vectors yet: the next step is its inference, one click away
    trained = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"})
    found = await queue(server, dataset.id)
    infer = of_kind(found, "run_inference")[0]
    assert infer["model_id"] == trained["model_id"]
    response = await accept(server, dataset.id, {"key": infer["key"]})
    job = await wait_for(server, response.json()["job_ids"][0])
    assert job["kind"] == "infer" and job["state"] == "succeeded"
    assert "run_inference" not in kinds(await queue(server, dataset.id))


async def test_a_training_accepted_from_the_queue_runs_its_inference_by_itself(server, dataset):
    """One click, one action: the training is chained, so the server queues its inference on
    success although the dataset does not keep models fresh; the queue never asks for it."""
    train = of_kind(await queue(server, dataset.id), "train_extractor")[0]
    response = await accept(server, dataset.id, {"key": train["key"]})
    assert response.status_code == 201, response.text
    # a generous deadline for each wait (the training, the ticker's rounds, the inference): they
    # take seconds, but minutes on a loaded machine (CNN_TRAINING_SECONDS)
    wait = CNN_TRAINING_SECONDS
    trained = await wait_for(server, response.json()["job_ids"][0], timeout=wait)
    assert trained["state"] == "succeeded" and trained["chain"] is True
    infer = await follow_up(server, trained["id"], dataset.id, timeout=wait)
    assert (infer["kind"], infer["model_id"], infer["chain"]) == ("infer", trained["model_id"], True)
    assert infer["submitted_by"] == trained["submitted_by"]  # the person's click, not the switch
    # its log names the click as the cause, not the switch that is off ("keep models fresh: ...")
    note = f"train and apply: queued infer job #{infer['id']}"

    async def logged() -> list[str]:
        lines = [line["message"] for line in (await server.get(f"{API}/jobs/{trained['id']}/log")).json()]
        return lines if note in lines else []

    assert not [line for line in await wait_until(logged, wait, note) if "keep models fresh" in line]
    caused_by = text_of(by_id(parse((await server.get(f"/jobs/{infer['id']}")).text), "caused-by"))
    assert "train and apply" in caused_by and "keep models fresh" not in caused_by
    assert (await wait_for(server, infer["id"], timeout=wait))["state"] == "succeeded"
    found = await queue(server, dataset.id)
    assert "run_inference" not in kinds(found) or all(
        s["model_id"] != trained["model_id"] for s in of_kind(found, "run_inference")
    )
    # a job submitted by hand is not chained: nothing follows it
    by_hand = await run_job(
        server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"}, timeout=wait
    )
    assert by_hand["chain"] is False
    # a round of the runtime's follow-ups after it finished, for sure (a fixed sleep may see no
    # tick on a loaded machine): the ticker's own call, run here
    runtime = server.app.state.job_runtime
    await asyncio.to_thread(runtime.keep_models_fresh)
    jobs = (await server.get(f"{API}/jobs", params={"dataset_id": dataset.id})).json()["jobs"]
    assert not [j for j in jobs if j["caused_by_job_id"] == by_hand["id"]]


async def features(client: Any, dataset_id: int) -> int:
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-clusters"})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


async def test_features_give_diverse_items_then_similarity_batches(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    model_id = await features(server, dataset.id)
    found = await queue(server, dataset.id)
    first = of_kind(found, "label_items")[0]
    assert "k-means" in first["reason"] and len(set(first["item_ids"])) == 10
    assert first["model_id"] == model_id
    position = {item: i for i, item in enumerate(ids)}
    assert {position[i] % 3 for i in first["item_ids"]} == {0, 1, 2}  # every group comes up
    assert "similarity_batch" not in kinds(found)

    for i in range(8):  # the groups' rule: a, b, c, a, b, ...
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    found = await queue(server, dataset.id)
    batches = of_kind(found, "similarity_batch")
    assert {s["label_id"] for s in batches} == set(classes)
    for s in batches:
        assert s["model_id"] == model_id and 0.75 <= s["expected_precision"] <= 1
        assert not set(s["item_ids"]) & set(ids[:8])  # unlabeled items only
        assert set(s["params"]["query_item_ids"]) <= set(ids[:8])
        assert s["expected_actions"] >= 1
        group = classes.index(s["label_id"])
        assert all(position[i] % 3 == group for i in s["item_ids"][:5])  # nearest first
    then = of_kind(found, "label_items")[0]
    assert "k-center" in then["reason"] and not set(then["item_ids"]) & set(ids[:8])
    assert_ranked(found)

    a = classes[0]
    batch = batches[0]
    keep = batch["item_ids"][:3]
    response = await accept(server, dataset.id, {"key": batch["key"], "item_ids": keep})
    assert response.status_code == 201, response.text
    assert response.json()["labeled"] == 3
    event = (await events(server, dataset.id))[0]
    assert event["id"] == response.json()["batch_id"] and event["kind"] == "similarity"
    assert event["model_id"] == model_id and event["tag_count"] == 3
    assert a in classes
    # an item outside the suggestion is refused, nothing labeled
    found = await queue(server, dataset.id)
    again = of_kind(found, "similarity_batch")[0]
    bad = await accept(server, dataset.id, {"key": again["key"], "item_ids": [ids[0]]})
    assert bad.status_code == 400 and "not in this suggestion" in bad.text


async def test_probability_batches_accept_once_and_the_second_user_gets_409(server, dataset):
    ids, classes, model_id = await oracle(server, dataset.id)
    found = await queue(server, dataset.id)
    batches = of_kind(found, "probability_batch")
    assert {s["label_id"] for s in batches} == set(classes)
    assert "similarity_batch" not in kinds(found)  # pages only for classes no batch serves
    assert_ranked(found)
    best = batches[0]
    assert best["model_id"] == model_id and best["threshold"] >= 0.5
    assert "validation.npz" in best["reason"] and best["params"]["support"] > 0
    assert not set(best["item_ids"]) & set(ids[:12])
    position = {item: i for i, item in enumerate(ids)}
    assert all(position[i] % 3 == classes.index(best["label_id"]) for i in best["item_ids"])

    first = await accept(server, dataset.id, {"key": best["key"]})
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["labeled"] == len(best["item_ids"]) and result["job_ids"] == []
    event = (await events(server, dataset.id))[0]
    assert event["id"] == result["batch_id"] and event["kind"] == "probability"
    assert event["model_id"] == model_id and event["tag_count"] == len(best["item_ids"])
    # a second user accepting the same suggestion: a conflict with the count, no double labels
    second = await accept(server, dataset.id, {"key": best["key"]})
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert error["code"] == "CONFLICT" and str(len(best["item_ids"])) in error["message"]
    assert (await events(server, dataset.id))[0]["id"] == result["batch_id"]
    # the stopping estimate rests on the classifier; auto-labeling the rest is the last step
    found = await queue(server, dataset.id)
    assert found["stopping"]["model_id"] == model_id
    rest = of_kind(found, "auto_label_rest")
    if rest:  # present when items remain at p >= the estimate's threshold
        assert rest[0]["expected_precision"] == found["stopping"]["expected_accuracy"]
    # a tampered key is refused
    bad = await accept(server, dataset.id, {"key": best["key"][:-2] + "00"})
    assert bad.status_code == 400


async def test_retrain_review_and_needs_for_deleted_classes_and_failing_jobs(server, dataset):
    ids, classes, model_id = await oracle(server, dataset.id, wrong=(10,))
    for i in range(12, 24):  # labels double since the classifier: retrain, with the gain said
        await tag(server, dataset.id, [ids[i]], classes[(i + (1 if i == 13 else 0)) % 3])
    found = await queue(server, dataset.id)
    retrain = of_kind(found, "retrain")[0]
    assert "100%" in retrain["title"] and "expected gain" in retrain["reason"]
    assert retrain["params"]["algorithm"] == "test-oracle"
    suspects = of_kind(found, "review_suspects")
    assert suspects and ids[10] in suspects[0]["item_ids"]  # a label it trained on, against its neighbours
    # labeled against its neighbours after the training: the model judges only labels it trained on
    assert ids[13] not in suspects[0]["item_ids"]
    response = await accept(server, dataset.id, {"key": suspects[0]["key"]})
    assert response.status_code == 400 and "review" in response.text

    failing = await server.post(
        f"{API}/jobs",
        json={
            "kind": "train",
            "dataset_id": dataset.id,
            "algorithm": "test-sleeper",
            "parameters": {"steps": 2, "step_seconds": 0, "fail_at_step": 1},
        },
    )
    assert (await wait_for(server, failing.json()["id"]))["state"] == "failed"
    response = await server.delete(f"{API}/classes/{classes[2]}")
    assert response.status_code == 200, response.text
    found = await queue(server, dataset.id)
    needs = " | ".join(found["needs"])
    assert f"job {failing.json()['id']}" in needs and "told to fail" in needs
    assert f"classifier {model_id}" in needs and "deleted" in needs
    assert "probability_batch" not in kinds(found)  # not from a model of a deleted class set
    assert of_kind(found, "retrain")[0]["model_id"] == model_id


async def test_bad_requests(server, dataset):
    assert (await server.get(f"{API}/datasets/999999/next-actions")).status_code == 404
    response = await server.get(f"{API}/datasets/{dataset.id}/next-actions", params={"limit": 0})
    assert response.status_code == 400
    assert (await accept(server, dataset.id, {"key": "nonsense"})).status_code == 400
    found = await queue(server, dataset.id)
    key = of_kind(found, "train_extractor")[0]["key"]
    assert (await accept(server, 999999, {"key": key})).status_code == 400  # another dataset's key


QUEUE = """
query($d: Int!) { nextActions(datasetId: $d, limit: 20) {
  datasetId needs stopping { modelId unlabeled autoLabelCount expectedAccuracy }
  suggestions { key kind title reason expectedLabels expectedActions expectedPrecision itemIds labelId
                modelId threshold params } } }
"""
ACCEPT = """
mutation($d: Int!, $k: String!, $items: [Int!]) {
  acceptSuggestion(datasetId: $d, key: $k, itemIds: $items) { labeled jobIds batchId skipped } }
"""


async def test_graphql_reads_the_queue_and_accepts_with_a_conflict_for_the_second(server, dataset):
    rest = await queue(server, dataset.id)
    found = (await gql(server, QUEUE, {"d": dataset.id}))["nextActions"]
    assert found["datasetId"] == dataset.id and found["needs"] == rest["needs"]
    assert [s["kind"] for s in found["suggestions"]] == kinds(rest)
    assert found["stopping"]["modelId"] is None

    ids, classes, model_id = await oracle(server, dataset.id)
    found = (await gql(server, QUEUE, {"d": dataset.id}))["nextActions"]
    batch = next(s for s in found["suggestions"] if s["kind"] == "probability_batch")
    assert batch["modelId"] == model_id and batch["expectedPrecision"] > 0.5  # 12 held-out items' bound
    keep = batch["itemIds"][:2]
    done = (await gql(server, ACCEPT, {"d": dataset.id, "k": batch["key"], "items": keep}))[
        "acceptSuggestion"
    ]
    assert done["labeled"] == 2 and done["jobIds"] == [] and done["batchId"]
    event = (await events(server, dataset.id))[0]
    assert event["id"] == done["batchId"] and event["model_id"] == model_id
    assert event["parameters"]["deselected"] == len(batch["itemIds"]) - 2
    await gql_error(
        server,
        ACCEPT,
        {"d": dataset.id, "k": batch["key"], "items": keep},
        code="CONFLICT",
        fragments=("2 of",),
    )
    # items to label one by one, each with the classifier's class: the rest accepted in one event
    label_items = next(s for s in found["suggestions"] if s["kind"] == "label_items")
    shown = label_items["params"]["predicted_label_ids"]
    assert shown == [classes[ids.index(i) % 3] for i in label_items["itemIds"]]  # the oracle's rule
    done = (await gql(server, ACCEPT, {"d": dataset.id, "k": label_items["key"]}))["acceptSuggestion"]
    labeled_before = set(keep) & set(label_items["itemIds"])
    assert done["labeled"] == len(label_items["itemIds"]) - len(labeled_before)
    assert done["skipped"] == len(labeled_before)
    event = (await events(server, dataset.id))[0]
    assert event["id"] == done["batchId"] and event["kind"] == "probability"
    assert event["model_id"] == model_id and event["parameters"]["as_predicted"] is True


@pytest.fixture
def cli(guided_settings: Settings) -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner(env=env_of(guided_settings))
    get_settings.cache_clear()


async def invoke(cli: CliRunner, args: list[str]) -> Any:
    """The command in a thread (it runs its own event loop, as from a shell)."""
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(cli.invoke, main, args)
    finally:
        get_settings.cache_clear()


async def test_cli_lists_the_queue_and_accepts_a_batch_once(cli, server, dataset):
    ids, classes, model_id = await oracle(server, dataset.id)
    shown = await invoke(cli, ["next-actions", dataset.name, "--json"])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found == await queue(server, dataset.id, limit=10)  # the REST shape, the same answer
    batch = of_kind(found, "probability_batch")[0]
    text = await invoke(cli, ["next-actions", dataset.name, "--limit", "3"])
    assert text.exit_code == 0 and f"key: {found['suggestions'][0]['key']}" in text.output
    assert found["suggestions"][0]["title"] in text.output

    keep = ",".join(str(i) for i in batch["item_ids"][:3])
    done = await invoke(cli, ["accept-suggestion", dataset.name, batch["key"], "--items", keep])
    assert done.exit_code == 0, done.output
    event = (await events(server, dataset.id))[0]
    assert f"labeled 3 items (event {event['id']})" in done.output
    left = len(batch["item_ids"]) - 3
    assert left > 0
    assert f"; {left} left out: not suggested again as that class" in done.output
    assert event["kind"] == "probability" and event["model_id"] == model_id and event["tagger"] == "cli-user"
    again = await invoke(cli, ["accept-suggestion", dataset.name, batch["key"], "--items", keep])
    assert again.exit_code == 1 and "CONFLICT" in again.output
    assert classes and ids


async def test_cli_accept_records_only_the_rejected_members_it_names(cli, server, dataset):
    """``--rejected``: of the members left out of ``--items``, only those are "not this class"
    (REST's ``rejected_item_ids``); the others are left out unjudged and offered again. REST's 400s
    on the list are usage errors here, and nothing is labeled."""
    _ids, _classes, model_id = await oracle(server, dataset.id)
    batch = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    label, members = batch["label_id"], batch["item_ids"]
    assert len(members) >= 3
    other = next(i for i in await item_ids(server, dataset.id) if i not in members)
    args = ["accept-suggestion", dataset.name, batch["key"], "--items", ",".join(map(str, members[2:]))]
    for wrong, says in (
        (f"{members[0]},{members[2]}", "both kept and rejected"),
        (f"{members[0]},{other}", "not in this suggestion"),
        ("1,x", "--rejected takes comma-separated item ids"),
    ):
        refused = await invoke(cli, [*args, "--rejected", wrong])
        assert refused.exit_code == 2 and says in refused.output, refused.output
    assert (await server.get(f"{API}/datasets/{dataset.id}/rejections")).json()["total"] == 0
    assert (await events(server, dataset.id))[0]["kind"] != "probability"  # nothing labeled

    done = await invoke(cli, [*args, "--rejected", str(members[0])])
    assert done.exit_code == 0, done.output
    assert f"labeled {len(members) - 2} items" in done.output
    assert "; 1 left out: not suggested again as that class" in done.output
    recorded = (await server.get(f"{API}/datasets/{dataset.id}/rejections")).json()["rejections"]
    assert [(r["item_id"], r["label_id"]) for r in recorded] == [(members[0], label)]
    params = {"model_id": model_id, "threshold": 0.0, "label_id": label, "limit": 100}
    page = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()
    offered = [c["item_id"] for c in page["items"]]
    assert members[1] in offered and members[0] not in offered


async def test_the_spread_sample_says_an_extractor_is_training_rather_than_to_train_one(
    guided_settings, database, dataset
):
    """While the suggested extractor trains, the queue no longer suggests training one, so the
    spread sample's reason names the running job instead of 'the suggested extractor'."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    # a server that runs no jobs: the extractor's training stays queued while the queue reads
    async with AsyncTestClient(app=create_app(guided_settings, run_jobs=False)) as idle:
        for name in ("a", "b"):
            await add_class(idle, dataset.id, name)
        before = of_kind(await queue(idle, dataset.id), "label_items")[0]
        assert "train the suggested extractor" in before["reason"]
        submitted = await idle.post(
            f"{API}/jobs", json={"kind": "train", "dataset_id": dataset.id, "algorithm": "test-sleeper"}
        )
        assert submitted.status_code == 201, submitted.text
        found = await queue(idle, dataset.id)
        assert "train_extractor" not in kinds(found)
        spread = of_kind(found, "label_items")[0]
        assert "suggested extractor" not in spread["reason"], spread["reason"]
        assert f"job #{submitted.json()['id']}" in spread["reason"] and "training" in spread["reason"]


async def test_an_unfit_classifier_gives_no_batches_and_the_queue_says_why(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    job = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-one-class"})
    await run_job(server, {"kind": "infer", "model_id": job["model_id"]})
    found = await queue(server, dataset.id)
    assert any(f"classifier {job['model_id']}" in n and "unfit" in n for n in found["needs"])
    assert "probability_batch" not in kinds(found)
    spread = of_kind(found, "label_items")[0]  # no features: unlabeled items spread over the dataset
    assert not set(spread["item_ids"]) & set(ids[:12]) and len(spread["item_ids"]) == 10
    assert "predicted_label_ids" not in spread["params"]  # an unfit classifier's classes are not shown
    response = await accept(server, dataset.id, {"key": spread["key"]})
    assert response.status_code == 400 and "one by one" in response.text


async def test_auto_label_the_rest_is_suggested_and_accepted_once(server, dataset):
    # every other item of the sure end labeled: held-out items and unlabeled ones at p >= 0.9
    ids, classes, model_id = await oracle(server, dataset.id, list(range(6, 30, 2)))
    found = await queue(server, dataset.id)
    rest = of_kind(found, "auto_label_rest")[0]
    stopping = found["stopping"]
    assert rest["model_id"] == model_id == stopping["model_id"]
    assert rest["params"]["count"] == stopping["auto_label_count"] > 0
    assert rest["threshold"] == stopping["threshold"] and rest["item_ids"] == []
    assert (await accept(server, dataset.id, {"key": rest["key"], "item_ids": [ids[-1]]})).status_code == 400
    done = await accept(server, dataset.id, {"key": rest["key"]})
    assert done.status_code == 201, done.text
    assert done.json()["labeled"] == rest["params"]["count"]
    event = (await events(server, dataset.id))[0]
    assert event["id"] == done.json()["batch_id"] and event["kind"] == "probability"
    assert event["model_id"] == model_id and event["parameters"]["auto_label_rest"] is True
    assert (await accept(server, dataset.id, {"key": rest["key"]})).status_code == 409
    assert classes


async def test_two_users_accepting_at_once_label_the_batch_once(server, dataset):
    _, _, model_id = await oracle(server, dataset.id)
    best = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    first, second = await asyncio.gather(
        accept(server, dataset.id, {"key": best["key"]}), accept(server, dataset.id, {"key": best["key"]})
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], (first.text, second.text)
    batches = [e for e in await events(server, dataset.id) if e["kind"] == "probability"]
    assert len(batches) == 1 and batches[0]["model_id"] == model_id


async def test_starting_jobs_needs_a_trainer(session, guided_settings, dataset):
    from backend.errors import Forbidden
    from backend.guided.next_actions import accept_suggestion, make_key
    from backend.labels.batches import latest_event_id
    from backend.storage.tables import Dataset

    watermark = await latest_event_id(session, dataset.id)
    for key in (
        make_key(dataset.id, watermark, "feature_report", j={}),
        make_key(dataset.id, watermark, "keep_fresh"),
    ):
        with pytest.raises(Forbidden, match="trainer"):
            await accept_suggestion(
                session,
                guided_settings,
                dataset.id,
                key,
                item_ids=None,
                label_id=None,
                tagger="x",
                role="labeler",
            )
    assert not (await session.get(Dataset, dataset.id, populate_existing=True)).keep_models_fresh


async def test_broken_saved_outputs_are_a_need_not_an_error(server, dataset, guided_settings):
    _, _, model_id = await oracle(server, dataset.id)
    infer = (await server.get(f"{API}/jobs", params={"model_id": model_id, "kind": "infer"})).json()["jobs"][
        0
    ]
    (feature_dir(guided_settings, infer) / "probabilities.npy").write_bytes(b"not numpy")
    found = await queue(server, dataset.id)
    assert any(f"model {model_id}" in n and "cannot be read" in n for n in found["needs"]), found["needs"]
    assert "probability_batch" not in kinds(found)


async def test_a_newer_unfit_classifier_leaves_the_batches_to_an_older_fit_one(server, dataset):
    _, _, fit = await oracle(server, dataset.id)
    job = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-one-class"})
    await run_job(server, {"kind": "infer", "model_id": job["model_id"]})
    found = await queue(server, dataset.id)
    assert any(f"classifier {job['model_id']}" in n and "unfit" in n for n in found["needs"])
    batches = of_kind(found, "probability_batch")
    assert batches and {s["model_id"] for s in batches} == {fit}


async def test_two_feature_models_and_labels_suggest_the_feature_report(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    await features(server, dataset.id)
    assert "feature_report" not in kinds(await queue(server, dataset.id))  # one model: nothing to compare
    await features(server, dataset.id)
    for i in range(9):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    found = await queue(server, dataset.id)
    report = of_kind(found, "feature_report")[0]
    response = await accept(server, dataset.id, {"key": report["key"]})
    assert response.status_code == 201, response.text
    job = await wait_for(server, response.json()["job_ids"][0])
    assert job["kind"] == "feature-report" and job["state"] == "succeeded", job["error"]
    assert "feature_report" not in kinds(await queue(server, dataset.id))  # done, labels not doubled
    for i in range(9, 15):  # enough labels per class for a first classifier
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    (first,) = of_kind(await queue(server, dataset.id), "retrain")  # expected labels: the report's score
    assert first["reason"].endswith("(expected labels: a prior from the feature report's score)"), first


async def test_keeping_models_fresh_runs_the_feature_report_by_itself_when_labels_double(server, dataset):
    """With the switch on, the report the queue would suggest is the server's: the first one once
    two classes hold two labels, another once the labels doubled; the queue names it a need. Off,
    the queue suggests it and the server queues nothing."""
    from tests.helpers.jobs import switch, wait_until

    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    await features(server, dataset.id)
    await features(server, dataset.id)
    for i in range(6):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    assert "feature_report" in kinds(await queue(server, dataset.id))
    await switch(server, dataset.id, True)

    async def reports() -> list[dict]:
        listed = await server.get(f"{API}/jobs", params={"dataset_id": dataset.id, "kind": "feature-report"})
        return listed.json()["jobs"]

    (first,) = await wait_until(reports, what="the server's first report")
    assert first["submitted_by"] == "keep-models-fresh"
    assert (await wait_for(server, first["id"]))["state"] == "succeeded", first
    found = await queue(server, dataset.id)
    assert "feature_report" not in kinds(found) and not any("feature report" in n for n in found["needs"])
    for i in range(6, 11):  # 11 labels: not yet twice the 6 it saw
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    await asyncio.sleep(1.0)  # a few rounds of the server's ticker
    assert len(await reports()) == 1
    found = await queue(server, dataset.id)
    assert "feature_report" not in kinds(found) and found["server_steps_due"] is False
    await tag(server, dataset.id, [ids[11]], classes[2])  # 12: doubled

    async def second() -> list[dict]:
        return [j for j in await reports() if j["id"] != first["id"]]

    (again,) = await wait_until(second, what="the report of doubled labels")
    assert again["submitted_by"] == "keep-models-fresh"
    assert (await wait_for(server, again["id"]))["state"] == "succeeded"
    await switch(server, dataset.id, False)
    for i in range(12, 24):  # doubled again, the switch off: a suggestion, not a job
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    await asyncio.sleep(1.0)
    assert len(await reports()) == 2
    assert "feature_report" in kinds(await queue(server, dataset.id))


async def test_a_report_that_left_out_small_classes_is_not_suggested_again_on_the_same_labels(
    server, dataset
):
    """Ten labels of which the report could score four (classes of one item are left out) are
    not "doubled" since it: the same report is not asked for again (a study session ran it thrice)."""
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in "abcdefgh"]
    await features(server, dataset.id)
    await features(server, dataset.id)
    for i, c in enumerate([0, 0, 1, 1, 2, 3, 4, 5, 6, 7]):
        await tag(server, dataset.id, [ids[i]], classes[c])
    report = of_kind(await queue(server, dataset.id), "feature_report")[0]
    job = await wait_for(
        server, (await accept(server, dataset.id, {"key": report["key"]})).json()["job_ids"][0]
    )
    assert job["state"] == "succeeded", job["error"]
    summary = (await server.get(f"{API}/datasets/{dataset.id}/feature-report")).json()
    assert summary["labeled_items"] == 4  # what it scored: below half of the ten labels
    assert "feature_report" not in kinds(await queue(server, dataset.id))
    for i in range(10, 20):  # twice the labels it saw: worth a new report
        await tag(server, dataset.id, [ids[i]], classes[i % 2])
    assert "feature_report" in kinds(await queue(server, dataset.id))


async def test_big_datasets_get_the_index_and_labels_a_first_classifier(server, dataset, monkeypatch):
    import backend.guided.next_actions as queue_module

    monkeypatch.setattr(queue_module, "EXACT_THRESHOLD", 10)  # 30 items count as big here
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b")]
    model_id = await features(server, dataset.id)
    found = await queue(server, dataset.id)
    index = of_kind(found, "build_index")[0]
    assert index["model_id"] == model_id
    assert "retrain" not in kinds(found)  # too few labels for a classifier yet
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 2])
    found = await queue(server, dataset.id)
    first = of_kind(found, "retrain")[0]
    assert first["title"] == "Train a classifier on the best features"
    assert first["params"]["algorithm"] == "vector_classifier" and first["params"]["features"] == model_id
    response = await accept(server, dataset.id, {"key": index["key"]})  # labels since: a job still fits
    assert response.status_code == 201, response.text
    job = await wait_for(server, response.json()["job_ids"][0])
    assert job["kind"] == "build-index" and job["model_id"] == model_id and job["state"] == "succeeded"
    assert "build_index" not in kinds(await queue(server, dataset.id))


async def test_items_to_label_one_by_one_show_the_classifiers_class_and_the_rest_is_one_event(
    server, dataset, guided_settings
):
    """A person presses a key where the classifier is wrong and accepts the rest: those keep the
    key's class, the others take the class shown, as one event naming the classifier. Items
    labeled meanwhile, a class given, or classes that changed under the suggestion are refused."""
    ids, classes, model_id = await oracle(server, dataset.id)
    items = of_kind(await queue(server, dataset.id), "label_items")[0]
    shown = items["params"]["predicted_label_ids"]
    assert items["params"]["classifier_id"] == model_id and len(shown) == len(items["item_ids"]) > 2
    assert shown == [classes[ids.index(i) % 3] for i in items["item_ids"]]
    first, second = items["item_ids"][:2]
    wrong_for_first = next(c for c in classes if c != shown[0])

    response = await accept(server, dataset.id, {"key": items["key"], "label_id": classes[0]})
    assert response.status_code == 400 and "class the classifier showed" in response.text
    response = await accept(server, dataset.id, {"key": items["key"], "item_ids": [ids[0]]})
    assert response.status_code == 400 and "not in this suggestion" in response.text

    await tag(server, dataset.id, [first], wrong_for_first)  # the key pressed where it was "wrong"
    response = await accept(server, dataset.id, {"key": items["key"], "item_ids": [first, second]})
    assert response.status_code == 409 and "labeled meanwhile" in response.text
    response = await accept(server, dataset.id, {"key": items["key"]})
    assert response.status_code == 201, response.text
    done = response.json()
    assert done["labeled"] == len(shown) - 1 and done["skipped"] == 1
    labels = {
        row["item_id"]: row["label_ids"]
        for row in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[first] == [wrong_for_first]
    assert all(labels[i] == [c] for i, c in zip(items["item_ids"][1:], shown[1:], strict=True))
    event = (await events(server, dataset.id))[0]
    assert event["kind"] == "probability" and event["model_id"] == model_id
    assert event["tag_count"] == len(shown) - 1 and event["parameters"]["skipped_labeled"] == 1

    # the classifier's outputs changed since a suggestion was shown (its inference ran again)
    items = of_kind(await queue(server, dataset.id), "label_items")[0]
    infer = (await server.get(f"{API}/jobs", params={"model_id": model_id, "kind": "infer"})).json()["jobs"][
        0
    ]
    path = feature_dir(guided_settings, infer) / "probabilities.npy"
    probabilities = np.load(path)
    np.save(path, probabilities[:, ::-1].copy())  # every class moved: c -> the reverse order
    response = await accept(server, dataset.id, {"key": items["key"]})
    assert response.status_code == 409 and "changed" in response.text
    assert (await events(server, dataset.id))[0]["id"] == event["id"]  # nothing written


async def test_a_predicted_batch_accepted_twice_is_a_conflict_as_a_probability_batch_is(server, dataset):
    """The second accept of a page of several classes' batches finds every item labeled: 409 with the
    probability batch's reason, at REST and GraphQL alike, and nothing recorded."""
    await oracle(server, dataset.id)
    mixed = of_kind(await queue(server, dataset.id), "predicted_batch")[0]
    first = await accept(server, dataset.id, {"key": mixed["key"]})
    assert first.status_code == 201 and first.json()["labeled"] == len(mixed["item_ids"]), first.text
    last = (await events(server, dataset.id))[0]["id"]
    again = await accept(server, dataset.id, {"key": mixed["key"]})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"]["reason"] == "batch_changed"
    error = await gql_error(server, ACCEPT, {"d": dataset.id, "k": mixed["key"]}, code="CONFLICT")
    assert error["extensions"]["reason"] == "batch_changed"
    assert (await events(server, dataset.id))[0]["id"] == last  # nothing written


async def test_several_classes_batches_share_one_page_that_shows_each_items_class(server, dataset):
    """The top of each class's probability batch on one page, each item with its batch's class:
    a key where it is wrong, the rest accepted in one click as one event naming the classifier,
    promised what their batches promised; a second accept of the same items is a conflict."""
    ids, classes, model_id = await oracle(server, dataset.id)
    found = await queue(server, dataset.id)
    assert_ranked(found)
    mixed = of_kind(found, "predicted_batch")[0]
    batches = {b["label_id"]: b for b in of_kind(found, "probability_batch")}
    items, shown = mixed["item_ids"], mixed["params"]["predicted_label_ids"]
    assert mixed["model_id"] == mixed["params"]["classifier_id"] == model_id and mixed["label_id"] is None
    assert len(set(shown)) >= 2 and len(items) == len(shown) <= 96
    for item, label_id in zip(items, shown, strict=True):
        assert item in batches[label_id]["item_ids"]  # from its class's batch...
    for label_id in set(shown):  # ...its top part, in order
        mine = [i for i, c in zip(items, shown, strict=True) if c == label_id]
        assert mine == batches[label_id]["item_ids"][: len(mine)]
    assert shown == [classes[ids.index(i) % 3] for i in items]  # the oracle's classes
    promised = sum(batches[c]["expected_precision"] for c in shown) / len(shown)
    assert mixed["expected_precision"] == pytest.approx(promised, abs=1e-3)
    assert mixed["expected_actions"] == pytest.approx(1 + len(items) * (1 - promised), abs=0.02)

    response = await accept(server, dataset.id, {"key": mixed["key"], "label_id": classes[0]})
    assert response.status_code == 400 and "class the classifier showed" in response.text
    first, rest = items[0], items[1:]
    wrong_for_first = next(c for c in classes if c != shown[0])
    await tag(server, dataset.id, [first], wrong_for_first)  # a key where the class shown is "wrong"
    response = await accept(server, dataset.id, {"key": mixed["key"], "item_ids": rest})
    assert response.status_code == 201, response.text
    assert response.json()["labeled"] == len(rest)
    event = (await events(server, dataset.id))[0]
    assert event["kind"] == "probability" and event["model_id"] == model_id
    assert event["parameters"]["suggestion"] == "predicted_batch" and event["parameters"]["as_predicted"]
    assert event["tag_count"] == len(rest)
    labels = {
        row["item_id"]: row["label_ids"]
        for row in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[first] == [wrong_for_first]
    assert all(labels[i] == [c] for i, c in zip(rest, shown[1:], strict=True))
    again = await accept(server, dataset.id, {"key": mixed["key"], "item_ids": rest})
    assert again.status_code == 409 and "labeled meanwhile" in again.text
    assert (await events(server, dataset.id))[0]["id"] == event["id"]


async def test_a_flat_heads_batch_is_the_items_it_gives_the_class_first(server, dataset, guided_settings):
    """Under a threshold below one half (a flat head of many classes: 0.17 on the cell cycle's
    seven), another class's items score above it too; the batch holds only the items the
    classifier gives its class first, as the queue showed them. Before, accepting the items shown
    was refused ("not in this suggestion") and accepting the whole batch labeled what was not shown."""
    ids, classes, model_id = await oracle(server, dataset.id)
    infer = (await server.get(f"{API}/jobs", params={"model_id": model_id, "kind": "infer"})).json()["jobs"][
        0
    ]
    directory = feature_dir(guided_settings, infer)
    rows = {int(item): row for row, item in enumerate(np.load(directory / "item_ids.npy"))}
    flat = np.zeros((len(rows), 3), np.float32)
    for position, item in enumerate(ids):  # its class first, the next class close behind
        top = 0.40 + 0.10 * position / (len(ids) - 1)
        flat[rows[item], position % 3] = top
        flat[rows[item], (position + 1) % 3] = top - 0.02
        flat[rows[item], (position + 2) % 3] = 1.02 - 2 * top
    np.save(directory / "probabilities.npy", flat)

    position = {item: i for i, item in enumerate(ids)}

    async def labeled() -> set[int]:
        rows = (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
        return {row["item_id"] for row in rows if row["label_ids"] and position[row["item_id"]] >= 12}

    for whole in (False, True):  # the items shown, then (another class) the whole batch
        found = of_kind(await queue(server, dataset.id), "probability_batch")
        batch = next(b for b in found if b["threshold"] < 0.45)
        column = classes.index(batch["label_id"])
        assert all(position[i] % 3 == column for i in batch["item_ids"])
        before = await labeled()
        # the previous class's items above the threshold: what the old rule let in
        assert whole or any(
            position[i] % 3 == (column - 1) % 3 and flat[rows[i], column] >= batch["threshold"]
            for i in ids[12:]
            if i not in before
        )
        body = {"key": batch["key"]} if whole else {"key": batch["key"], "item_ids": batch["item_ids"]}
        response = await accept(server, dataset.id, body)
        assert response.status_code == 201, response.text
        assert response.json()["labeled"] == len(batch["item_ids"])
        assert await labeled() - before == set(batch["item_ids"])


async def test_labels_given_since_the_training_temper_the_promise_of_that_class(server, dataset):
    """Items labeled after the classifier's training are held out from it too: when its top items
    of a class turned out to be another class, the class's next batch promises less than when
    they turned out right (before, both promised alike, from the out-of-fold items alone: a
    cell-cycle batch promised 0.97 held 0.33)."""
    ids, classes, _ = await oracle(server, dataset.id)
    predicted_a = [ids[p] for p in range(12, 30) if p % 3 == 0]  # unlabeled, class a's column first
    top = predicted_a[-2:]  # its two highest probabilities

    async def promise_of_a() -> dict[str, Any] | None:
        found = of_kind(await queue(server, dataset.id), "probability_batch")
        return next((b for b in found if b["label_id"] == classes[0]), None)

    await tag(server, dataset.id, top, classes[0])  # right
    right = await promise_of_a()
    assert right is not None and set(right["item_ids"]) <= set(predicted_a[:-2])
    assert "or labeled since the training" in right["reason"]
    await tag(server, dataset.id, top, classes[1])  # the same items, another class: wrong
    wrong = await promise_of_a()
    assert wrong is None or (
        wrong["item_ids"] == right["item_ids"]
        and wrong["expected_precision"] < right["expected_precision"] - 0.1
    ), (right, wrong)


async def test_a_due_retrain_counts_the_wrong_items_its_stale_batches_expect(
    server, session, guided_settings, folder
):
    """A classifier trained on 12 labels, half the labels since against it: the retrain's expected
    gain counts the wrong items its stale batches expect too, fewer by the shrink of 1/sqrt(labels)
    (before, only the items no batch covers counted: on the cell cycle a retrain never outranked
    a stale classifier's pages while the labels tripled)."""
    big = await make_dataset(session, guided_settings, folder / "big", count=90)
    ids, classes, _ = await oracle(server, big.id)
    for i in range(12, 36):  # labels triple, every second one against the oracle's class
        await tag(server, big.id, [ids[i]], classes[(i + i % 2) % 3])
    found = await queue(server, big.id, limit=50)
    batches = of_kind(found, "probability_batch")
    assert batches
    wrong = sum(len(b["item_ids"]) * (1 - b["expected_precision"]) for b in batches)
    uncovered = 90 - 36 - sum(len(b["item_ids"]) for b in batches)
    retrain = of_kind(found, "retrain")[0]
    gain = (uncovered + wrong) * (1 - (12 / 36) ** 0.5)
    assert wrong > 2 and f"expected gain about {gain:.0f} more items" in retrain["reason"], (
        wrong,
        uncovered,
        retrain,
    )
    assert round(uncovered * (1 - (12 / 36) ** 0.5)) != round(gain)  # the wrong items count
    # ranked at that gain, or above what labeling the doubtful items with their classes shown yields
    by_hand = of_kind(found, "label_items")[0]
    floor = 1.05 * retrain["expected_actions"] * by_hand["expected_labels"] / by_hand["expected_actions"]
    assert retrain["expected_labels"] == pytest.approx(max(gain, floor), rel=0.005)  # fields in 2 decimals


async def test_keeping_models_fresh_the_queue_leaves_a_due_retrain_to_the_server(
    guided_settings, database, dataset
):
    """With the switch on, a retrain that the server's next round queues by itself is a need the
    queue names, not a suggestion (accepting it too would train twice); where the dataset's set
    growth is not reached yet, the queue suggests it at its own rule as before."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app
    from tests.helpers.jobs import serve, switch

    async with serve(guided_settings) as server:
        ids, classes, model_id = await oracle(server, dataset.id)
    # a server that runs no jobs on the same database: no ticker retrains before the queue reads
    async with AsyncTestClient(app=create_app(guided_settings, run_jobs=False)) as idle:
        for i in range(12, 18):  # labels grew 50 % since the classifier
            await tag(idle, dataset.id, [ids[i]], classes[i % 3])
        assert of_kind(await queue(idle, dataset.id), "retrain")
        await switch(idle, dataset.id, True, growth=0.5)
        found = await queue(idle, dataset.id)
        assert not of_kind(found, "retrain"), found
        assert any(f"since classifier {model_id}" in n and "by itself" in n for n in found["needs"]), found
        await switch(idle, dataset.id, True, growth=1.0)  # the server waits for labels to double
        assert of_kind(await queue(idle, dataset.id), "retrain")


async def test_keep_models_fresh_is_not_offered_again_while_the_switch_is_on(
    guided_settings, database, dataset
):
    """A walk cancelled the server's retrain (a canceled step stops the chain): the queue then
    offered "Keep models fresh: retrain now and each time the labels grow 20%" though the switch
    was on. With the switch on it offers the retrain alone."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app
    from tests.helpers.jobs import serve

    async with serve(guided_settings) as server:
        ids, classes, _model_id = await oracle(server, dataset.id)
    async with AsyncTestClient(app=create_app(guided_settings, run_jobs=False)) as idle:
        on = await idle.put(f"{API}/datasets/{dataset.id}/keep-fresh", json={"keep_models_fresh": True})
        assert on.status_code == 200, on.text
        step = await idle.post(
            f"{API}/jobs", json={"kind": "train", "dataset_id": dataset.id, "algorithm": "test-oracle"}
        )
        assert step.status_code == 201, step.text
        canceled = await idle.post(f"{API}/jobs/{step.json()['id']}/cancel")
        assert canceled.status_code in (200, 201), canceled.text
        for i in range(12, 15):  # labels grew 25 %: a retrain is due
            await tag(idle, dataset.id, [ids[i]], classes[i % 3])
        found = await queue(idle, dataset.id, limit=50)
        assert "retrain" in kinds(found), kinds(found)
        assert "keep_fresh" not in kinds(found), [s["title"] for s in found["suggestions"]]


async def test_keep_models_fresh_is_suggested_beside_a_due_retrain_and_takes_the_retrains_over(
    guided_settings, database, dataset
):
    """A due retrain comes with "keep models fresh" ranked just above it (the same retrain now, and
    each later one without a click); accepting it turns the dataset's switch on and queues that
    retrain at once; from then on the queue suggests neither, and the next retrain is the server's.
    The answer says what the server is doing (``running_job_ids``, ``server_steps_due``), so a
    script can wait for fresh models."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app
    from tests.helpers.jobs import serve, wait_until
    from tests.helpers.pages import csrf_headers

    async with serve(guided_settings) as server:
        ids, classes, model_id = await oracle(server, dataset.id)
    # a server that runs no jobs on the same database: nothing retrains before the queue reads
    async with AsyncTestClient(app=create_app(guided_settings, run_jobs=False)) as idle:
        for i in range(12, 15):  # labels grew 25 %: due on the server's rule (20 %) too
            await tag(idle, dataset.id, [ids[i]], classes[i % 3])
        found = await queue(idle, dataset.id, limit=50)
        order = kinds(found)
        fresh, retrain = of_kind(found, "keep_fresh")[0], of_kind(found, "retrain")[0]
        assert order.index("keep_fresh") + 1 == order.index("retrain"), order
        assert (fresh["expected_labels"], fresh["expected_actions"], fresh["model_id"]) == (
            retrain["expected_labels"],
            retrain["expected_actions"],
            model_id,
        )
        assert "20%" in fresh["title"] and "feature report" in fresh["reason"]
        assert found["running_job_ids"] == [] and found["server_steps_due"] is False
        refused = await accept(idle, dataset.id, {"key": fresh["key"], "item_ids": [ids[-1]]})
        assert refused.status_code == 400 and "switch" in refused.text
        assert (await idle.get(f"{API}/datasets/{dataset.id}/keep-fresh")).json()[
            "keep_models_fresh"
        ] is False
    async with serve(guided_settings) as server:
        page = await server.get(f"/datasets/{dataset.id}/next")
        assert "keep models fresh" in page.text and fresh["title"] in page.text
        headers = await csrf_headers(server, f"/datasets/{dataset.id}/next")
        answer = await server.post(
            f"/datasets/{dataset.id}/next/accept", data={"key": fresh["key"]}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        notice = text_of(by_id(parse(answer.text), "next-notice"))
        assert "Models are kept fresh from now on" in notice, notice
        job_id = int(notice.rsplit("#", 1)[-1].split()[0].rstrip("."))
        again = await accept(server, dataset.id, {"key": fresh["key"]})  # a second user: no second retrain
        assert again.status_code == 201 and again.json()["job_ids"] == [], again.text
        job = await wait_for(server, job_id)
        assert (job["kind"], job["algorithm"], job["submitted_by"], job["state"]) == (
            "train",
            "test-oracle",
            "keep-models-fresh",
            "succeeded",
        ), job
        assert (await server.get(f"{API}/datasets/{dataset.id}/keep-fresh")).json()[
            "keep_models_fresh"
        ] is True
        infer = await follow_up(server, job_id, dataset.id)
        assert (await wait_for(server, infer["id"]))["state"] == "succeeded"
        found = await queue(server, dataset.id, limit=50)
        assert not {"keep_fresh", "retrain"} & set(kinds(found)), kinds(found)
        for i in range(15, 18):  # +20 % again: the server's retrain, no suggestion
            await tag(server, dataset.id, [ids[i]], classes[i % 3])

        async def trains() -> list[dict]:
            listed = await server.get(f"{API}/jobs", params={"dataset_id": dataset.id, "kind": "train"})
            return [j for j in listed.json()["jobs"] if j["id"] > job_id]

        (newest,) = await wait_until(trains, what="the server's retrain")
        assert newest["submitted_by"] == "keep-models-fresh" and newest["algorithm"] == "test-oracle"
        await wait_for(server, newest["id"])

        async def settled() -> dict | None:
            answer = await queue(server, dataset.id, limit=50)
            return answer if not answer["running_job_ids"] and not answer["server_steps_due"] else None

        found = await wait_until(settled, what="the server's steps done")
        assert not {"keep_fresh", "retrain"} & set(kinds(found)), kinds(found)
        graph = await gql(
            server,
            "query($d: Int!) { nextActions(datasetId: $d) { runningJobIds serverStepsDue } }",
            {"d": dataset.id},
        )
        assert graph["nextActions"] == {"runningJobIds": [], "serverStepsDue": False}


async def test_items_to_label_with_the_classes_shown_cost_one_click_and_a_key_per_expected_wrong(
    server, dataset
):
    """With the classifier's class shown on each, the items to label one by one cost one click for
    those it gets right and a key for each other: 1 + n - (the sum of the classes' probabilities),
    not n; a due retrain still ranks above them."""
    from tests.guided.trust_classifiers import oracle_probabilities

    ids, classes, _ = await oracle(server, dataset.id)
    found = await queue(server, dataset.id, limit=50)
    by_hand = of_kind(found, "label_items")[0]
    assert by_hand["params"]["predicted_label_ids"]
    n = len(by_hand["item_ids"])
    top = oracle_probabilities(len(ids), 3).max(axis=1)
    right = float(sum(top[ids.index(i)] for i in by_hand["item_ids"]))
    assert right >= 2
    assert by_hand["expected_labels"] == n
    assert by_hand["expected_actions"] == pytest.approx(1 + n - right, abs=0.01)
    assert by_hand["expected_actions"] < n

    for i in range(12, 24):  # labels double: the retrain is due
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    found = await queue(server, dataset.id, limit=50)
    order = kinds(found)
    assert order.index("retrain") < order.index("label_items"), order


async def test_two_users_accepting_a_job_suggestion_at_once_queue_it_once(
    database, guided_settings, dataset, monkeypatch
):
    """The check for the same job already queued and the job's submission are one step: of two
    accepts at once, one queues the job and the other is told which job it is (both queued one)."""
    from sqlalchemy import select

    import backend.guided.next_actions as next_actions
    from backend.errors import Conflict
    from backend.labels.batches import latest_event_id
    from backend.storage.job_tables import Job

    submit = next_actions.submit_job

    async def slow_submit(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # the other accept reads the jobs meanwhile
        return await submit(*args, **kwargs)

    monkeypatch.setattr(next_actions, "submit_job", slow_submit)
    async with database.session() as session:
        watermark = await latest_event_id(session, dataset.id)
    key = next_actions.make_key(dataset.id, watermark, "train_extractor", j={"algorithm": "pca"})

    async def accept_once() -> Any:
        async with database.session() as session:
            try:
                return await next_actions.accept_suggestion(
                    session, guided_settings, dataset.id, key, item_ids=None, label_id=None, tagger="x"
                )
            except Conflict as refused:
                return refused

    answers = await asyncio.gather(accept_once(), accept_once())
    refused = [a for a in answers if isinstance(a, Conflict)]
    queued = [a for a in answers if not isinstance(a, Conflict)]
    assert len(refused) == 1 and len(queued) == 1, answers
    async with database.session() as session:
        jobs = (await session.scalars(select(Job.id).where(Job.dataset_id == dataset.id))).all()
    assert sorted(jobs) == sorted(queued[0].job_ids)
    assert refused[0].details["job_id"] in jobs
