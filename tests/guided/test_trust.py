"""Bulk labeling you can trust (issue 19): the quality gate, the estimate and confirmation before a
big probability batch, guardrail flags and the label-error review, through REST, GraphQL and
the pages, on real jobs of registered test classifiers (``trust_classifiers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

import tests.guided.trust_classifiers  # noqa: F401  (registers the test classifiers)
from backend.guided.heldout import BatchEstimate
from backend.settings import get_settings
from tests.guided.trust_classifiers import oracle_probabilities
from tests.helpers.cli import env_of, invoke
from tests.helpers.graphql import gql, gql_error
from tests.helpers.guided import (
    API,
    add_class,
    classifier_model,
    item_ids,
    of_kind,
    pca_model,
    queue,
    run_job,
    tag,
)
from tests.helpers.jobs import make_dataset
from tests.helpers.pages import csrf_headers
from tests.html import HtmlElement, all_of, attr, by_id, has_class, maybe_one, one, parse, text_of
from tests.html import classes as css_classes


def guided_tiles(doc: HtmlElement) -> list[HtmlElement]:
    """The guided gallery's tiles, in page order."""
    return all_of(doc, f"//figure[{has_class('tile')}][{has_class('guided-tile')}]")


def flag_badges(tile: HtmlElement) -> list[HtmlElement]:
    """The flag badges inside one tile."""
    return all_of(tile, f".//*[{has_class('flag-badge')}]")


def keys(doc: HtmlElement) -> list[str]:
    """The keyboard keys the page names (<kbd>)."""
    return [k.text_content() for k in all_of(doc, "//kbd")]


APPLY = """
mutation($d: Int!, $m: Int!, $t: Float!, $label: Int, $override: Boolean!, $confirm: Boolean!) {
  applyProbability(datasetId: $d, modelId: $m, threshold: $t, labelId: $label,
                   overrideUnfit: $override, confirm: $confirm) { labeled event { kind parameters } }
}
"""
PREVIEW = """
query($d: Int!, $m: Int!, $t: Float!, $label: Int, $over: Int) {
  probabilityCandidates(datasetId: $d, modelId: $m, threshold: $t, labelId: $label, confirmOver: $over) {
    count needsConfirmation confirmOver flaggedCount
    fitness { status accuracy baselineAccuracy }
    estimate { precision support correct expectedWrong source sinceTraining }
  }
}
"""
MODEL = "query($id: Int!) { model(id: $id) { fitness { status accuracy baselineAccuracy reason } } }"
SUSPECTS = """
query($d: Int!, $m: Int!) { labelSuspects(datasetId: $d, modelId: $m) { total suspects { itemId labelId score
  suggestedLabelId } } }
"""
REVIEW = """
mutation($d: Int!, $i: Int!, $l: Int) { reviewLabel(datasetId: $d, itemId: $i, action: RELABEL, labelId: $l) {
  kind tagCount } }
"""


async def trained(client: Any, dataset_id: int, algorithm: str) -> int:
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": algorithm})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job["model_id"]


async def events(client: Any, dataset_id: int) -> list[dict[str, Any]]:
    return (await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"]


async def three_classes(client: Any, dataset_id: int) -> list[int]:
    return [await add_class(client, dataset_id, name) for name in ("a", "b", "c")]


async def similarity_page_of_a(client: Any, dataset_id: int) -> tuple[int, int]:
    """Labels as a similarity page of class a makes them (eight of a's ten items, a b item the oracle
    calls a, two of b and c) and the oracle trained on them: class a, the model."""
    ids = await item_ids(client, dataset_id)
    a, b, c = await three_classes(client, dataset_id)
    for i in (0, 3, 6, 9, 12, 15, 18, 21):
        await tag(client, dataset_id, [ids[i]], a)
    await tag(client, dataset_id, [ids[1], ids[24]], b)  # the oracle calls item 24 a
    await tag(client, dataset_id, [ids[2]], c)
    return a, await trained(client, dataset_id, "test-oracle")


async def label_by_rule(
    client: Any, dataset_id: int, ids: list[int], classes: list[int], upto: int, wrong=()
):
    """Items 0..upto-1 get the oracle's class (position % 3), the ``wrong`` ones the next class."""
    for i in range(upto):
        k = (i % 3 + (1 if i in wrong else 0)) % 3
        await tag(client, dataset_id, [ids[i]], classes[k])


async def test_a_one_class_classifier_is_unfit_never_default_and_refused_without_override(server, dataset):
    ids = await item_ids(server, dataset.id)
    a, b, c = await three_classes(server, dataset.id)
    for k, label in enumerate((a, b, c)):
        await tag(server, dataset.id, ids[4 * k : 4 * k + 4], label)
    measured_not = await classifier_model(server, dataset.id, [a, b, c])  # the fixed one: unmeasured
    unfit = await trained(server, dataset.id, "test-one-class")

    fitness = (await server.get(f"{API}/models/{unfit}")).json()["fitness"]
    assert fitness["status"] == "unfit" and fitness["accuracy"] == fitness["baseline_accuracy"]
    assert fitness["per_class_recall"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert "no better than always answering one class" in fitness["reason"]
    assert (await gql(server, MODEL, {"id": unfit}))["model"]["fitness"]["status"] == "unfit"
    listed = (await server.get(f"{API}/models", params={"dataset_id": dataset.id})).json()
    listed = listed if isinstance(listed, list) else listed.get("models", listed)
    assert any(m["id"] == unfit and m["fitness"]["status"] == "unfit" for m in listed)

    model_page = (await server.get(f"/models/{unfit}")).text
    assert (
        "Unfit for batch labeling" in model_page and "no better than always answering one class" in model_page
    )
    # never the default: the page picks the older, unmeasured model and names the unfit one so
    page = (await server.get(f"/datasets/{dataset.id}/probability")).text
    options = {attr(o, "value"): o for o in all_of(parse(page), "//select[@name='model_id']/option")}
    assert options[str(measured_not)].get("selected") is not None
    assert options[str(unfit)].get("selected") is None and text_of(options[str(unfit)]).endswith("unfit")
    chosen = (await server.get(f"/datasets/{dataset.id}/probability", params={"model_id": unfit})).text
    assert "Unfit model:" in chosen and by_id(parse(chosen), "override-unfit") is not None

    before = len(await events(server, dataset.id))
    body = {"model_id": unfit, "threshold": 0.5, "label_id": a}
    refused = await server.post(f"{API}/datasets/{dataset.id}/probability/apply", json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["reason"] == "model_unfit"
    variables = {"d": dataset.id, "m": unfit, "t": 0.5, "label": a, "override": False, "confirm": False}
    await gql_error(server, APPLY, variables, code="CONFLICT", fragments=("unfit",))
    headers = await csrf_headers(server, f"/datasets/{dataset.id}/probability")
    form = {"model_id": str(unfit), "label": str(a), "threshold": "0.5"}
    shown = await server.post(f"/datasets/{dataset.id}/probability/apply", data=form, headers=headers)
    assert (
        shown.status_code == 200 and "unfit" in shown.text and by_id(parse(shown.text), "refused") is not None
    )
    assert len(await events(server, dataset.id)) == before  # nothing labeled by any door

    done = (await gql(server, APPLY, {**variables, "override": True}))["applyProbability"]
    assert done["labeled"] == 18 and done["event"]["parameters"]["override_unfit"] is True


async def test_the_preview_estimates_precision_and_a_big_batch_needs_the_confirmation(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 12, wrong=(6,))
    model = await trained(server, dataset.id, "test-oracle")
    threshold, a = 0.55, classes[0]

    probs = oracle_probabilities(30, 3)
    held = [i for i in range(12) if probs[i, 0] >= threshold]
    correct = [i for i in held if i % 3 == 0 and i != 6]
    batch = [i for i in range(12, 30) if probs[i, 0] >= threshold]
    precision = len(correct) / len(held)
    params = {"model_id": model, "threshold": threshold, "label_id": a, "confirm_over": 3}
    preview = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()
    assert preview["count"] == len(batch) and preview["needs_confirmation"] is True
    assert preview["estimate"]["precision"] == round(precision, 4) == 0.75
    assert preview["estimate"]["support"] == len(held) and preview["estimate"]["source"] == "validation.npz"
    assert preview["estimate"]["expected_wrong"] == round(len(batch) * (1 - precision))
    assert preview["fitness"]["status"] == "fit"
    over = {"d": dataset.id, "m": model, "t": threshold, "label": a, "over": 3}
    graph = (await gql(server, PREVIEW, over))["probabilityCandidates"]
    assert graph["estimate"]["precision"] == 0.75 and graph["needsConfirmation"] is True

    url = f"{API}/datasets/{dataset.id}/probability/apply"
    body = {"model_id": model, "threshold": threshold, "label_id": a, "confirm_over": 3}
    before = len(await events(server, dataset.id))
    refused = await server.post(url, json=body)
    assert (
        refused.status_code == 409 and refused.json()["error"]["details"]["reason"] == "confirmation_required"
    )
    # the calibrated figure leads the refusal (it judges the batch's own items), the plain share after it
    calibrated = preview["estimate"]["calibrated_precision"]
    assert calibrated is not None and round(calibrated, 2) != 0.75
    message = refused.json()["error"]["message"]
    assert f"estimated precision {calibrated:.1%} (calibrated" in message
    assert f"about {preview['estimate']['calibrated_expected_wrong']} wrong" in message
    assert "of the 4 held-out labeled items above the threshold, 3 right (75.0%)" in message
    changed = await server.post(url, json={**body, "confirm": True, "expected_count": len(batch) + 1})
    assert changed.status_code == 409 and changed.json()["error"]["details"]["reason"] == "batch_changed"
    assert len(await events(server, dataset.id)) == before

    page = (
        await server.get(
            f"/datasets/{dataset.id}/probability", params={**params, "label": a, "confirm_over": 3}
        )
    ).text
    confirm = text_of(by_id(parse(page), "confirm-batch"))
    assert f"label {len(batch)} items, estimated precision {100 * calibrated:.0f}%" in confirm
    assert f"about {preview['estimate']['calibrated_expected_wrong']} wrong" in confirm
    assert "75% of the held-out labeled items above the threshold right" in confirm

    done = await server.post(url, json={**body, "confirm": True, "expected_count": len(batch)})
    assert done.status_code == 201, done.text
    assert done.json()["labeled"] == len(batch) and done.json()["event"]["parameters"]["confirmed"] is True


async def test_the_estimate_counts_the_items_labeled_since_the_training(server, dataset):
    """Items labeled after the training are held out from the model as well: two of its class-a
    items labeled b since lower the estimate of the next batch of a (they came from its batches;
    the held-out items of the training alone said 4 of 4)."""
    ids = await item_ids(server, dataset.id)
    a, b, _ = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, [a, b, _], 12)
    model = await trained(server, dataset.id, "test-oracle")
    params = {"model_id": model, "threshold": 0.55, "label_id": a}

    async def estimate() -> dict[str, Any]:
        return (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()[
            "estimate"
        ]

    before = await estimate()
    assert before["precision"] == 1.0 and before["support"] == 4 and before["since_training"] == 0
    await tag(server, dataset.id, [ids[12], ids[15]], b)  # the oracle gives them a: wrong twice
    after = await estimate()
    assert after["support"] == 6 and after["correct"] == 4 and after["precision"] == round(4 / 6, 4)
    assert after["since_training"] == 2 and after["source"] == "validation.npz"
    graph = await gql(server, PREVIEW, {"d": dataset.id, "m": model, "t": 0.55, "label": a})
    assert graph["probabilityCandidates"]["estimate"]["sinceTraining"] == 2
    page = await server.get(f"/datasets/{dataset.id}/probability", params={**params, "label": a})
    plain = text_of(by_id(parse(page.text), "estimate-plain"))
    assert (
        "Of the 6 labeled held-out items above the threshold (from validation.npz, 2 of them labeled since "
        "its training), 4 right: 67%" in plain
    )


async def test_labels_revoked_and_given_again_after_a_training_are_not_held_out_from_it(server, dataset):
    """A scientist labels twelve items and trains a classifier with a validation split, undoes
    the labels of two items it trained on and labels them again. They were "labeled since the
    training", so the estimate read the model's fit of them (0.95, right as it learned them) as
    held-out evidence: the batch of a, 1 of 2 held-out items right, read 3 of 4. A training's items
    stay its training items: the estimate, its Platt fit and the review read as before."""
    ids = await item_ids(server, dataset.id)
    a, b, c = await three_classes(server, dataset.id)
    both = await server.post(
        f"{API}/datasets/{dataset.id}/tags", json={"item_ids": [ids[0], ids[6]], "label_id": a}
    )
    assert both.status_code == 201, both.text
    for i in range(12):  # the oracle's class, except item 9 (held out): the oracle calls it a
        if i not in (0, 6):
            await tag(server, dataset.id, [ids[i]], [a, b, c][(i % 3 + (1 if i == 9 else 0)) % 3])
    model = await trained(server, dataset.id, "test-split")
    params = {"model_id": model, "threshold": 0.55, "label_id": a}

    async def estimate() -> dict[str, Any]:
        response = await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)
        return response.json()["estimate"]

    async def review() -> dict[str, Any]:
        url = f"{API}/datasets/{dataset.id}/label-suspects"
        return (await server.get(url, params={"model_id": model, "limit": 100})).json()

    async def promises() -> list[tuple[int, list[int], float]]:  # the queue's probability batches
        found = of_kind(await queue(server, dataset.id), "probability_batch")
        return sorted((b["label_id"], b["item_ids"], b["expected_precision"]) for b in found)

    before = await estimate()  # held out: items 3 (a, right) and 9 (b, wrong) of the six
    assert (before["support"], before["correct"], before["since_training"]) == (2, 1, 0)
    assert before["source"] == "validation.npz"
    suspects = await review()
    assert suspects["labeled_since_training"] == 0
    promised = await promises()
    assert promised

    undo = await server.post(f"{API}/events/{both.json()['id']}/undo")
    assert undo.status_code == 201, undo.text
    await tag(server, dataset.id, [ids[0], ids[6]], a)  # labeled again, as before
    assert await estimate() == before and await promises() == promised
    again = await review()  # the labels it trained on: judged as they were
    assert again["labeled_since_training"] == 0 and again["suspects"] == suspects["suspects"]

    await tag(server, dataset.id, [ids[6]], b)  # corrected: a label the model never saw
    assert await estimate() == before  # its score is still its fit of item 6
    assert (await review())["labeled_since_training"] == 1


async def test_the_estimate_counts_the_items_left_out_of_a_batch_as_misses(server, dataset):
    """A batch's kept items become labels and join the held-out items; the ones left out by hand
    ("not a") joined nothing, so the next estimate heard only the batch's right half (a walk's
    page of 211 "peaks", 45 left out: "249 of 251 right")."""
    ids = await item_ids(server, dataset.id)
    a, b, c = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, [a, b, c], 12)
    model = await trained(server, dataset.id, "test-oracle")
    params = {"model_id": model, "threshold": 0.55, "label_id": a}
    called_a = [ids[i] for i in range(12, len(ids)) if i % 3 == 0]  # the oracle gives them a
    left_out = called_a[:3]
    applied = await server.post(
        f"{API}/datasets/{dataset.id}/probability/apply",
        json={**params, "rejected_item_ids": left_out},
        headers=await csrf_headers(server),
    )
    assert applied.status_code == 201, applied.text
    assert applied.json()["labeled"] == len(called_a) - 3

    estimate = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()[
        "estimate"
    ]
    kept = len(called_a) - 3
    assert (estimate["support"], estimate["correct"]) == (4 + kept + 3, 4 + kept)
    assert (estimate["since_training"], estimate["rejected"]) == (kept, 3)
    graph = await gql(server, PREVIEW.replace("sinceTraining", "sinceTraining rejected"), {
        "d": dataset.id, "m": model, "t": 0.55, "label": a,
    })  # fmt: skip
    assert graph["probabilityCandidates"]["estimate"]["rejected"] == 3
    page = parse(
        (await server.get(f"/datasets/{dataset.id}/probability", params={**params, "label": a})).text
    )
    assert "3 left out of a batch of their class by hand, counted wrong" in text_of(
        by_id(page, "batch-estimate")
    )


async def test_the_calibrated_estimate_weighs_the_labels_to_the_classes_of_the_unlabeled_items(
    server, dataset, guided_settings
):
    """Labels as a similarity page of class a makes them: eight of a's ten items, a b item the model
    calls a, two of b and c. Every held-out item but one it calls a is a (8 of 9), yet a is now
    rare among the unlabeled items and b, which it calls a half the time, common: calibrated as the
    queue promises (its Platt fit, the held-out items weighed to the classes the model gives the
    unlabeled items), the estimate drops, and REST, GraphQL, the page, the confirmation and the CLI
    say so beside the plain share (decision 0026)."""
    a, model = await similarity_page_of_a(server, dataset.id)
    params = {"model_id": model, "threshold": 0.5, "label_id": a, "confirm_over": 0}
    preview = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()
    e = preview["estimate"]
    assert (e["correct"], e["support"], e["precision"]) == (8, 9, round(8 / 9, 4))
    assert e["expected_wrong"] == round(preview["count"] * (1 - 8 / 9))
    assert e["calibrated_precision"] is not None and e["calibrated_precision"] < e["precision"] - 0.2
    assert e["calibrated_expected_wrong"] == round(preview["count"] * (1 - e["calibrated_precision"]))

    query = PREVIEW.replace("sinceTraining", "sinceTraining calibratedPrecision calibratedExpectedWrong")
    graph = await gql(server, query, {"d": dataset.id, "m": model, "t": 0.5, "label": a})
    estimate = graph["probabilityCandidates"]["estimate"]
    assert estimate["calibratedPrecision"] == e["calibrated_precision"]
    assert estimate["calibratedExpectedWrong"] == e["calibrated_expected_wrong"]

    page = (await server.get(f"/datasets/{dataset.id}/probability", params={**params, "label": a})).text
    weighted = by_id(parse(page), "estimate-calibrated")
    assert weighted is not None and f"{100 * e['calibrated_precision']:.0f}%" in text_of(weighted)
    assert "Of the 9 labeled held-out items above the threshold" in text_of(
        by_id(parse(page), "estimate-plain")
    )
    assert "8 right: 89%" in text_of(by_id(parse(page), "estimate-plain"))

    refused = await server.post(
        f"{API}/datasets/{dataset.id}/probability/apply",
        json={"model_id": model, "threshold": 0.5, "label_id": a, "confirm_over": 0},
    )
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    calibrated = f"{e['calibrated_precision']:.1%}"
    assert (
        f"estimated precision {calibrated} (calibrated to the batch's scores and the unlabeled items' "
        "classes)" in message
    )
    assert "of the 9 held-out labeled items above the threshold, 8 right (88.9%)" in message

    get_settings.cache_clear()
    cli = CliRunner(env=env_of(guided_settings))
    args = ["label-by-probability", dataset.name, "--model", str(model), "--threshold", "0.5"]
    dry = await invoke(cli, [*args, "--class", "a", "--dry-run"])
    get_settings.cache_clear()
    assert dry.exit_code == 0, dry.output
    # the calibrated figure leads, the plain share follows (it led with the plain share)
    lead = f"estimated precision {e['calibrated_precision']:.1%} (calibrated"
    assert lead in dry.output and "of the 9 held-out labeled items above the threshold, 8 right" in dry.output
    assert dry.output.index(lead) < dry.output.index("8 right")


async def test_the_page_leads_with_the_calibrated_precision_and_gives_the_plain_share_second(server, dataset):
    """Where the plain share above the threshold (8 of 9) and the calibrated figure differ, the bold
    precision, its wrong labels and the confirmation are the calibrated ones (what the queue would
    promise for these items); the plain share follows as its own line."""
    a, model = await similarity_page_of_a(server, dataset.id)
    params = {"model_id": model, "threshold": 0.5, "confirm_over": 0}
    preview = await server.get(f"{API}/datasets/{dataset.id}/probability", params={**params, "label_id": a})
    e = preview.json()["estimate"]
    calibrated, plain = f"{100 * e['calibrated_precision']:.0f}%", f"{100 * e['precision']:.0f}%"
    assert calibrated != plain == "89%"

    page = parse(
        (await server.get(f"/datasets/{dataset.id}/probability", params={**params, "label": a})).text
    )
    assert text_of(by_id(page, "estimate-precision")) == calibrated
    assert text_of(by_id(page, "estimate-wrong")) == str(e["calibrated_expected_wrong"])
    headline = text_of(by_id(page, "estimate-calibrated"))
    assert headline.startswith(f"Estimated precision {calibrated}") and plain not in headline
    assert text_of(by_id(page, "estimate-plain")).startswith(
        "Of the 9 labeled held-out items above the threshold (from validation.npz), 8 right: 89%"
    )
    confirm = text_of(by_id(page, "confirm-batch"))
    assert f"estimated precision {calibrated}, about {e['calibrated_expected_wrong']} wrong" in confirm
    assert f"{plain} of the held-out labeled items above the threshold right" in confirm
    form = by_id(page, "apply-form")
    assert float(attr(form, "data-precision")) == e["calibrated_precision"]


def test_the_lead_figure_is_the_plain_share_where_there_is_no_calibrated_one():
    plain = BatchEstimate("oof.npz", 10, 9, 0.9, 40, 4)
    assert (plain.lead_precision, plain.lead_expected_wrong) == (0.9, 4)
    assert plain.lead_note() == "estimated precision 90.0%, about 4 wrong labels"
    both = BatchEstimate("oof.npz", 10, 9, 0.9, 40, 4, calibrated_precision=0.7, calibrated_expected_wrong=12)
    assert (both.lead_precision, both.lead_expected_wrong) == (0.7, 12)
    assert both.lead_note().startswith("estimated precision 70.0% (calibrated")
    assert both.lead_note().endswith("of the 10 held-out labeled items above the threshold, 9 right (90.0%)")


async def test_the_page_says_how_many_of_its_count_are_flagged_beside_the_stopping_count(server, dataset):
    """All classes at >= 0.5: the batch counts the far item the guardrails flag, "Where to stop"
    does not; both counts say so in words, not only the small print under the gallery."""
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 15)
    model = await trained(server, dataset.id, "test-oracle")
    params = {"model_id": model, "threshold": 0.5, "label": "all"}
    page = parse((await server.get(f"/datasets/{dataset.id}/probability", params=params)).text)
    assert (
        text_of(by_id(page, "probability-count")) == "15" and text_of(by_id(page, "stopping-count")) == "14"
    )
    assert text_of(by_id(page, "probability-flagged")) == "1 of them flagged by the guardrails"
    assert (
        text_of(by_id(page, "stopping-flagged"))
        == "(the 15 above less the 1 flagged by the guardrails, which stay for you to label)"
    )
    one_class = parse(
        (await server.get(f"/datasets/{dataset.id}/probability", params={**params, "label": classes[2]})).text
    )
    assert text_of(by_id(one_class, "probability-flagged")) == "1 of them flagged by the guardrails"
    assert maybe_one(one_class, "//*[@id='stopping-flagged']") is None  # another batch than the rest's


async def test_bad_thresholds_foreign_models_and_deleted_classes_are_refused_cleanly(
    server, dataset, session, guided_settings, folder: Path
):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 9)
    model = await trained(server, dataset.id, "test-oracle")
    other = await make_dataset(session, guided_settings, folder / "other", count=12)
    other_ids = await item_ids(server, other.id)
    other_classes = await three_classes(server, other.id)
    await label_by_rule(server, other.id, other_ids, other_classes, 6)
    foreign = await trained(server, other.id, "test-oracle")
    url = f"{API}/datasets/{dataset.id}/probability"
    before = len(await events(server, dataset.id))

    for t in (1.5, -0.1):
        bad = await server.get(url, params={"model_id": model, "threshold": t})
        assert bad.status_code == 400
        bad = await server.post(f"{url}/apply", json={"model_id": model, "threshold": t, "all_classes": True})
        assert bad.status_code == 400 and "threshold" in bad.text
    alien = await server.post(
        f"{url}/apply", json={"model_id": foreign, "threshold": 0.5, "all_classes": True}
    )
    assert (
        alien.status_code == 400 and alien.json()["error"]["details"]["reason"] == "model_of_another_dataset"
    )
    assert (await server.delete(f"{API}/classes/{classes[0]}")).status_code == 200
    after_delete = len(await events(server, dataset.id))
    gone = await server.post(
        f"{url}/apply", json={"model_id": model, "threshold": 0.5, "label_id": classes[0]}
    )
    assert gone.status_code == 404 and f"label class {classes[0]} does not exist" in gone.text
    suspects = await server.get(f"{API}/datasets/{dataset.id}/label-suspects", params={"model_id": foreign})
    assert suspects.status_code == 400
    assert after_delete == before + 1  # only the delete's own unlabel event


async def test_suspected_wrong_labels_are_listed_first_and_a_review_is_an_event(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    flipped = (3, 7)
    await label_by_rule(server, dataset.id, ids, classes, 24, wrong=flipped)
    model = await trained(server, dataset.id, "test-oracle")

    url = f"{API}/datasets/{dataset.id}/label-suspects"
    page = (await server.get(url, params={"model_id": model})).json()
    top = page["suspects"][: len(flipped)]
    assert {s["item_id"] for s in top} == {ids[i] for i in flipped}
    assert all(s["score"] > 0.6 and s["confident_learning"] is not None for s in top)
    assert {s["suggested_label_id"] for s in top} == {classes[i % 3] for i in flipped}
    assert page["sources"] == ["confident learning (cleanlab)", "latent-space neighbours"]
    graph = (await gql(server, SUSPECTS, {"d": dataset.id, "m": model}))["labelSuspects"]
    assert [s["itemId"] for s in graph["suspects"]] == [s["item_id"] for s in page["suspects"]]

    review_page = (await server.get(f"/datasets/{dataset.id}/review", params={"model_id": model})).text
    suspect = by_id(parse(review_page), f"suspect-{ids[3]}")
    assert all_of(suspect, ".//button[@data-review='keep']")
    kept = await server.post(
        f"{API}/datasets/{dataset.id}/review", json={"item_id": ids[3], "action": "keep", "model_id": model}
    )
    assert kept.status_code == 201 and kept.json()["kind"] == "review"
    relabel = (await gql(server, REVIEW, {"d": dataset.id, "i": ids[7], "l": classes[7 % 3]}))["reviewLabel"]
    assert relabel == {"kind": "review", "tagCount": 1}
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[ids[7]] == [classes[1]] and labels[ids[3]] == [classes[1]]
    remaining = (await server.get(url, params={"model_id": model})).json()["suspects"]
    assert not {s["item_id"] for s in remaining} & {ids[3], ids[7]}

    bad = await server.post(
        f"{API}/datasets/{dataset.id}/review", json={"item_id": ids[0], "action": "maybe"}
    )
    assert bad.status_code == 400


SINCE_TRAINING = """
query($d: Int!, $m: Int!) {
  labelSuspects(datasetId: $d, modelId: $m) { labeledSinceTraining suspects { itemId } } }
"""
SUSPECT_FITNESS = """
query($d: Int!, $m: Int!) { labelSuspects(datasetId: $d, modelId: $m) { total fitness { status reason } } }
"""


async def test_the_review_never_defaults_to_an_unfit_classifier_and_shows_its_suspects_only_when_asked(
    server, dataset
):
    """With only an unfit classifier the review page picked it and listed its suspects (mostly right
    labels, each one key from being overwritten). It names the model and why it is unfit, and lists
    suspects only when the person asks for that model anyway; then the verdict sits beside every
    relabel button. The suspects' REST and GraphQL pages carry the model's fitness."""
    ids = await item_ids(server, dataset.id)
    a, b, c = await three_classes(server, dataset.id)
    for k, label in enumerate((a, b, c)):
        await tag(server, dataset.id, ids[4 * k : 4 * k + 4], label)
    unfit = await trained(server, dataset.id, "test-one-class")

    url = f"{API}/datasets/{dataset.id}/label-suspects"
    listed = (await server.get(url, params={"model_id": unfit})).json()
    assert listed["total"] > 0 and listed["fitness"]["status"] == "unfit"
    graph = (await gql(server, SUSPECT_FITNESS, {"d": dataset.id, "m": unfit}))["labelSuspects"]
    assert graph["fitness"]["status"] == "unfit" and "no better than" in graph["fitness"]["reason"]

    doc = parse((await server.get(f"/datasets/{dataset.id}/review")).text)
    assert not all_of(doc, "//*[@id='suspects']//figure") and not all_of(doc, "//*[@data-review]")
    assert maybe_one(doc, "//*[@id='suspect-count']") is None
    assert "unfit" in text_of(one(doc, "//*[@id='suspects']//*[@role='alert']"))
    (row,) = all_of(by_id(doc, "unfit-models"), "li")
    assert row.get("data-model") == str(unfit) and "no better than always answering one class" in text_of(row)
    options = all_of(doc, "//select[@name='model_id']/option")
    assert [o.get("value") for o in options if o.get("selected") is not None] == [""]
    assert text_of(options[-1]).endswith("unfit")

    chosen = parse((await server.get(f"/datasets/{dataset.id}/review", params={"model_id": unfit})).text)
    assert "Unfit model:" in text_of(by_id(chosen, "model-fitness"))
    assert not all_of(chosen, "//*[@data-review]")
    anyway = by_id(chosen, "override-unfit").get("href")
    assert anyway == f"/datasets/{dataset.id}/review?model_id={unfit}&override_unfit=1"

    shown = parse((await server.get(anyway)).text)
    assert "Unfit model:" in text_of(by_id(shown, "model-fitness"))
    tiles = all_of(shown, "//figure[contains(@class, 'suspect')]")
    assert len(tiles) == listed["total"] == int(text_of(by_id(shown, "suspect-count")))
    for tile in tiles:  # the verdict beside each relabel button; an answer keeps the override
        form = one(tile, ".//form")
        assert text_of(one(form, f".//*[{has_class('unfit-mark')}]")) == "unfit model"
        assert one(form, ".//input[@name='override_unfit']").get("value") == "1"


async def test_labels_given_since_a_classifiers_training_are_none_of_its_suspects(server, dataset):
    """A person shown the classifier's class overrules it on two items after its training; the
    review offered exactly those two first, each "-> the classifier's class" (its hidden-layer
    neighbours, its only witness of a label it never trained on). A model judges only the labels
    it trained on: the labels since are left out, counted, until a retrain judges them."""
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 12, wrong=(3,))  # 3: a wrong label it trains on
    model = await trained(server, dataset.id, "test-oracle")
    overruled = (12, 13)
    for i in range(12, 24):  # the oracle's class accepted, or overruled on 12 and 13
        await tag(server, dataset.id, [ids[i]], classes[(i % 3 + (1 if i in overruled else 0)) % 3])

    url = f"{API}/datasets/{dataset.id}/label-suspects"
    page = (await server.get(url, params={"model_id": model})).json()
    listed = {s["item_id"] for s in page["suspects"]}
    assert ids[3] in listed and not listed & {ids[i] for i in range(12, 24)}
    assert page["labeled_since_training"] == 12
    graph = (await gql(server, SINCE_TRAINING, {"d": dataset.id, "m": model}))["labelSuspects"]
    assert graph["labeledSinceTraining"] == 12 and {s["itemId"] for s in graph["suspects"]} == listed

    doc = parse((await server.get(f"/datasets/{dataset.id}/review", params={"model_id": model})).text)
    assert {int(t.get("data-id")) for t in all_of(doc, "//figure[contains(@class, 'suspect')]")} == listed
    note = text_of(by_id(doc, "labeled-since"))
    assert note.startswith("12 items labeled since this classifier's training") and "Retrain" in note

    queue = (await server.get(f"{API}/datasets/{dataset.id}/next-actions")).json()
    offered = [s for s in queue["suggestions"] if s["kind"] == "review_suspects"]
    assert [s["item_ids"] for s in offered] == [[ids[3]]]  # the queue's review: the same rule

    retrained = await trained(server, dataset.id, "test-oracle")  # now it judges them
    again = (await server.get(url, params={"model_id": retrained})).json()
    assert {ids[i] for i in overruled} <= {s["item_id"] for s in again["suspects"]}
    assert again["labeled_since_training"] == 0


async def test_probability_batches_flag_the_far_item_and_can_leave_it_out(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 15)
    model = await trained(server, dataset.id, "test-oracle")
    params = {"model_id": model, "threshold": 0.5, "label_id": classes[2]}
    preview = (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()
    assert preview["count"] == 5 and preview["flagged_count"] == 1  # items 17, 20, 23, 26, 29
    assert [f["item_id"] for f in preview["flags"]] == [ids[29]]
    assert "far from the batch" in preview["flags"][0]["reasons"][0] and "MAD" in preview["flag_rule"]

    page_params = {"model_id": model, "threshold": 0.5, "label": classes[2]}
    page = parse((await server.get(f"/datasets/{dataset.id}/probability", params=page_params)).text)
    far = by_id(page, f"tile-{ids[29]}")
    assert "flagged" in css_classes(far) and flag_badges(far) and by_id(page, "flag-rule") is not None
    assert "f" in keys(page)
    assert by_id(page, "exclude-flagged") is not None

    flags = await server.post(
        f"{API}/datasets/{dataset.id}/batch-flags",
        json={"model_id": model, "item_ids": ids[24:30], "label_id": classes[0]},
    )
    assert flags.status_code == 200
    reasons = {f["item_id"]: " ".join(f["reasons"]) for f in flags.json()["flags"]}
    assert "nearest labeled items carry another class" in reasons[ids[25]]  # rule class b, asked a

    body = {"model_id": model, "threshold": 0.5, "label_id": classes[2], "exclude_flagged": True}
    done = await server.post(f"{API}/datasets/{dataset.id}/probability/apply", json=body)
    assert done.status_code == 201 and done.json()["labeled"] == 4
    labeled = {r["item_id"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()}
    assert ids[29] not in labeled and ids[26] in labeled


async def test_flagged_items_left_out_are_no_rejection_unless_deselected_by_hand(server, dataset):
    """ "Leave the flagged out" says nothing of their class: no rejection. A flagged item the
    person also deselected on its own is one (it was dropped unrecorded when both were asked)."""
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 15)
    model = await trained(server, dataset.id, "test-oracle")
    body = {"model_id": model, "threshold": 0.5, "label_id": classes[2], "exclude_flagged": True}
    url = f"{API}/datasets/{dataset.id}"
    done = await server.post(
        f"{url}/probability/apply", json={**body, "rejected_item_ids": [ids[29], ids[17]]}
    )
    assert done.status_code == 201, done.text
    assert done.json()["labeled"] == 3 and done.json()["event"]["parameters"]["rejected"] == 2
    found = (await server.get(f"{url}/rejections")).json()["rejections"]
    assert {(r["item_id"], r["label_id"]) for r in found} == {(ids[29], classes[2]), (ids[17], classes[2])}

    # the flagged item alone left out ("f"): labeled nothing of it, recorded nothing
    undo = await server.post(f"{API}/events/{done.json()['event']['id']}/undo")
    assert undo.status_code in (200, 201), undo.text
    again = await server.post(f"{url}/probability/apply", json=body)
    assert again.status_code == 201 and again.json()["labeled"] == 4, again.text
    assert (await server.get(f"{url}/rejections")).json()["rejections"] == []


async def test_the_explorer_gallery_badges_the_flagged_items_of_the_whole_selection(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 15)
    model = await trained(server, dataset.id, "test-oracle")
    headers = await csrf_headers(server, f"/datasets/{dataset.id}/explorer?model_id={model}")
    url = f"/datasets/{dataset.id}/explorer/gallery"

    # the far item is on the second page of the selection: judged on all of it, listed for "f"
    page = await server.post(url, json={"model_id": model, "item_ids": ids, "limit": 24}, headers=headers)
    assert page.status_code == 200, page.text
    first = parse(page.text)
    assert (
        attr(by_id(first, "gallery-flags"), "data-flagged") == str(ids[29])
        and by_id(first, "flag-rule") is not None
    )
    assert "1 flagged" in page.text and "f" in keys(first) and "median + 3 x MAD" in page.text
    assert len(guided_tiles(first)) == 24 and maybe_one(first, f"//*[@id='tile-{ids[29]}']") is None
    # its tiles use the dataset's display preset, as every page does
    display = {"scale": "sqrt", "colormap": "viridis"}
    changed = await server.patch(f"{API}/datasets/{dataset.id}", json={"display": display})
    assert changed.status_code == 200, changed.text
    shown = await server.post(url, json={"model_id": model, "item_ids": ids, "limit": 24}, headers=headers)
    assert "scale=sqrt" in shown.text and "cmap=viridis" in shown.text
    second = await server.post(
        url, json={"model_id": model, "item_ids": ids, "offset": 24, "limit": 24}, headers=headers
    )
    far = by_id(parse(second.text), f"tile-{ids[29]}")
    badges = flag_badges(far)
    assert "flagged" in css_classes(far) and badges and "far from the batch" in attr(badges[0], "title")
    assert len(guided_tiles(parse(second.text))) == 6

    # checked against class a, the items of b and c are flagged by their labeled neighbours too
    against = await server.post(
        url, json={"model_id": model, "item_ids": ids, "label_id": classes[0]}, headers=headers
    )
    judged = parse(against.text)
    flagged = [int(i) for i in attr(by_id(judged, "gallery-flags"), "data-flagged").split(",")]
    assert set(flagged) >= {ids[1], ids[2], ids[29]} and ids[0] not in flagged and ids[3] not in flagged
    assert (
        maybe_one(judged, "//*[@id='flag-class-note']") is None
        and by_id(first, "flag-class-note") is not None
    )

    other = await server.post(
        url, json={"model_id": model, "item_ids": ids, "label_id": 999999}, headers=headers
    )
    assert other.status_code == 400
    unknown = await server.post(url, json={"model_id": model, "item_ids": [999999]}, headers=headers)
    assert unknown.status_code == 404


def test_guardrail_rules_flag_outliers_and_disagreeing_neighbours():
    from backend.guided.guardrails import flag_batch

    rng = np.random.default_rng(0)
    vectors = np.vstack([np.array([1.0, 0.0, 0.0]) + 0.01 * rng.standard_normal((20, 3)), [[0.0, 0.0, 1.0]]])
    vectors = np.vstack([vectors, np.array([0.0, 1.0, 0.0]) + 0.01 * rng.standard_normal((5, 3))])
    ids = np.arange(100, 126)
    current = {int(i): frozenset({7}) for i in ids[:10]} | {int(i): frozenset({8}) for i in ids[21:]}
    batch = [int(i) for i in ids[10:21]]
    flags = flag_batch(batch, [7] * len(batch), ids, vectors, current, mads=3.0, neighbours=5)
    assert set(flags.flags) == {120}  # the outlier: far, and its nearest labeled items are class 8
    assert len(flags.flags[120]) == 2 and "median + 3 x MAD" in flags.rule
    unlabeled_class = flag_batch(batch, [None] * len(batch), ids, vectors, current)
    assert set(unlabeled_class.flags) == {120} and len(unlabeled_class.flags[120]) == 1
    assert not flag_batch(batch[:3], [7] * 3, ids, vectors, {}).flags  # too small to judge, no labels


def test_the_held_out_figures_mark_a_one_class_answer_no_better_than_the_baseline():
    from workers.algorithms.quality import quality_figures

    true = np.array([0, 0, 0, 1, 1, 2])
    one_class = np.tile([0.9, 0.05, 0.05], (6, 1))
    figures = quality_figures(true, one_class, np.array([0, 0, 0, 1, 2]), ["a", "b", "c"])
    assert figures["accuracy"] == figures["baseline_accuracy"] == 0.5 and figures["predicted_classes"] == 1
    assert figures["per_class_recall"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert figures["confusion"]["matrix"] == [[3, 0, 0], [2, 0, 0], [1, 0, 0]]


async def test_the_similarity_gallery_badges_items_whose_labeled_neighbours_disagree(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 15)
    model = await trained(server, dataset.id, "test-oracle")
    page = (
        await server.get(f"/datasets/{dataset.id}/similar", params={"item_id": ids[0], "model_id": model})
    ).text
    doc = parse(page)
    assert by_id(doc, "flag-rule") is not None and "deselect flagged items" in page
    # the query is labeled a: an unlabeled item of class b (position 16) is badged, one of a (18) not
    assert flag_badges(by_id(doc, f"tile-{ids[16]}")) and not flag_badges(by_id(doc, f"tile-{ids[18]}"))


async def test_a_reviewed_label_stays_a_neighbour_of_the_other_suspects(server, dataset):
    # a kept or relabeled item is judged, so no suspect any more, but its label is the surest
    # evidence there is: the other items' neighbour disagreement still counts it (one keep once
    # took three other suspects off the page)
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    flipped = (3, 6, 7)  # 3 and 6: the same true class, the same wrong label, neighbours
    await label_by_rule(server, dataset.id, ids, classes, 24, wrong=flipped)
    model = await trained(server, dataset.id, "test-oracle")
    url = f"{API}/datasets/{dataset.id}/label-suspects"

    def scores(page: dict[str, Any]) -> dict[int, tuple[float, float | None]]:
        return {s["item_id"]: (s["score"], s["neighbour_disagreement"]) for s in page["suspects"]}

    before = scores((await server.get(url, params={"model_id": model, "limit": 100})).json())
    assert {ids[i] for i in flipped} <= set(before)
    kept = await server.post(
        f"{API}/datasets/{dataset.id}/review", json={"item_id": ids[3], "action": "keep", "model_id": model}
    )
    assert kept.status_code == 201
    after = scores((await server.get(url, params={"model_id": model, "limit": 100})).json())
    assert ids[3] not in after
    assert after == {i: s for i, s in before.items() if i != ids[3]}


async def test_the_queues_review_offers_the_review_pages_first_suspects_and_counts_them_all(
    server, session, guided_settings, folder
):
    """The queue said "Review 20 suspected wrong labels" where the review page it opens listed 28:
    it names the first 20 (MAX_SUSPECTS) and said nothing of the rest. With a feature extractor
    beside the classifier it also judged by the extractor's neighbours, the page by the
    classifier's own, so its 20 were not the page's first 20. Now they are, and the title says
    how many there are in all."""
    many = await make_dataset(session, guided_settings, folder / "many", count=60)
    ids = await item_ids(server, many.id)
    classes = await three_classes(server, many.id)
    for i in range(59):  # every other item labeled against the oracle's class
        await tag(server, many.id, [ids[i]], classes[(i % 3 + (i + 1) % 2) % 3])
    await pca_model(server, many.id)  # a feature extractor: the queue's vectors for its batches
    model = await trained(server, many.id, "test-oracle")
    url = f"{API}/datasets/{many.id}/label-suspects"
    page = (await server.get(url, params={"model_id": model, "limit": 100})).json()
    total = page["total"]
    assert total > 20

    queue = (await server.get(f"{API}/datasets/{many.id}/next-actions")).json()
    offered = [s for s in queue["suggestions"] if s["kind"] == "review_suspects"]
    assert [s["item_ids"] for s in offered] == [[s["item_id"] for s in page["suspects"][:20]]]
    assert offered[0]["title"] == f"Review the 20 most suspect of {total} suspected wrong labels"
    doc = parse((await server.get(f"/datasets/{many.id}/review", params={"model_id": model})).text)
    assert text_of(by_id(doc, "suspect-count")) == str(total)


async def test_the_label_page_links_the_review_of_suspected_labels(server, dataset):
    """Nothing on the label page led to the review page: only a Next actions suggestion (there
    while the queue has suspects) or its typed address. It sits among the label page's tools."""
    doc = parse((await server.get(f"/datasets/{dataset.id}/label")).text)
    link = by_id(doc, "review-link")
    assert link is not None and text_of(link) == "Review labels"
    assert attr(link, "href") == f"/datasets/{dataset.id}/review"
    assert attr(by_id(doc, "history-link").getparent(), "class") == attr(link.getparent(), "class")
    assert (await server.get(attr(link, "href"))).status_code == 200


async def test_the_queues_review_says_its_hit_rate_is_a_prior_until_a_suspect_is_reviewed(server, dataset):
    """A walk read "25% of reviewed suspects found wrong so far" before any suspect was reviewed:
    the figure is the prior then, and the reason says so; after a review it is the reviews'."""
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 24, wrong=(3, 6, 7))
    model = await trained(server, dataset.id, "test-oracle")

    async def reason() -> tuple[str, list[int]]:
        found = (await server.get(f"{API}/datasets/{dataset.id}/next-actions")).json()
        (review,) = [s for s in found["suggestions"] if s["kind"] == "review_suspects"]
        return review["reason"], review["item_ids"]

    before, suspects = await reason()
    assert "none reviewed yet" in before and "so far" not in before, before
    kept = await server.post(
        f"{API}/datasets/{dataset.id}/review",
        json={"item_id": suspects[0], "action": "keep", "model_id": model},
    )
    assert kept.status_code == 201, kept.text
    after, _ = await reason()
    assert "of reviewed suspects found wrong so far" in after and "none reviewed" not in after, after


async def test_a_kept_suspect_is_not_counted_as_labeled_since_the_training(server, dataset):
    """A walk kept 28 suspects (their labels unchanged, the ones the model trained on) and the
    review page's "items labeled since this classifier's training" grew by 28: a keep re-states
    the label the model saw, so it neither counts there nor joins the held-out items."""
    ids = await item_ids(server, dataset.id)
    classes = await three_classes(server, dataset.id)
    await label_by_rule(server, dataset.id, ids, classes, 24, wrong=(3, 6, 7))
    model = await trained(server, dataset.id, "test-oracle")
    url = f"{API}/datasets/{dataset.id}/label-suspects"
    page = (await server.get(url, params={"model_id": model, "limit": 100})).json()
    assert page["labeled_since_training"] == 0 and page["suspects"]
    kept = page["suspects"][0]["item_id"]
    answer = await server.post(
        f"{API}/datasets/{dataset.id}/review", json={"item_id": kept, "action": "keep", "model_id": model}
    )
    assert answer.status_code == 201, answer.text
    after = (await server.get(url, params={"model_id": model, "limit": 100})).json()
    assert after["labeled_since_training"] == 0, after["labeled_since_training"]
    assert kept not in {s["item_id"] for s in after["suspects"]}  # judged: no suspect any more
    doc = parse((await server.get(f"/datasets/{dataset.id}/review", params={"model_id": model})).text)
    assert maybe_one(doc, "//*[@id='labeled-since']") is None
    relabeled = after["suspects"][0]["item_id"]  # a label changed since still counts
    await tag(
        server,
        dataset.id,
        [relabeled],
        classes[0] if after["suspects"][0]["label_id"] != classes[0] else classes[1],
    )
    again = (await server.get(url, params={"model_id": model, "limit": 100})).json()
    assert again["labeled_since_training"] == 1
