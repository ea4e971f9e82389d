"""What the Next actions queue says in the pages: "auto-label the rest" asks first, naming the count
and the wrong labels it expects; a rest of no items gives no accuracy; a first training is not a
retrain; a promise smoothed towards a prior does not read as a share of the items it rests on."""

from __future__ import annotations

from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader

import tests.guided.cluster_features
import tests.guided.trust_classifiers  # noqa: F401  (registers the oracle and cluster test models)
from backend.guided import next_actions as queue_module
from backend.guided import suggest_math as sm
from backend.guided.stopping import StoppingEstimate
from backend.pages import TEMPLATE_DIR
from backend.pages.next_actions import action_of, kind_text
from tests.helpers.guided import API, add_class, item_ids, of_kind, oracle, queue, run_job, tag
from tests.html import all_of, attr, parse, text_of


def _confirmations(html: str) -> list[tuple[str, str]]:
    """(hx-confirm, expected_count) of every form that auto-labels the rest."""
    forms = all_of(parse(html), "//form[contains(@hx-post, '/next/auto-label-rest')]")
    return [
        (attr(f, "hx-confirm"), attr(f.xpath(".//input[@name='expected_count']")[0], "value")) for f in forms
    ]


async def test_auto_label_the_rest_asks_first_with_its_count_and_the_wrong_labels_expected(server, dataset):
    """One click labeled 402 items unseen on the queue's page; the probability page asks first."""
    await oracle(server, dataset.id, list(range(6, 30, 2)))
    found = await queue(server, dataset.id)
    (rest,) = of_kind(found, "auto_label_rest")
    count, accuracy = found["stopping"]["auto_label_count"], found["stopping"]["expected_accuracy"]
    assert count > 0 and accuracy is not None
    n = f"{count * (1 - accuracy):.0f}"
    wrong = f"about {n} wrong label{'' if n == '1' else 's'}."
    for url, forms in ((f"/datasets/{dataset.id}/next", 2), (f"/datasets/{dataset.id}/next/panel", None)):
        shown = _confirmations((await server.get(url)).text)
        assert shown and len(shown) == (forms or len(shown)), (url, shown)  # the panel: its top 5
        for confirm, expected in shown:  # the suggestion's row and the stopping estimate's button
            unlabeled = found["stopping"]["unlabeled"]
            assert f"Label {count} of the {unlabeled} unlabeled items, those at probability ≥ 0.90" in confirm
            assert f"The other {unlabeled - count} stay unlabeled, for you to label." in confirm, confirm
            assert f"Expected accuracy {100 * accuracy:.1f}%: {wrong}" in confirm, confirm
            assert expected == str(count)  # the count confirmed is the count labeled, or a refusal
    assert rest["params"]["count"] == count
    batch = of_kind(found, "probability_batch")[0]
    assert "calibrated by a fit on" in batch["reason"], batch["reason"]


def _stopping_block(estimate: StoppingEstimate) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    return str(env.get_template("next/_macros.html").module.stopping_block(estimate, 1))


def test_a_rest_of_no_items_says_none_can_be_auto_labeled_and_gives_no_accuracy():
    """The panel said "0 of them could be auto-labeled now ... at an expected accuracy of 98%"."""
    none = StoppingEstimate(2000, 3, 0.9, 0, 0.98, [(500, 0.985)], "a reason")
    text = text_of(parse(_stopping_block(none)))
    assert "None of them could be auto-labeled yet: no unlabeled item reaches p ≥ 0.90" in text, text
    assert "could be auto-labeled now" not in text and "98%" not in text.split("With more labels")[0]
    assert "Auto-label these" not in text
    some = StoppingEstimate(2000, 3, 0.9, 402, 0.98, [], "a reason")
    html = _stopping_block(some)
    assert "402 of them could be auto-labeled now (p ≥ 0.90) at an expected accuracy of 98%" in text_of(
        parse(html)
    )
    unknown = StoppingEstimate(2000, 3, 0.9, 40, None, [], "a reason")
    assert "40 of them could be auto-labeled now (p ≥ 0.90), at an unknown accuracy" in text_of(
        parse(_stopping_block(unknown))
    )
    assert "Their accuracy is unknown" in _stopping_block(unknown)


def test_auto_labeling_some_of_the_rest_says_how_many_stay_unlabeled():
    """The walk: "Label the 8 remaining items at probability ≥ 0.90 ...?" and "Auto-label these 8 and
    stop" with 87 items unlabeled; after it 79 were still unlabeled, which nothing had said."""
    some = StoppingEstimate(87, 7, 0.9, 8, 0.912, [], "a reason", seen_event_id=85)
    html = _stopping_block(some)
    (form,) = all_of(parse(html), "//form[@id='auto-label-rest']")
    asked = attr(form, "hx-confirm")
    assert asked.startswith("Label 8 of the 87 unlabeled items, those at probability ≥ 0.90, "), asked
    assert "remaining items" not in asked and "The other 79 stay unlabeled, for you to label." in asked, asked
    assert text_of(form.xpath(".//button")[0]) == "Auto-label these 8 (79 stay unlabeled)"
    every = StoppingEstimate(5, 7, 0.9, 5, 0.96, [], "a reason")
    (form,) = all_of(parse(_stopping_block(every)), "//form[@id='auto-label-rest']")
    asked = attr(form, "hx-confirm")
    assert asked.startswith("Label all 5 unlabeled items (each at probability ≥ 0.90) "), asked
    assert "stay unlabeled" not in asked, asked
    assert text_of(form.xpath(".//button")[0]) == "Auto-label these 5 and stop"


def test_auto_labeling_one_item_of_the_rest_reads_in_the_singular():
    """A walk read "Auto-label these 1 (121 stay unlabeled)"."""
    one_of_many = StoppingEstimate(122, 7, 0.9, 1, 0.94, [], "a reason")
    (form,) = all_of(parse(_stopping_block(one_of_many)), "//form[@id='auto-label-rest']")
    assert text_of(form.xpath(".//button")[0]) == "Auto-label this one (121 stay unlabeled)"
    one_left = StoppingEstimate(3, 7, 0.9, 2, 0.94, [], "a reason")
    (form,) = all_of(parse(_stopping_block(one_left)), "//form[@id='auto-label-rest']")
    assert text_of(form.xpath(".//button")[0]) == "Auto-label these 2 (1 stays unlabeled)"
    last = StoppingEstimate(1, 7, 0.9, 1, 0.94, [], "a reason")
    (form,) = all_of(parse(_stopping_block(last)), "//form[@id='auto-label-rest']")
    assert text_of(form.xpath(".//button")[0]) == "Auto-label this one and stop"


def test_one_wrong_label_is_said_in_the_singular():
    """'about 1 wrong labels' in the auto-label confirmation and the probability page's estimate."""
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    confirm = env.get_template("next/_macros.html").module.auto_label_confirm
    assert "Expected accuracy 95.0%: about 1 wrong label. One event" in str(confirm(20, 20, 0.9, 0.95))
    assert "Expected accuracy 90.0%: about 2 wrong labels. One event" in str(confirm(20, 20, 0.9, 0.9))


async def test_the_reason_of_a_rest_of_no_items_gives_the_held_out_figure_as_theirs_not_the_rests(
    server, dataset
):
    ids, classes, _model = await oracle(server, dataset.id)
    for i in range(12, 29):  # every item at p >= 0.55 but the flagged last one
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    url = f"{API}/datasets/{dataset.id}/stopping-estimate"
    estimate = (await server.get(url, params={"threshold": 0.55})).json()
    assert estimate["auto_label_count"] == 0 and estimate["expected_accuracy"] is not None
    reason = estimate["reason"]
    assert reason.startswith("no unlabeled item at p >= 0.55 to auto-label yet; the held-out items there"), (
        reason
    )
    assert "0 of 1 unlabeled items" not in reason


async def test_when_every_item_is_labeled_the_stopping_estimate_says_so(server, dataset):
    """A walk that labeled all 500 items read "0 items unlabeled. None of them could be auto-labeled
    yet: no unlabeled item reaches p >= 0.90": nothing is left, not "yet"."""
    ids, classes, _model = await oracle(server, dataset.id)
    for i in range(12, len(ids)):
        await tag(server, dataset.id, [ids[i]], classes[i % 3])
    estimate = (await server.get(f"{API}/datasets/{dataset.id}/stopping-estimate")).json()
    assert estimate["unlabeled"] == 0 and estimate["model_id"] is not None
    assert estimate["reason"].startswith("every item is labeled: nothing is left to auto-label"), estimate[
        "reason"
    ]
    assert "yet" not in estimate["reason"] and "unknown" not in estimate["reason"]
    shown = StoppingEstimate(0, 3, 0.9, 0, 0.98, [], "a reason")
    text = text_of(parse(_stopping_block(shown)))
    assert "Every item is labeled: nothing is left to auto-label." in text, text
    assert "None of them" not in text and "Auto-label these" not in text


async def test_a_first_training_is_tagged_as_one_and_a_retrain_as_a_retrain(server, dataset):
    ids = await item_ids(server, dataset.id)
    classes = [await add_class(server, dataset.id, name) for name in ("a", "b")]
    job = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"})
    await run_job(server, {"kind": "infer", "model_id": job["model_id"]})
    for i in range(12):
        await tag(server, dataset.id, [ids[i]], classes[i % 2])
    (first,) = of_kind(await queue(server, dataset.id), "retrain")
    assert first["title"] == "Train a classifier on the best features" and first["model_id"] is None
    # no feature report on this dataset: the expected labels are not the report's
    assert first["reason"].endswith("(expected labels: a prior of one half, no feature report yet)"), first[
        "reason"
    ]
    page = parse((await server.get(f"/datasets/{dataset.id}/next")).text)
    (tag_text,) = [text_of(s) for s in all_of(page, "//li[@data-kind='retrain']//span[@class='kind muted']")]
    assert tag_text == "first training"
    again = queue_module.Suggestion(
        "k", "retrain", "Retrain the classifier", "", 1.0, 1.0, None, [], None, 7, None, {}
    )
    assert kind_text(again) == "retrain"


def _cut(precision: float, support: int, source: str) -> Any:
    return sm.Cut(np.arange(9), 0.8, precision, support, source)


def test_a_smoothed_promise_does_not_read_as_a_share_of_the_items_behind_it():
    """9 labeled items, all right, promise (9 + 2 x 0.5) / 11 = 90.9%: no share of 9 items is that."""
    similar = queue_module._similarity_precision(_cut(10 / 11, 9, "labeled items (leave one out)"))
    assert similar.startswith("expected precision 90.9% (an estimate: the class's share of the 9 labeled"), (
        similar
    )
    assert "smoothed towards 50%" in similar and "from 9" not in similar
    assert "a prior: no labeled item" in queue_module._similarity_precision(_cut(0.5, 0, "labeled items"))
    held = queue_module.HeldOut(np.arange(3), np.full((3, 2), 0.5, np.float32), [1, 2], "oof.npz")
    fitted = queue_module._probability_precision(_cut(0.873, 40, queue_module._held_source(held)))
    assert fitted == (
        "expected precision 87.3% (its items' probabilities calibrated by a fit on 40 labeled items from "
        "oof.npz)"
    )
    one = queue_module._probability_precision(_cut(0.971, 1, queue_module._held_source(held)))
    assert one == (
        "expected precision 97.1% (its items' probabilities calibrated by a fit on 1 labeled item from "
        "oof.npz; few, so the promise is mostly the model's own probabilities: read the page)"
    )
    since = queue_module.HeldOut(np.arange(3), np.full((3, 2), 0.5, np.float32), [1, 2], "oof.npz", 1)
    assert queue_module._held_source(since) == "labeled items from oof.npz or labeled since the training"
    own = queue_module._probability_precision(_cut(0.8, 0, "the model's own probabilities"))
    assert own == "expected precision 80.0% (the mean of the model's own probabilities over the batch)"


async def test_auto_label_the_rest_from_the_panel_redraws_the_label_pages_gallery(server, dataset):
    """The label page's gallery kept showing the items unlabeled after its panel auto-labeled them."""
    from tests.helpers.pages import csrf_headers

    await oracle(server, dataset.id, list(range(6, 30, 2)))
    found = await queue(server, dataset.id)
    stopping = found["stopping"]
    form = {
        "model_id": str(stopping["model_id"]),
        "threshold": str(stopping["threshold"]),
        "expected_count": str(stopping["auto_label_count"]),
    }
    headers = await csrf_headers(server, f"/datasets/{dataset.id}/label")
    url = f"/datasets/{dataset.id}/next/auto-label-rest"
    assert stopping["auto_label_count"] > 0, stopping
    stale_count = str(stopping["auto_label_count"] + 1)  # the rest changed since: refused, nothing written
    stale = await server.post(url, data={**form, "expected_count": stale_count}, headers=headers)
    assert stale.status_code == 200 and "Nothing was labeled" in stale.text
    assert "hx-trigger" not in stale.headers  # nothing written: nothing to redraw
    done = await server.post(url, data=form, headers=headers)
    assert done.status_code == 200 and "Auto-labeled" in done.text, done.text
    assert done.headers.get("hx-trigger") == "refresh-gallery"


def _row(suggestion: queue_module.Suggestion) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    row = env.get_template("next/_macros.html").module.suggestion_row
    return text_of(parse(str(row(suggestion, 1, {"id": 1}, action_of, kind_text, {}))))


def test_a_jobs_figures_read_as_a_prior_of_what_it_unlocks_not_labels_it_gives():
    """ "Run the feature report: 24.0 labels/action, 24 labels for 1.0 actions" read as 24 labels
    one click would write; the job writes none, its figures are a prior of the pages it opens."""
    report = queue_module.Suggestion(
        "k", "feature_report", "Run the feature report", "why", 24.0, 1.0, None, [], None, None, None, {}
    )
    text = " ".join(_row(report).split())
    assert "≈ 24.0 labels/action · about 24 labels later, from the pages it unlocks (a prior) for 1.0" in text
    batch = queue_module.Suggestion(
        "k", "probability_batch", "Label 20 items", "why", 19.0, 2.0, 0.95, list(range(20)), 3, 7, 0.9, {}
    )
    text = " ".join(_row(batch).split())
    assert "9.5 labels/action · 19 labels for 2.0 actions" in text and "prior" not in text


async def test_before_a_first_classifier_the_queue_says_what_it_waits_for(server, dataset):
    """A walk at 28 labels over 10 classes read "no classifier yet: train one (it needs labeled
    items of at least two classes)", and no step offered one: the queue now says what a first
    classifier waits for, and the stopping estimate names the same rule."""
    a, b = await add_class(server, dataset.id, "a"), await add_class(server, dataset.id, "b")
    ids = await item_ids(server, dataset.id)
    await tag(server, dataset.id, ids[:3], a)
    await tag(server, dataset.id, ids[3:8], b)
    found = await queue(server, dataset.id)
    waits = [n for n in found["needs"] if "first classifier" in n]
    assert waits == [
        f"a first classifier waits for {queue_module.MIN_PER_CLASS} labeled items in each of two classes "
        "(1 class has them): label more"
    ], found["needs"]
    reason = found["stopping"]["reason"]
    assert "no classifier yet" in reason and f"two classes have {queue_module.MIN_PER_CLASS}" in reason
    assert "at least two classes)" not in reason

    await tag(server, dataset.id, ids[8:10], a)  # five of each: it waits for the features now
    found = await queue(server, dataset.id)
    waits = [n for n in found["needs"] if "first classifier" in n]
    assert waits == [
        "a first classifier learns from a feature extractor's features: it waits for one to be ready "
        "(the feature report, once run, picks the best one)"
    ]
    # a walk read "once ... the feature report has picked its features" beside a suggested first
    # classifier: an extractor ready is what it waits for, not the report
    reason = found["stopping"]["reason"]
    assert "a feature extractor is ready" in reason and "has picked its features" not in reason, reason


async def test_the_stopping_estimate_says_a_classifier_is_training_not_what_one_waits_for(
    guided_settings, database, dataset
):
    """A walk started the suggested first classifier, and "When to stop" went on saying Next actions
    would suggest one once the feature report had picked its features: it names the training now."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    # a server that runs no jobs: the classifier's training stays queued while the queue reads
    async with AsyncTestClient(app=create_app(guided_settings, run_jobs=False)) as idle:
        ids = await item_ids(idle, dataset.id)
        classes = [await add_class(idle, dataset.id, name) for name in ("a", "b", "c")]
        for i in range(12):
            await tag(idle, dataset.id, [ids[i]], classes[i % 3])
        assert "Next actions suggests one" in (await queue(idle, dataset.id))["stopping"]["reason"]
        submitted = await idle.post(
            f"{API}/jobs", json={"kind": "train", "dataset_id": dataset.id, "algorithm": "test-one-class"}
        )
        assert submitted.status_code == 201, submitted.text
        reason = (await queue(idle, dataset.id))["stopping"]["reason"]
        assert "no classifier yet" in reason and "suggests one" not in reason, reason
        assert f"classifier {submitted.json()['model_id']} is training" in reason


async def test_a_similarity_batch_near_a_sample_of_its_class_says_it_is_a_sample(
    session, guided_settings, folder, server
):
    """A walk read "nearest its 32 labeled item(s)" of a class that had 124: the batch is ranked
    by an even sample of them; the reason says so, and how many the class has."""
    from tests.helpers.jobs import make_dataset

    dataset = await make_dataset(session, guided_settings, folder, count=120)
    ids = await item_ids(server, dataset.id)
    a, b = await add_class(server, dataset.id, "a"), await add_class(server, dataset.id, "b")
    job = await run_job(server, {"kind": "train", "dataset_id": dataset.id, "algorithm": "test-clusters"})
    await run_job(server, {"kind": "infer", "model_id": job["model_id"]})
    many = ids[0:120:3][:40]  # the clusters' rule: cluster 0
    await tag(server, dataset.id, many, a)
    await tag(server, dataset.id, ids[1:12:3], b)
    found = of_kind(await queue(server, dataset.id), "similarity_batch")
    reasons = {s["label_id"]: s["reason"] for s in found}
    sampled = sm.query_sample(np.array(many)).size
    assert f"an even sample of {sampled} of its {len(many)} labeled items" in reasons[a], reasons[a]
    assert f"nearest its {len(ids[1:12:3])} labeled item(s)" in reasons[b], reasons[b]


def test_a_similarity_promise_resting_on_one_labeled_item_reads_in_the_singular():
    """ "the class's share of the 1 labeled items ranked as high" (a walk on the digits)."""
    one = queue_module._similarity_precision(sm.Cut(np.arange(8), 0.9, 0.6, 1, "neighbours"))
    assert "share of the 1 labeled item ranked as high" in one
    three = queue_module._similarity_precision(sm.Cut(np.arange(8), 0.9, 0.6, 3, "neighbours"))
    assert "share of the 3 labeled items ranked as high" in three


def test_the_stopping_accuracy_reads_as_a_cautious_floor_beside_the_batch_estimate():
    """A walk read the probability page's 86% batch estimate and its "Where to stop" 71.7% for
    nearly the same items as contradictory: the second is a lower bound and says so."""
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    stopping = StoppingEstimate(
        unlabeled=40, model_id=3, threshold=0.8, auto_label_count=15, expected_accuracy=0.717,
        with_more_labels=[], reason="", labeled=60, held_out_items=24,
    )  # fmt: skip
    context = {"stopping": stopping, "dataset": {"id": 1}, "label": "all", "overwrite": False, "model_id": 3}
    html = env.get_template("guided/_stopping.html").render(**context, per_page=48, confirm_over=200)
    said = text_of(parse(html).xpath("//*[@id='stopping-accuracy']/..")[0])
    assert "expected accuracy at least 71.7%" in said and "low end of what they support" in said, said
