"""The stopping estimate (calibrated accuracy now, learning-curve projection) and the final
"auto-label the rest" batch: arithmetic on synthetic figures, then real models through REST."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from click.testing import CliRunner

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from backend.guided import stopping
from backend.labels.events import TagRequest, record_event
from backend.settings import Settings
from backend.storage.job_tables import Model
from tests.guided.trust_classifiers import oracle_probabilities
from tests.helpers.guided import API, add_class, item_ids, run_job, tag
from tests.html import all_of, by_id, maybe_one, one, parse, text_of


def test_calibration_reweights_held_out_accuracy_to_the_unlabeled_confidence_mix():
    rng = np.random.default_rng(7)
    # A perfectly calibrated classifier: right with probability equal to its confidence.
    held = rng.uniform(0.5, 1.0, 20000)
    correct = rng.uniform(size=held.size) < held
    # The unlabeled items are less sure than the labeled ones.
    unlabeled = rng.uniform(0.5, 0.95, 20000)
    threshold = 0.8
    truth = unlabeled[unlabeled >= threshold].mean()  # 0.875
    pooled = correct[held >= threshold].mean()  # 0.90: what one pooled figure would promise
    estimate, support = stopping.calibrated_accuracy(held, correct, unlabeled, threshold)
    assert support == int((held >= threshold).sum())
    assert abs(estimate - truth) < 0.01
    assert abs(pooled - truth) > 0.02  # the reweighting matters on this mix
    assert stopping.calibrated_accuracy(held, correct, unlabeled, 1.01)[0] is None


def test_the_learning_curve_exponent_is_fitted_and_projects_the_error_down():
    points = [(n, 1 - 0.4 * n**-0.7) for n in (20, 50, 120, 400)]
    assert abs(stopping.fit_exponent(points) - 0.7) < 1e-6
    assert stopping.fit_exponent(points[:1]) is None
    (k, projected), *_ = stopping.project(0.9, 100, [300], 0.5)
    assert k == 300 and projected == round(1 - 0.1 * 0.5, 4)  # 4x the labels halves the error
    assert stopping.more_label_steps(12, 18) == [10, 12]


def _classifier(model_id: int, labeled: int, accuracy: float, features: int | None) -> Model:
    trained_on: dict[str, Any] = {"labeled_count": labeled}
    if features is not None:
        trained_on["features"] = {"model_id": features}
    quality = {"accuracy": accuracy, "baseline_accuracy": 0.5, "split": "validation", "items": 20}
    return Model(
        id=model_id,
        name=f"m{model_id}",
        kind="classifier",
        algorithm="vector_classifier",
        dataset_id=1,
        trained_on=trained_on,
        summary={"quality": quality},
    )


def test_the_learning_curve_takes_fit_models_on_the_same_features_and_a_plausible_slope():
    settings = Settings()
    newest = _classifier(6, 80, 0.846, features=1)
    others = [
        _classifier(5, 40, 0.375, features=4),  # unfit (below its 50% baseline), other features
        _classifier(4, 20, 0.70, features=4),  # fit, other features: another curve
        _classifier(3, 30, 0.45, features=1),  # unfit on the same features: a failed training
        _classifier(2, 40, 0.75, features=1),
    ]
    assert stopping.curve_points([newest, *others], newest, settings) == [(40, 0.75), (80, 0.846)]
    image = _classifier(7, 40, 0.8, features=None)  # an image classifier lies on none of them
    assert stopping.curve_points([newest, image], image, settings) == [(40, 0.8)]
    steep = [(37, 0.5), (80, 0.95)]  # error 0.5 -> 0.05 from 37 to 80 labels: a slope of about 3
    assert stopping.fit_exponent(steep) == stopping.MAX_EXPONENT == 1.0


async def test_a_dataset_without_a_classifier_gets_a_reason_not_an_error(server, dataset):
    estimate = (await server.get(f"{API}/datasets/{dataset.id}/stopping-estimate")).json()
    assert (
        estimate["model_id"] is None and estimate["unlabeled"] == 30 and "no classifier" in estimate["reason"]
    )


async def trained(client: Any, dataset_id: int, algorithm: str) -> int:
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": algorithm})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


async def test_the_estimate_rests_on_held_out_labels_and_the_rest_is_labeled_in_one_revocable_batch(
    server, dataset, database
):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):  # the oracle's class (position % 3), item 6 labeled wrong
        await tag(server, dataset.id, [ids[i]], classes[(i % 3 + (i == 6)) % 3])
    model = await trained(server, dataset.id, "test-oracle")

    url = f"{API}/datasets/{dataset.id}/stopping-estimate"
    estimate = (await server.get(url, params={"threshold": 0.55})).json()
    assert (estimate["model_id"], estimate["unlabeled"], estimate["labeled"]) == (model, 18, 12)
    # the oracle's last item lies far from every other: the guardrails flag it, it stays for a person
    assert estimate["auto_label_count"] == 17 and estimate["held_out_items"] == 12
    assert "1 flagged by the batch guardrails stay for you" in estimate["reason"]
    promised = stopping.wilson_lower(11, 12)  # 11 of 12 held-out items right: their lower bound
    assert estimate["expected_accuracy"] == round(promised, 4) and "lower bound" in estimate["reason"]
    assert estimate["exponent"] == 0.5 and "assumed" in estimate["reason"]
    assert [p["more_labels"] for p in estimate["with_more_labels"]] == [10, 12]
    assert estimate["with_more_labels"][1]["accuracy"] == round(1 - (1 - promised) * (12 / 24) ** 0.5, 4)
    high = (await server.get(url, params={"threshold": 0.8})).json()
    probs = oracle_probabilities(30, 3)
    # at >= 0.8 the rest is another batch: spread as far, its last item no farther out than the rest
    assert high["auto_label_count"] == int((probs[12:].max(axis=1) >= 0.8).sum())
    assert high["expected_accuracy"] is None  # no held-out labeled item is that sure

    apply = f"{API}/datasets/{dataset.id}/auto-label-rest"
    body = {"model_id": model, "threshold": 0.55, "seen_event_id": estimate["seen_event_id"]}
    stale = await server.post(apply, json={**body, "expected_count": 18})
    assert stale.status_code == 409 and stale.json()["error"]["details"]["reason"] == "batch_changed"
    async with database.session() as s:  # someone touches item 13 (and clears it) after the estimate
        await record_event(s, TagRequest(dataset.id, "other", [ids[13]], classes[0]))
        await record_event(s, TagRequest(dataset.id, "other", [ids[13]], None, op="clear"))
    changed = await server.post(apply, json={**body, "expected_count": 17})
    said = "changed since you looked at the estimate (by someone else, or in another tab)"
    assert changed.status_code == 409 and said in changed.text

    fresh = (await server.get(url, params={"threshold": 0.55})).json()
    done = await server.post(
        apply, json={**body, "expected_count": 17, "seen_event_id": fresh["seen_event_id"]}
    )
    assert done.status_code == 201, done.text
    result = done.json()
    assert result["labeled"] == 17 and result["event"]["kind"] == "probability"
    assert result["event"]["parameters"]["guardrail_flagged"] == 1
    assert result["event"]["model_id"] == model and result["event"]["parameters"]["auto_label_rest"] is True
    assert result["event"]["parameters"]["expected_accuracy"] == round(promised, 4)
    listed = (await server.get(f"{API}/datasets/{dataset.id}/items", params={"limit": 100})).json()["items"]
    labels = {i["id"]: i["label_ids"] for i in listed}
    assert all(labels[ids[i]] == [classes[i % 3]] for i in range(12, 29)) and labels[ids[29]] == []
    assert (await server.get(url)).json()["unlabeled"] == 1

    undone = await server.post(f"{API}/events/{result['event']['id']}/undo")
    assert undone.status_code in (200, 201), undone.text
    assert (await server.get(url)).json()["unlabeled"] == 18


async def test_an_unfit_model_is_refused_without_override(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):  # the class its vector says (position % 3)
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    unfit = await trained(server, dataset.id, "test-one-class")
    apply = f"{API}/datasets/{dataset.id}/auto-label-rest"
    refused = await server.post(apply, json={"model_id": unfit, "threshold": 0.5})
    assert refused.status_code == 409 and refused.json()["error"]["details"]["reason"] == "model_unfit"
    # the estimate never picks an unfit model by itself
    assert (await server.get(f"{API}/datasets/{dataset.id}/stopping-estimate")).json()["model_id"] is None
    done = await server.post(apply, json={"model_id": unfit, "threshold": 0.5, "override_unfit": True})
    assert done.status_code == 201, done.text
    # it answers "a" for everything: the guardrails leave out the 12 whose labeled neighbours say b or c
    parameters = done.json()["event"]["parameters"]
    assert done.json()["labeled"] == 6 and parameters["guardrail_flagged"] == 12
    assert parameters["override_unfit"] is True
    labels = {
        i["id"]: i["label_ids"]
        for i in (await server.get(f"{API}/datasets/{dataset.id}/items")).json()["items"]
    }
    assert [i for i in ids[12:] if labels[i]] == [ids[i] for i in range(12, 30) if i % 3 == 0]
    again = await server.post(apply, json={"model_id": unfit, "threshold": 0.5, "override_unfit": True})
    assert again.status_code == 400 and "all 12 flagged by the batch guardrails" in again.text


ESTIMATE = """query($d: Int!, $t: Float) { stoppingEstimate(datasetId: $d, threshold: $t) {
  unlabeled modelId autoLabelCount expectedAccuracy seenEventId withMoreLabels { moreLabels accuracy } } }"""
AUTO = """mutation($d: Int!, $m: Int!, $t: Float!, $n: Int, $s: Int) {
  autoLabelRest(datasetId: $d, modelId: $m, threshold: $t, expectedCount: $n, seenEventId: $s) {
    labeled event { kind modelId tagCount } } }"""


async def test_the_estimate_and_the_final_batch_through_graphql(server, dataset):
    from tests.helpers.graphql import gql, gql_error

    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    model = await trained(server, dataset.id, "test-oracle")
    estimate = (await gql(server, ESTIMATE, {"d": dataset.id, "t": 0.55}))["stoppingEstimate"]
    assert (estimate["unlabeled"], estimate["modelId"], estimate["autoLabelCount"]) == (18, model, 17)
    bound = round(stopping.wilson_lower(12, 12), 4)  # 12 held-out items all right: no certainty
    assert estimate["expectedAccuracy"] == bound and bound < estimate["withMoreLabels"][0]["accuracy"] < 1
    variables = {"d": dataset.id, "m": model, "t": 0.55, "s": estimate["seenEventId"]}
    await gql_error(server, AUTO, {**variables, "n": 5}, code="CONFLICT", fragments=("not the 5",))
    done = (await gql(server, AUTO, {**variables, "n": 17}))["autoLabelRest"]  # the far one: flagged
    assert done == {"labeled": 17, "event": {"kind": "probability", "modelId": model, "tagCount": 17}}


async def test_the_cli_prints_the_estimate_labels_the_rest_and_sets_keep_fresh(
    server, dataset, guided_settings
):
    from tests.helpers.cli import env_of, invoke

    cli = CliRunner(env=env_of(guided_settings, LABELWISE_ALGORITHM_MODULES="tests.guided.trust_classifiers"))
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    model = await trained(server, dataset.id, "test-oracle")
    shown = await invoke(cli, ["stopping-estimate", dataset.name, "--threshold", "0.55"])
    assert shown.exit_code == 0, shown.output
    assert "18 unlabeled, 12 labeled items" in shown.output and "17 items at p >= 0.55" in shown.output
    assert "1 flagged by the batch guardrails" in shown.output
    as_json = await invoke(cli, ["stopping-estimate", dataset.name, "--threshold", "0.55", "--json"])
    assert json.loads(as_json.output)["expected_accuracy"] == round(
        stopping.wilson_lower(12, 12), 4
    )  # 12 of 12 right: the bound
    args = ["auto-label-rest", dataset.name, "--model", str(model), "--threshold", "0.55"]
    stale = await invoke(cli, [*args, "--expected-count", "3"])
    assert stale.exit_code != 0 and "not the 3" in stale.output
    done = await invoke(cli, [*args, "--expected-count", "17"])
    assert done.exit_code == 0 and "labeled 17 items" in done.output, done.output
    assert "1 flagged by the batch guardrails are left for you" in done.output
    switched = await invoke(cli, ["keep-fresh", dataset.name, "--on", "--growth", "0.3"])
    assert switched.exit_code == 0 and "on; retrain classifiers when labels grow by 30%" in switched.output
    fresh = (await server.get(f"{API}/datasets/{dataset.id}/keep-fresh")).json()
    assert fresh["keep_models_fresh"] is True and fresh["growth"] == 0.3


async def test_the_probability_page_shows_where_to_stop_and_auto_labels_the_rest(server, dataset):
    from tests.helpers.pages import csrf_headers

    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    model = await trained(server, dataset.id, "test-oracle")
    url = f"/datasets/{dataset.id}/probability"
    page = (await server.get(url, params={"model_id": model, "label": "all", "threshold": 0.55})).text
    doc = parse(page)
    assert (
        by_id(doc, "stopping-estimate") is not None
        and by_id(doc, "stopping-unlabeled").text_content() == "18"
    )
    accuracy = by_id(doc, "stopping-accuracy").text_content()
    assert (
        accuracy == f"{stopping.wilson_lower(12, 12):.1%}" and by_id(doc, "auto-label-rest-form") is not None
    )
    assert all_of(doc, "//*[@hx-confirm]") and one(doc, "//input[@name='seen_event_id']") is not None
    # it asks as the queue's does: how many, and how many of them are expected wrong
    count = int(by_id(doc, "stopping-count").text_content())
    asked = by_id(doc, "auto-label-rest-form").get("hx-confirm")
    wrong = f"{count * (1 - stopping.wilson_lower(12, 12)):.0f}"
    assert f"Label {count} of the 18 unlabeled items, those at probability ≥ 0.55" in asked, asked
    assert f"about {wrong} wrong labels." in asked and "One event: you can undo it." in asked, asked
    estimate = (
        await server.get(f"{API}/datasets/{dataset.id}/stopping-estimate", params={"threshold": 0.55})
    ).json()
    headers = await csrf_headers(server, url)
    form = {
        "model_id": str(model),
        "threshold": "0.55",
        "expected_count": "17",
        "seen_event_id": str(estimate["seen_event_id"]),
        "label": "all",
    }
    stale = await server.post(
        f"/datasets/{dataset.id}/auto-label-rest",
        data={**form, "expected_count": "2"},
        headers=headers,
    )
    assert (
        stale.status_code == 200
        and "not the 2" in stale.text
        and by_id(parse(stale.text), "refused") is not None
    )
    done = await server.post(f"/datasets/{dataset.id}/auto-label-rest", data=form, headers=headers)
    assert done.status_code == 200 and "Auto-labeled the rest: 17 items" in done.text
    assert "1 flagged by the batch guardrails are left for you" in done.text
    assert (await server.get(f"{API}/datasets/{dataset.id}/stopping-estimate")).json()["unlabeled"] == 1


async def test_where_to_stop_with_no_item_at_the_threshold_says_so_without_an_accuracy(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b", "c")]
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    model = await trained(server, dataset.id, "test-oracle")  # its scores stop at 0.95
    params = {"model_id": model, "label": "all", "threshold": 0.99}
    doc = parse((await server.get(f"/datasets/{dataset.id}/probability", params=params)).text)
    # it said "0 of them have a class at probability >= 0.99: expected accuracy 98%"
    assert "None of them has a class at probability" in text_of(by_id(doc, "stopping-none"))
    assert maybe_one(doc, "//*[@id='stopping-accuracy']") is None
    assert maybe_one(doc, "//*[@id='stopping-count']") is None
