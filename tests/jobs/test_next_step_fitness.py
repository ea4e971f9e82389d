"""The next-step button of an unfit classifier: never its batches (they would be refused), but more
labels and a retraining; a fit one still offers its batches. Real jobs of the test classifiers that
report held-out figures (``tests/guided/trust_classifiers.py``)."""

from __future__ import annotations

from typing import Any

import tests.guided.trust_classifiers  # noqa: F401  (registers test-one-class and test-oracle)
from tests.helpers.guided import API, add_class, item_ids, run_job, tag
from tests.html import attr, by_id, parse, text_of


async def trained(client: Any, dataset_id: int, algorithm: str) -> dict[str, Any]:
    """The training job of a classifier, its inference run too."""
    job = await run_job(client, {"kind": "train", "dataset_id": dataset_id, "algorithm": algorithm})
    await run_job(client, {"kind": "infer", "model_id": job["model_id"]})
    return job


async def button(client: Any, page: str) -> tuple[str, str, str]:
    """The next-step button of a page: its action, text and link (a form's action for a post)."""
    doc = parse((await client.get(page)).text)
    step, target = by_id(doc, "next-step"), by_id(doc, "next-step-button")
    href = attr(target, "href") if target.tag == "a" else attr(target.getparent(), "action")
    return attr(step, "data-action"), text_of(target), href


async def test_an_unfit_classifier_asks_for_labels_and_a_fit_one_for_batches(jobs_client, image_dataset):
    dataset_id = image_dataset.id
    ids = await item_ids(jobs_client, dataset_id)
    classes = [await add_class(jobs_client, dataset_id, name) for name in ("a", "b", "c")]
    for i in range(12):  # the oracle's classes: position % 3
        await tag(jobs_client, dataset_id, [ids[i]], classes[i % 3])
    unfit = await trained(jobs_client, dataset_id, "test-one-class")
    fit = await trained(jobs_client, dataset_id, "test-oracle")
    model = (await jobs_client.get(f"{API}/models/{unfit['model_id']}")).json()
    assert model["fitness"]["status"] == "unfit"
    assert (await jobs_client.get(f"{API}/models/{fit['model_id']}")).json()["fitness"]["status"] == "fit"

    label_more = ("label", "Label more items, then retrain", f"/datasets/{dataset_id}/next")
    assert await button(jobs_client, f"/models/{unfit['model_id']}") == label_more
    assert await button(jobs_client, f"/jobs/{unfit['id']}") == label_more
    step = (await jobs_client.get(f"{API}/models/{unfit['model_id']}/next-step")).json()
    assert step["action"] == "label" and "no better than always answering one class" in step["reason"]

    batches = (
        "probability",
        "Review probability batches",
        f"/datasets/{dataset_id}/probability?model_id={fit['model_id']}",
    )
    assert await button(jobs_client, f"/models/{fit['model_id']}") == batches
    assert await button(jobs_client, f"/jobs/{fit['id']}") == batches

    for i in range(12, 15):  # 12 -> 15 labels: over the +20 % growth, so retraining may help now
        await tag(jobs_client, dataset_id, [ids[i]], classes[i % 3])
    retrain = ("retrain", "Retrain", f"/models/{unfit['model_id']}/next")
    assert await button(jobs_client, f"/models/{unfit['model_id']}") == retrain
