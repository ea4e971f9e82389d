"""Probability-threshold and similarity-batch labeling record what was used, and never overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.datasets.items import list_items
from backend.datasets.service import create_dataset
from backend.errors import Invalid, NotFound
from backend.guided.probability import apply_threshold, candidates, load_outputs
from backend.guided.similar import label_similar_batch
from backend.labels import classes, events, history
from tests.factories import image_folder


async def _setup(session, settings, folder: Path, tmp_path: Path):
    image_folder(folder, count=6)
    dataset, _ = await create_dataset(session, settings, f"g-{folder.name}", [str(folder)])
    ids = [e.item.id for e in (await list_items(session, dataset.id)).items]
    ring = await classes.create_class(session, dataset.id, "ring")
    arc = await classes.create_class(session, dataset.id, "arc")
    out = tmp_path / "outputs"
    out.mkdir()
    probs = np.array(
        [[0.95, 0.05], [0.80, 0.20], [0.40, 0.60], [0.10, 0.90], [0.50, 0.50], [0.97, 0.03]], np.float32
    )
    np.save(out / "probabilities.npy", probs)
    np.save(out / "item_ids.npy", np.array(ids, dtype=np.int64))
    (out / "classes.json").write_text(
        json.dumps([{"label_id": ring.id, "name": "ring"}, {"label_id": arc.id, "name": "arc"}])
    )
    return dataset.id, ids, ring.id, arc.id, out


async def test_threshold_on_one_class_labels_only_what_passes(session, settings, folder, tmp_path):
    ds, ids, ring, _, out = await _setup(session, settings, folder, tmp_path)
    outputs = load_outputs(out)
    assert [c.item_id for c in candidates(outputs, 0.9, label_id=ring)] == [ids[5], ids[0]]
    event = await apply_threshold(
        session, ds, outputs, tagger="ann", model_id=7, threshold=0.9, label_id=ring
    )
    assert event is not None and event.kind == "probability" and event.model_id == 7
    assert event.parameters["threshold"] == 0.9 and event.parameters["label_id"] == ring
    assert await history.current_labels(session, ds) == {ids[0]: {ring}, ids[5]: {ring}}


async def test_probability_labeling_never_overwrites_unless_asked(session, settings, folder, tmp_path):
    ds, ids, ring, arc, out = await _setup(session, settings, folder, tmp_path)
    await events.record_event(session, events.TagRequest(ds, "expert", [ids[0]], arc))
    outputs = load_outputs(out)
    await apply_threshold(session, ds, outputs, tagger="ann", model_id=1, threshold=0.9, label_id=ring)
    assert (await history.current_labels(session, ds))[ids[0]] == {arc}
    await apply_threshold(
        session, ds, outputs, tagger="ann", model_id=1, threshold=0.9, label_id=ring, overwrite=True
    )
    assert (await history.current_labels(session, ds))[ids[0]] == {ring}


async def test_apply_to_all_classes_uses_each_items_argmax(session, settings, folder, tmp_path):
    ds, ids, ring, arc, out = await _setup(session, settings, folder, tmp_path)
    event = await apply_threshold(session, ds, load_outputs(out), tagger="ann", model_id=1, threshold=0.6)
    assert event is not None and event.parameters["all_classes"] is True
    assert await history.current_labels(session, ds) == {
        ids[0]: {ring},
        ids[1]: {ring},
        ids[2]: {arc},
        ids[3]: {arc},
        ids[5]: {ring},
    }


async def test_nothing_passing_records_no_event(session, settings, folder, tmp_path):
    ds, _, ring, _, out = await _setup(session, settings, folder, tmp_path)
    assert (
        await apply_threshold(
            session, ds, load_outputs(out), tagger="a", model_id=1, threshold=0.99, label_id=ring
        )
        is None
    )
    assert (await history.list_events(session, ds)).total == 0


async def test_bad_threshold_missing_outputs_and_unknown_class(session, settings, folder, tmp_path):
    _, _, ring, _, out = await _setup(session, settings, folder, tmp_path)
    with pytest.raises(Invalid):
        candidates(load_outputs(out), 1.5)
    with pytest.raises(Invalid):
        candidates(load_outputs(out), 0.5, label_id=ring + 999)
    with pytest.raises(NotFound, match="run inference first"):
        load_outputs(tmp_path / "nothing")


async def test_similarity_batch_event_records_queries_and_counts(session, settings, folder, tmp_path):
    ds, ids, ring, _, _ = await _setup(session, settings, folder, tmp_path)
    event = await label_similar_batch(
        session,
        ds,
        tagger="ann",
        model_id=3,
        query_item_ids=[ids[0]],
        item_ids=ids[:4],
        label_id=ring,
        shown=5,
    )
    assert event.kind == "similarity" and event.model_id == 3
    assert event.parameters == {
        "query_items": [ids[0]],
        "mode": "mean",
        "shown": 5,
        "accepted": 4,
        "deselected": 1,
    }
    with pytest.raises(Invalid):
        await label_similar_batch(
            session, ds, tagger="a", model_id=3, query_item_ids=[ids[0]], item_ids=ids, label_id=ring, shown=2
        )
