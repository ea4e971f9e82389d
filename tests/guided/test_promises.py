"""The product's promises against what it delivers.

With a real trained classifier (the dense head on azimuthal descriptors of generated scattering
frames; label class ids are not 0..C-1 and the classes were created in an order unlike the
demo's): the stopping estimate's accuracy against what "auto-label the rest" writes, and the
probability batches' expected precision against their measured one. Then the review of suspects
on a set whose labels are all right: "about N may be wrong" must say few.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from backend.demo import DEMO_CLASSES
from backend.guided import next_actions, stopping
from backend.guided.review import LabelIssues, find_suspects, wrong_probability
from backend.guided.suggest_math import wilson_lower
from backend.labels.classes import create_class
from backend.storage.tables import Tag
from tests.helpers.azimuthal import run_job
from tests.helpers.classifier import demo_dataset, label
from tests.helpers.feature_report import features_of
from tests.helpers.jobs import job_settings, jobs_client  # noqa: F401  (fixtures)


def test_a_handful_of_held_out_items_all_right_does_not_promise_certainty():
    assert wilson_lower(9, 9) < 0.8 and wilson_lower(0, 0) == 0.0
    assert 0.97 < wilson_lower(1000, 1000) < 1.0
    held = np.full(9, 0.99)
    accuracy, support = stopping.calibrated_accuracy(held, np.ones(9, bool), np.full(9, 0.99), 0.9)
    assert support == 9 and accuracy == pytest.approx(wilson_lower(9, 9))
    many = np.full(2000, 0.99)
    assert stopping.calibrated_accuracy(many, np.ones(2000, bool), many, 0.9)[0] > 0.99


def test_suspects_of_a_well_labeled_set_promise_few_wrong_labels():
    rng = np.random.default_rng(3)
    n, classes = 400, 4
    given = rng.integers(0, classes, n)  # every label right
    # a calibrated but mediocre model: right 80% of the time, its probability says how sure
    sure = rng.uniform(0.4, 1.0, n)
    right = rng.uniform(size=n) < sure
    predicted = np.where(right, given, (given + rng.integers(1, classes, n)) % classes)
    probs = np.full((n, classes), 0.0)
    probs[np.arange(n), predicted] = sure
    rest = (1 - sure) / (classes - 1)
    probs += np.where(probs == 0, rest[:, None], 0)
    self_confidence = probs[np.arange(n), given]
    ids = np.arange(100, 100 + n)
    issues = LabelIssues(ids, given + 10, self_confidence.astype(np.float32), self_confidence < 0.3)
    found = find_suspects({int(i): int(g) + 10 for i, g in zip(ids, given, strict=True)}, issues, None, None)
    assert len(found) >= 20  # the model's own mistakes look like label errors ...
    promised = sum(wrong_probability(s) for s in found[:20])
    assert promised <= 5  # ... but 20 of them do not promise 19 wrong labels (none is)
    assert sum(s.score for s in found[:20]) > 10  # what the suggestion used to promise


@pytest.mark.ml
async def test_promises_of_a_real_classifier_hold(session, job_settings, folder, jobs_client):  # noqa: F811
    demo = await demo_dataset(session, job_settings, folder, count=180, size=64, class_names=())
    await create_class(session, demo.id, "unused", "#000000", "9")  # ids do not start at 0 or 1
    for name, color, _ in reversed(DEMO_CLASSES):  # created in the reverse of the demo's order
        demo.classes[name] = (await create_class(session, demo.id, name, color, None)).id
    labeled = sorted(demo.truth)[::2]
    await label(session, demo, labeled)
    features = await features_of(jobs_client, demo.id, "azimuthal")
    body = {
        "kind": "train",
        "dataset_id": demo.id,
        "algorithm": "vector_classifier",
        "parameters": {"feature_model": features, "epochs": 30, "folds": 5},
    }
    model_id = (await run_job(jobs_client, body))["model_id"]
    await run_job(jobs_client, {"kind": "infer", "model_id": model_id})
    name_of = {class_id: name for name, class_id in demo.classes.items()}

    answer = await next_actions.next_actions(session, job_settings, demo.id, limit=20)
    batches = [s for s in answer.suggestions if s.kind == "probability_batch"]
    promised = sum(s.expected_precision * len(s.item_ids) for s in batches)
    measured = sum(demo.truth[i] == name_of[s.label_id] for s in batches for i in s.item_ids)
    written = sum(len(s.item_ids) for s in batches)
    assert written  # the batches together keep their word (the promise is a lower bound)
    assert promised / written <= measured / written + 0.05, (promised / written, measured / written)

    estimate = await stopping.stopping_estimate(session, job_settings, demo.id, threshold=0.9)
    assert estimate.model_id == model_id and estimate.held_out_items > 0
    assert "lower bound" in estimate.reason
    if estimate.auto_label_count:
        done = await stopping.auto_label_rest(
            session, job_settings, demo.id, model_id=model_id, threshold=0.9, tagger="tester"
        )
        await session.commit()
        rows = await session.execute(select(Tag.item_id, Tag.label_id).where(Tag.event_id == done.event.id))
        tags = list(rows.all())
        right = sum(demo.truth[item] == name_of[label_id] for item, label_id in tags)
        assert done.expected_accuracy <= right / len(tags) + 0.02, (done.expected_accuracy, right, len(tags))
