"""The queue, probability batches, stopping, label review and revoke through ``labelwise_client``'s
public calls, each a real request to the served app, on the oracle test classifier (item at
position i is class ``i % 3``, more sure further down the dataset)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import tests.guided.trust_classifiers  # noqa: F401  (registers the oracle classifier)
from labelwise_client import Client, Job, LabelwiseError


def oracle(
    lw: Client, dataset: dict, labeled: int = 12, wrong: tuple[int, ...] = ()
) -> tuple[list[int], int]:
    """Classes a, b, c; the first ``labeled`` items labeled by the oracle's rule (the ``wrong``
    ones the next class); the oracle trained and applied. The item ids and the model."""
    ids = [row["id"] for row in lw.items(dataset)]
    for name in sorted({"a", "b", "c"} - {c["name"] for c in lw.classes(dataset)}):
        lw.add_class(dataset, name)
    for i in range(labeled):
        lw.tag(dataset, [ids[i]], "abc"[(i + (i in wrong)) % 3])
    job = lw.train(dataset, "test-oracle").wait(timeout=120)
    assert job.chain and job.chain[0].state == "succeeded"  # its inference
    return ids, int(job.model_id or 0)


def current(lw: Client, dataset: dict) -> dict[int, list[str]]:
    return {row["item_id"]: row["labels"] for row in lw.labels(dataset)}


def test_next_actions_and_accept_label_the_kept_members_and_hand_back_jobs(client: Client, dataset):
    for name in ("a", "b", "c"):
        client.add_class(dataset, name)
    first = client.next_actions(dataset["name"])
    train = next(s for s in first["suggestions"] if s["kind"] == "train_extractor")
    started = client.accept(dataset, train, parameters={"epochs": 1})
    (job,) = started["jobs"]
    assert isinstance(job, Job) and [job.id] == started["job_ids"] and started["labeled"] == 0
    assert job.data["parameters"]["epochs"] == 1 and job.data["algorithm"] == train["params"]["algorithm"]
    job.cancel()

    _ids, model = oracle(client, dataset)
    by_id = {c["id"]: c["name"] for c in client.classes(dataset)}
    queue = client.next_actions(dataset, limit=20)
    batch = next(s for s in queue["suggestions"] if s["kind"] == "probability_batch")
    members = batch["item_ids"]
    assert len(members) >= 3
    before = current(client, dataset)
    done = client.accept(dataset, batch["key"], item_ids=members[2:], rejected_item_ids=[members[0]])
    assert done["labeled"] == len(members) - 2 and done["jobs"] == [] and done["job_ids"] == []
    after = current(client, dataset)
    assert {i: after[i] for i in members[2:]} == {i: [by_id[batch["label_id"]]] for i in members[2:]}
    assert members[0] not in after and members[1] not in after
    assert {i: v for i, v in after.items() if i not in members} == before
    # the rejected member is not offered for the class again, the one only left out is
    offered = client.probability_candidates(dataset, model, 0.0, label=batch["label_id"])["items"]
    assert members[1] in [r["item_id"] for r in offered] and members[0] not in [r["item_id"] for r in offered]

    with pytest.raises(LabelwiseError) as stale:
        client.accept(dataset, batch)
    assert stale.value.code == "CONFLICT"


def test_probability_candidates_page_through_and_apply_leaves_out_what_it_is_told(client: Client, dataset):
    ids, model = oracle(client, dataset)
    client._page = 5  # a small page, so the candidates come in several pages
    preview = client.probability_candidates(dataset, model, 0.55, label="a", confirm_over=3)
    batch = [r["item_id"] for r in preview["items"]]
    assert preview["count"] == len(batch) > 5 and len(set(batch)) == len(batch)
    assert set(batch) <= {ids[i] for i in range(12, 40) if i % 3 == 0}
    assert preview["needs_confirmation"] is True and preview["estimate"]["support"] > 0
    assert list(preview["items"].to_pandas().columns) == ["item_id", "label_id", "probability"]
    assert len(client.probability_candidates(dataset, model, 0.55, label="a", limit=2)["items"]) == 2

    with pytest.raises(LabelwiseError) as unconfirmed:
        client.apply_probability(dataset, model, 0.55, label="a", confirm_over=3)
    assert unconfirmed.value.code == "CONFLICT"
    assert unconfirmed.value.details["reason"] == "confirmation_required"
    assert current(client, dataset) == {ids[i]: ["abc"[i % 3]] for i in range(12)}

    left_out, rejected = batch[0], batch[1]
    applied = client.apply_probability(
        dataset, model, 0.55, label="a", confirm_over=3, confirm=True, expected_count=len(batch),
        left_out_item_ids=[left_out], rejected_item_ids=[rejected],
    )  # fmt: skip
    assert applied["labeled"] == len(batch) - 2 and applied["event"]["kind"] == "probability"
    after = current(client, dataset)
    assert all(after[i] == ["a"] for i in batch[2:])
    assert left_out not in after and rejected not in after
    again = [r["item_id"] for r in client.probability_candidates(dataset, model, 0.0, label="a")["items"]]
    assert left_out in again and rejected not in again


def test_apply_probability_leaves_an_item_relabeled_since_the_preview(client: Client, dataset):
    """An overwrite batch applied with the preview's ``seen_event_id``: the item someone relabeled
    after the preview keeps that label, and the answer counts it (``skipped_changed``)."""
    _ids, model = oracle(client, dataset)
    preview = client.probability_candidates(dataset, model, 0.55, label="a", overwrite=True, confirm_over=100)
    batch = [r["item_id"] for r in preview["items"]]
    client.tag(dataset, [batch[0]], "b")  # after the preview: the batch's count is the same
    applied = client.apply_probability(
        dataset, model, 0.55, label="a", overwrite=True, confirm_over=100,
        expected_count=preview["count"], seen_event_id=preview["seen_event_id"],
    )  # fmt: skip
    assert applied["skipped_changed"] == 1 and applied["event"]["parameters"]["skipped_changed"] == 1
    assert current(client, dataset)[batch[0]] == ["b"]


def test_stopping_estimate_and_auto_label_rest_label_what_the_estimate_showed(client: Client, dataset):
    ids, model = oracle(client, dataset)
    estimate = client.stopping_estimate(dataset, threshold=0.55)
    assert (estimate["model_id"], estimate["labeled"], estimate["unlabeled"]) == (model, 12, 28)
    count = estimate["auto_label_count"]
    assert 0 < count <= 28

    client.tag(dataset, [ids[20]], "c")  # a label after the estimate: the batch it showed changed
    with pytest.raises(LabelwiseError) as changed:
        client.auto_label_rest(dataset, estimate)
    assert changed.value.code == "CONFLICT"

    fresh = client.stopping_estimate(dataset, threshold=0.55, model=model)
    done = client.auto_label_rest(dataset, fresh)
    assert done["labeled"] == fresh["auto_label_count"] and done["event"]["kind"] == "probability"
    labels = current(client, dataset)
    auto = {i: labels[ids[i]] for i in range(12, 40) if ids[i] in labels and i != 20}
    assert len(auto) == done["labeled"] and all(v == ["abc"[i % 3]] for i, v in auto.items())


def test_label_suspects_list_the_wrong_labels_first_and_review_answers_them(client: Client, dataset):
    ids, model = oracle(client, dataset, labeled=24, wrong=(3, 7))
    found = client.label_suspects(dataset, model)
    suspects = found["suspects"]
    assert {r["item_id"] for r in suspects[:2]} == {ids[3], ids[7]}
    assert found["total"] == len(suspects) and "confident learning (cleanlab)" in found["sources"]
    assert len(client.label_suspects(dataset, model, limit=1)["suspects"]) == 1
    assert "suggested_label_id" in suspects.to_pandas().columns

    kept = client.review(dataset, ids[3], "keep", model=model)
    relabeled = client.review(dataset, ids[7], "relabel", label="b", model=model)
    assert kept["kind"] == relabeled["kind"] == "review" and relabeled["tag_count"] == 1
    labels = current(client, dataset)
    assert labels[ids[3]] == ["b"] and labels[ids[7]] == ["b"]  # kept as given, and set right
    left = {r["item_id"] for r in client.label_suspects(dataset, model)["suspects"]}
    assert not left & {ids[3], ids[7]}


def test_revoke_takes_back_a_models_labels_or_a_batch_kind_in_a_time_range(client: Client, dataset):
    _ids, model = oracle(client, dataset)
    by_hand = current(client, dataset)
    applied = client.apply_probability(dataset, model, 0.9, label="b", confirm=True)
    assert applied["labeled"] > 0
    with pytest.raises(LabelwiseError) as none_then:
        client.revoke(dataset, kind="probability", until=datetime.now(UTC) - timedelta(hours=1))
    assert none_then.value.code == "CONFLICT" and current(client, dataset) != by_hand

    since = datetime.fromisoformat(applied["event"]["created_at"]) - timedelta(seconds=1)
    taken = client.revoke(dataset, kind="probability", since=since)
    assert taken["revoked"] == applied["labeled"] and taken["event_ids"] == [applied["event"]["id"]]
    assert current(client, dataset) == by_hand

    client.undo(taken["event"])  # the batch back, then taken back by naming its model
    assert len(current(client, dataset)) == len(by_hand) + applied["labeled"]
    by_model = client.revoke(dataset, model=model)
    assert by_model["revoked"] == applied["labeled"] and current(client, dataset) == by_hand


def test_batch_flags_judge_any_batch_and_jobs_list_what_ran(client: Client, dataset):
    ids, model = oracle(client, dataset)
    batch = ids[24:30]  # positions 24..29: classes a, b, c, a, b, c by the oracle's rule
    asked_a = client.batch_flags(dataset, model, batch, label="a")
    reasons = {r["item_id"]: " ".join(r["reasons"]) for r in asked_a["flags"]}
    assert "nearest labeled items carry another class" in reasons[ids[25]]  # a b item asked as a
    assert ids[24] not in reasons and "MAD" in asked_a["rule"]
    assert list(asked_a["flags"].to_pandas().columns) == ["item_id", "reasons"]
    by_rule = client.batch_flags(dataset, model, batch, labels=["abc"[i % 3] for i in range(24, 30)])
    assert not [r for r in by_rule["flags"] if "carry another class" in " ".join(r["reasons"])]
    class_ids = {c["name"]: c["id"] for c in client.classes(dataset)}
    same = client.batch_flags(dataset, model, batch, labels=[class_ids["abc"[i % 3]] for i in range(24, 30)])
    assert same["flags"].rows == by_rule["flags"].rows
    with pytest.raises(LabelwiseError) as unknown:
        client.batch_flags(dataset, model, batch, labels=["a", "nope", "c", "a", "b", "c"])
    assert unknown.value.code == "NOT_FOUND"

    # the oracle's training, then its inference (newest first), paged through for you
    listed = client.jobs(dataset)
    assert [(j["kind"], j["model_id"], j["state"]) for j in listed] == [
        ("infer", model, "succeeded"),
        ("train", model, "succeeded"),
    ]
    assert list(listed.to_pandas().columns)[:3] == ["id", "kind", "state"]
    client._page = 1
    assert [j["id"] for j in client.jobs(dataset)] == [j["id"] for j in listed]
    assert [j["kind"] for j in client.jobs(model=model, kind="infer")] == ["infer"]
    assert [j["kind"] for j in client.jobs(dataset, limit=1)] == ["infer"]
    assert client.jobs(dataset, state="failed").rows == []
