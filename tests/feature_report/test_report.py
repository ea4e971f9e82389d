"""The feature report end to end: job, REST, GraphQL, pages and the defaults it sets."""

from __future__ import annotations

import pytest

from tests.helpers.azimuthal import run_job
from tests.helpers.jobs import wait_for
from tests.html import all_of, attr, by_id, one, parse, selected, text_of

pytestmark = pytest.mark.ml


async def _report(client, dataset_id: int) -> dict:
    response = await client.post(f"/api/v1/datasets/{dataset_id}/feature-report", json={})
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    assert job["model_id"] is None and job["kind"] == "feature-report"
    assert (await client.get(f"/jobs/{job['id']}")).status_code == 200  # a job of no model
    report = await client.get(f"/api/v1/datasets/{dataset_id}/feature-report")
    assert report.status_code == 200
    return report.json()


async def test_the_report_picks_the_features_that_separate_the_labels_and_every_door_shows_it(
    jobs_client, two_extractors
):
    demo, labeled, azimuthal, pca = two_extractors
    before = (await jobs_client.get(f"/api/v1/datasets/{demo.id}/feature-report")).json()
    assert before["job_id"] is None and before["best_model_id"] is None
    # without a report the similarity page keeps today's default: the newest feature extractor
    page = await jobs_client.get(f"/datasets/{demo.id}/similar", params={"item_id": labeled[0]})
    assert selected(parse(page.text), pca), (
        azimuthal,
        pca,
        page.text[page.text.find("model_id") :][:600],
    )

    # labels and vectors, no report: the train page says to run it, its form starts on what follows
    train_page = parse((await jobs_client.get(f"/datasets/{demo.id}/train")).text)
    assert text_of(by_id(train_page, "train-suggestion")).startswith("Run the feature report")
    chosen = one(train_page, "//select[@id='algorithm-choice']/option[@selected]")
    assert attr(chosen, "value") == "vector_classifier"  # it started on the autoencoder (the first one)
    rest = (await jobs_client.get(f"/api/v1/datasets/{demo.id}/training-suggestion")).json()
    assert (rest["run_report"], rest["algorithm"], rest["form_default"]) == (True, None, "vector_classifier")

    report = await _report(jobs_client, demo.id)
    assert report["best_model_id"] == azimuthal
    best, other = report["models"]
    assert best["model_id"] == azimuthal and other["model_id"] == pca
    assert best["score"] > other["score"] + 0.1 and best["knn_balanced"] > 0.8
    assert {c["name"] for c in best["per_class"]} == {"empty", "rings", "peaks"}
    assert report["labeled_items"] == len(labeled) and report["folds"] == 5  # the default, small classes too
    assert "separates the current labels best" in report["explanation"] and "next:" in report["explanation"]
    assert "dir" not in best  # where vectors lie on the server stays there

    query = "query($d: Int!) { featureReport(datasetId: $d) { bestModelId explanation models { modelId } } }"
    graph = (await jobs_client.post("/graphql", json={"query": query, "variables": {"d": demo.id}})).json()
    assert graph["data"]["featureReport"]["bestModelId"] == azimuthal
    assert graph["data"]["featureReport"]["explanation"] == report["explanation"]

    # the pages default to the best model and say why
    page = await jobs_client.get(f"/datasets/{demo.id}/similar", params={"item_id": labeled[0]})
    assert selected(parse(page.text), azimuthal)
    explorer = await jobs_client.get(f"/datasets/{demo.id}/explorer")
    assert selected(parse(explorer.text), azimuthal)
    for path in ("/models", f"/datasets/{demo.id}/label"):
        shown = await jobs_client.get(path)
        assert shown.status_code == 200 and "separates the current labels best" in shown.text, path
    # the table: accuracy (what the choice goes by) and the balanced figures beside it
    table = "//table[contains(@class, 'feature-report-table')]"
    row = one(parse((await jobs_client.get("/models")).text), f"{table}//tr[@data-model-id='{azimuthal}']")
    cells = [text_of(cell) for cell in all_of(row, "./td")]
    assert cells[2:5] == [
        f"{100 * best['knn_accuracy']:.0f}%",
        f"{100 * best['linear_accuracy']:.0f}%",
        f"{100 * best['knn_balanced']:.0f}% / {100 * best['linear_balanced']:.0f}%",
    ]

    # a classifier on feature vectors learns from the best model by default
    body = {
        "kind": "train",
        "dataset_id": demo.id,
        "algorithm": "vector_classifier",
        "parameters": {"epochs": 40, "folds": 3},
    }
    train = await run_job(jobs_client, body)
    model = (await jobs_client.get(f"/api/v1/models/{train['model_id']}")).json()
    assert model["summary"]["feature_model"] == azimuthal
    await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    page = await jobs_client.get(f"/datasets/{demo.id}/probability")
    assert selected(parse(page.text), train["model_id"])
    train_page = await jobs_client.get(f"/datasets/{demo.id}/train")
    assert "Train a classifier on feature vectors" in train_page.text  # labels, a report: the head


async def test_the_report_is_refused_without_labels_of_two_classes(
    jobs_client, session, job_settings, folder
):
    from tests.helpers.classifier import demo_dataset, label
    from tests.helpers.feature_report import features_of

    demo = await demo_dataset(
        session, job_settings, folder, count=12, size=32, class_names=("rings", "peaks")
    )
    url = f"/api/v1/datasets/{demo.id}/feature-report"
    nothing = await jobs_client.post(url, json={})
    assert (
        nothing.status_code == 400 and "no feature model with vectors" in nothing.json()["error"]["message"]
    )
    await features_of(jobs_client, demo.id, "pca", {"n_components": 2, "image_size": 8, "batch_size": 4})
    await label(session, demo, demo.items_of("rings"))
    few = await jobs_client.post(url, json={})
    assert few.status_code == 400 and "at least two classes" in few.json()["error"]["message"]


async def test_a_lead_on_a_handful_of_labels_keeps_the_train_pages_first_choice(
    jobs_client, session, job_settings, folder
):
    """Two labeled items of each of three classes: azimuthal descriptors score higher than a one-
    component PCA, but six items cannot tell them apart, so the train page's first choice (PCA
    ranks above azimuthal) stays the report's best, and the line says why."""
    from tests.helpers.classifier import demo_dataset, label
    from tests.helpers.feature_report import features_of

    names = ("empty", "rings", "peaks")
    demo = await demo_dataset(session, job_settings, folder, count=30, size=64, class_names=names)
    azimuthal = await features_of(jobs_client, demo.id, "azimuthal")
    pca = await features_of(
        jobs_client, demo.id, "pca", {"n_components": 1, "image_size": 8, "batch_size": 8}
    )
    await label(session, demo, [i for name in names for i in demo.items_of(name)[:2]])

    report = await _report(jobs_client, demo.id)
    first, second = report["models"]
    assert report["best_model_id"] == pca and first["model_id"] == pca and second["model_id"] == azimuthal
    assert second["score"] > first["score"], report  # the top scorer, not chosen
    assert "is kept" in report["explanation"] and "within chance" in report["explanation"]
    assert "the train page's first choice" in report["explanation"]

    # the next report weighs the top scorer against the features in use (the report's choice)
    again = await _report(jobs_client, demo.id)
    assert again["best_model_id"] == pca and "the features in use" in again["explanation"]
    from backend.storage.job_tables import Job

    job = await session.get(Job, again["job_id"], populate_existing=True)
    assert job is not None
    in_use = {m["model_id"]: m["in_use"] for m in job.outputs["summary"]["models"]}
    assert in_use == {pca: True, azimuthal: False}


async def test_a_model_whose_vectors_are_all_the_same_is_skipped_not_named_best(
    jobs_client, session, job_settings, folder
):
    """An extractor that gives every item one vector (here: all zeros, as azimuthal descriptors
    around a beam centre outside every frame were) tells no class apart; scored, it ties with
    always answering the largest class and was named the best features on a skewed set."""
    import numpy as np

    from tests.helpers.classifier import demo_dataset, label
    from tests.helpers.feature_report import features_of

    demo = await demo_dataset(
        session, job_settings, folder, count=12, size=32, class_names=("rings", "peaks")
    )
    await label(session, demo, demo.items_of("rings") + demo.items_of("peaks"))
    params = {"n_components": 2, "image_size": 8, "batch_size": 4}
    useful = await features_of(jobs_client, demo.id, "pca", params)
    flat = await features_of(jobs_client, demo.id, "pca", params)
    (vectors_file,) = (job_settings.artifact_dir / "models" / str(flat)).glob("infer/*/vectors.npy")
    vectors = np.load(vectors_file)
    np.save(vectors_file, np.zeros_like(vectors))

    report = await _report(jobs_client, demo.id)
    entries = {m["model_id"]: m for m in report["models"]}
    assert report["best_model_id"] == useful
    assert entries[flat]["skipped"] and "same vector" in entries[flat]["skipped"]
    assert "score" not in entries[flat] or entries[flat]["score"] is None
