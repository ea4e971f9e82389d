"""What accepted similarity pages held scales the next pages' promises (decision 0030): the accept
records the promise and the tiles judged wrong; pages taken back say nothing; a class whose pages
held less than promised is promised less next time, and one without pages takes the pooled ratio."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tests.guided.cluster_features  # noqa: F401  (registers the "test-clusters" features)
from backend.guided import next_actions as na
from backend.guided import suggest_math as sm
from backend.guided.page_outcomes import (
    POOLED_PRIOR_ITEMS,
    SCALE_PRIOR_ITEMS,
    PageOutcome,
    page_outcomes,
    promise_scales,
)
from tests.helpers.guided import API, accept, add_class, events, item_ids, of_kind, queue, run_job, tag


async def _features(client: Any, dataset_id: int) -> tuple[list[int], list[int]]:
    ids = await item_ids(client, dataset_id)
    classes = [await add_class(client, dataset_id, name) for name in ("a", "b", "c")]
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "test-clusters"})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    for i in range(8):  # the groups' rule: a, b, c, a, b, ...
        await tag(client, dataset_id, [ids[i]], classes[i % 3])
    return ids, classes


def test_scales_are_what_pages_held_over_what_they_promised_pulled_to_the_pooled_ratio():
    assert promise_scales([]).of(7) == 1.0
    pages = [PageOutcome(1, 0.9, 12, 12), PageOutcome(1, 0.8, 8, 0), PageOutcome(2, 0.75, 6, 2)]
    scales = promise_scales(pages)
    held, expected = 12 + 8 + 6, 0.9 * 24 + 0.8 * 8 + 0.75 * 8
    pooled = (held + POOLED_PRIOR_ITEMS) / (expected + POOLED_PRIOR_ITEMS)
    assert scales.pooled == pytest.approx(pooled)
    mine = (12 + 8 + SCALE_PRIOR_ITEMS * pooled) / (0.9 * 24 + 0.8 * 8 + SCALE_PRIOR_ITEMS)
    assert scales.of(1) == pytest.approx(mine) and mine < 1.0
    assert scales.of(2) == pytest.approx((6 + SCALE_PRIOR_ITEMS * pooled) / (6 + SCALE_PRIOR_ITEMS))
    assert scales.of(3) == pytest.approx(pooled)  # no page of its own yet


def test_a_scale_lowers_a_page_and_its_cut_and_a_low_one_drops_it():
    rng = np.random.default_rng(0)
    centre = rng.normal(size=8)
    near = [centre + rng.normal(scale=0.05, size=8) for _ in range(60)]
    vectors = np.vstack([*near, rng.normal(size=(60, 8))])
    unit = sm.unit(vectors)
    ids = np.arange(1, 121, dtype=np.int64)
    labeled_rows = np.asarray([0, 1, 2, 60, 61, 62], np.int64)
    labeled_classes = np.asarray([5, 5, 5, 6, 6, 6], np.int64)
    unlabeled = np.ones(120, bool)
    unlabeled[labeled_rows] = False
    args = (ids, unit, unlabeled, labeled_rows, labeled_classes)
    plain = sm.similarity_batches(*args, classes={5})
    assert len(plain) == 1
    halved = sm.similarity_batches(*args, classes={5}, scales=lambda c: 0.8)
    assert len(halved) == 1
    assert halved[0].cut.precision == pytest.approx(min(1.0, plain[0].cut.precision * 0.8), abs=0.05)
    assert halved[0].cut.precision < plain[0].cut.precision
    assert halved[0].cut.count <= plain[0].cut.count
    # below "more right than wrong": no page
    assert sm.similarity_batches(*args, classes={5}, scales=lambda c: 0.3) == []


async def test_an_accepted_page_records_its_promise_and_the_tiles_judged_wrong(server, dataset, session):
    _ids, classes = await _features(server, dataset.id)
    batch = next(s for s in of_kind(await queue(server, dataset.id), "similarity_batch"))
    label, members = batch["label_id"], batch["item_ids"]
    assert len(members) >= 4
    other = next(c for c in classes if c != label)
    await tag(server, dataset.id, [members[0]], other)  # labeled in place with its own class
    body = {"key": batch["key"], "item_ids": members[2:], "rejected_item_ids": [members[1]]}
    done = await accept(server, dataset.id, body)
    assert done.status_code == 201, done.text
    event = (await events(server, dataset.id))[0]
    assert event["id"] == done.json()["batch_id"]
    parameters = event["parameters"]
    assert parameters["expected_precision"] == pytest.approx(batch["expected_precision"], abs=1e-4)
    assert parameters["judged_wrong"] == 2 and parameters["label_id"] == label

    found = await page_outcomes(session, dataset.id)
    assert found == [PageOutcome(label, parameters["expected_precision"], len(members) - 2, 2)]

    # a page taken back says nothing of what pages hold
    undo = await server.post(f"{API}/events/{done.json()['batch_id']}/undo")
    assert undo.status_code in (200, 201), undo.text
    assert await page_outcomes(session, dataset.id) == []


async def test_pages_that_held_less_than_promised_lower_the_next_promises(
    server, dataset, session, guided_settings, monkeypatch
):
    """The page's own class is left with no page here (its rejected tiles sit in its cluster), so
    the other classes show it: no page of their own yet, they take the pooled ratio."""
    _ids, classes = await _features(server, dataset.id)
    batch = next(s for s in of_kind(await queue(server, dataset.id), "similarity_batch"))
    label, members = batch["label_id"], batch["item_ids"]
    assert len(members) >= 5
    # the person read four tiles, found two wrong and clicked them out, and dropped the unread tail
    body = {"key": batch["key"], "item_ids": members[2:4], "rejected_item_ids": members[:2]}
    assert (await accept(server, dataset.id, body)).status_code == 201

    async def promises() -> dict[int, float]:
        found = await na.next_actions(session, guided_settings, dataset.id, limit=50)
        return {
            int(s.label_id): float(s.expected_precision)
            for s in found.suggestions
            if s.kind == "similarity_batch" and s.label_id is not None and s.expected_precision is not None
        }

    scaled = await promises()
    found = await na.next_actions(session, guided_settings, dataset.id, limit=50)
    reasons = [s.reason for s in found.suggestions if s.kind == "similarity_batch"]
    assert reasons and all("earlier pages held" in r for r in reasons)  # the person sees why

    async def no_outcomes(*_args: Any) -> list[PageOutcome]:
        return []

    monkeypatch.setattr(na, "page_outcomes", no_outcomes)
    plain = await promises()
    others = [c for c in classes if c != label]
    assert set(others) <= set(plain)  # the same labels, the same features: only the outcome differs
    pooled = promise_scales([PageOutcome(label, batch["expected_precision"], 2, 2)]).pooled
    assert pooled < 1.0 and any(c in scaled for c in others)
    for c in others:
        assert c not in scaled or scaled[c] < plain[c]
        assert c not in scaled or scaled[c] == pytest.approx(plain[c] * pooled, abs=0.02)
