"""The classifier on feature vectors: out-of-fold probabilities, bad input, and the CLI report."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from backend.cli import main
from tests.helpers.azimuthal import job_output, run_job
from tests.helpers.classifier import demo_dataset, label
from tests.helpers.cli import cli  # noqa: F401  (the CLI runner fixture)
from tests.helpers.feature_report import features_of
from tests.html import attr, one, parse

pytestmark = pytest.mark.ml

PCA = {"n_components": 2, "image_size": 8, "batch_size": 4}


async def test_a_class_with_one_item_and_a_set_smaller_than_a_batch_train_with_out_of_fold_probabilities(
    jobs_client, session, job_settings, folder
):
    demo = await demo_dataset(
        session, job_settings, folder, count=18, size=32, class_names=("rings", "peaks", "empty")
    )
    url = "/api/v1/jobs"
    body = {"kind": "train", "dataset_id": demo.id, "algorithm": "vector_classifier", "parameters": {}}
    await label(
        session, demo, demo.items_of("rings") + demo.items_of("peaks")[:2] + demo.items_of("empty")[:1]
    )
    refused = await jobs_client.post(url, json=body)
    assert (
        refused.status_code == 400 and "no feature model with vectors" in refused.json()["error"]["message"]
    )
    pca = await features_of(jobs_client, demo.id, "pca", PCA)
    absent = await jobs_client.post(url, json={**body, "parameters": {"feature_model": pca + 100}})
    assert absent.status_code == 400 and "does not exist" in absent.json()["error"]["message"]

    body["parameters"] = {"epochs": 10, "batch_size": 64, "folds": 5, "validation_fraction": 0.0}
    train = await run_job(jobs_client, body)  # 6 labeled items: fewer than one batch
    model = (await jobs_client.get(f"/api/v1/models/{train['model_id']}")).json()
    summary = model["summary"]
    assert summary["feature_model"] == pca and summary["oof_left_out"] == 1  # the one "empty" item
    assert "oof.npz" in model["files"]
    oof = np.load(io.BytesIO((await jobs_client.get(f"/api/v1/models/{model['id']}/files/oof.npz")).content))
    assert oof["item_ids"].dtype == np.int64 and oof["probabilities"].dtype == np.float32
    assert oof["probabilities"].shape == (5, 3) == (summary["oof_items"], len(oof["label_ids"]))
    assert np.allclose(oof["probabilities"].sum(axis=1), 1, atol=1e-4)
    assert set(oof["item_ids"].tolist()) == set(demo.items_of("rings") + demo.items_of("peaks")[:2])

    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    probabilities = await job_output(jobs_client, infer["id"], "probabilities.npy")
    assert probabilities.shape == (18, 3) and np.isfinite(probabilities).all()


async def test_with_folds_the_head_learns_every_label_and_the_folds_measure_it(
    jobs_client, session, job_settings, folder
):
    """Decision 0029: the folds hold every labeled item out once, so a validation fifth held out
    of the model as well only left labels unused (a fifth of them, at the few labels where each
    counts). With folds the model trains on every label and its quality figures are out of fold;
    without folds the validation split stays."""
    demo = await demo_dataset(
        session, job_settings, folder, count=24, size=32, class_names=("rings", "peaks", "empty")
    )
    labeled = demo.items_of("rings") + demo.items_of("peaks") + demo.items_of("empty")
    n = len(labeled)  # the demo deals its six classes in turn: 12 of the 24 here
    assert n >= 9
    await label(session, demo, labeled)
    pca = await features_of(jobs_client, demo.id, "pca", PCA)
    body = {"kind": "train", "dataset_id": demo.id, "algorithm": "vector_classifier"}

    async def trained(parameters: dict) -> tuple[dict, dict]:
        job = await run_job(jobs_client, {**body, "parameters": {"feature_model": pca, **parameters}})
        model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
        meta = (await jobs_client.get(f"/api/v1/models/{model['id']}/files/model.json")).json()
        return model, meta

    model, meta = await trained({"epochs": 5, "folds": 4, "validation_fraction": 0.2})
    quality = model["summary"]["quality"]
    assert sorted(meta["train_item_ids"]) == sorted(labeled) and meta["validation_item_ids"] == []
    assert quality["split"] == "out-of-fold" and quality["items"] == model["summary"]["oof_items"] == n
    assert model["summary"]["train_items"] == n and model["summary"]["validation_items"] == 0
    assert model["fitness"]["split"] == "out-of-fold" and model["fitness"]["held_out_items"] == n
    assert "measured on its training items" not in model["fitness"]["reason"]

    model, meta = await trained({"epochs": 5, "folds": 0, "validation_fraction": 0.25})
    quality = model["summary"]["quality"]
    assert quality["split"] == "validation" and 0 < quality["items"] == len(meta["validation_item_ids"]) < n
    assert len(meta["train_item_ids"]) + len(meta["validation_item_ids"]) == n


@pytest.fixture
async def two_classes(session, image_dataset):
    """Two classes on the 40 generated images, each item labeled (alternately)."""
    from backend.datasets.refs import item_refs
    from backend.labels.classes import create_class
    from backend.labels.events import TagChange, record_changes

    a = await create_class(session, image_dataset.id, "a", "#ff0000", "1")
    b = await create_class(session, image_dataset.id, "b", "#00ff00", "2")
    refs = await item_refs(session, image_dataset.id)
    changes = [TagChange(ref.item_id, "set", (a if n % 2 else b).id) for n, ref in enumerate(refs)]
    await record_changes(session, image_dataset.id, tagger="tester", kind="manual", changes=changes)
    return image_dataset


def test_the_cli_suggests_what_to_train_and_prints_the_report(cli, image_dataset, database):  # noqa: F811
    result = cli.invoke(main, ["features", "suggest", image_dataset.name])
    assert result.exit_code == 0 and "needs no labels" in result.output, result.output
    params = [f"--param={k}={v}" for k, v in PCA.items()]
    trained = cli.invoke(
        main, ["jobs", "submit", "--dataset", image_dataset.name, "--algorithm", "pca", *params, "--wait"]
    )
    assert trained.exit_code == 0, trained.output
    model_id = int(cli.invoke(main, ["jobs", "models", "--dataset", image_dataset.name]).output.split()[0])
    inferred = cli.invoke(main, ["jobs", "submit", "--kind", "infer", "--model", str(model_id), "--wait"])
    assert inferred.exit_code == 0, inferred.output
    refused = cli.invoke(main, ["features", "report", image_dataset.name, "--run"])
    assert refused.exit_code != 0 and "at least two classes" in refused.output


def test_the_cli_prints_the_report(cli, two_classes, database):  # noqa: F811
    dataset = two_classes
    params = [f"--param={k}={v}" for k, v in PCA.items()]
    trained = cli.invoke(
        main, ["jobs", "submit", "--dataset", dataset.name, "--algorithm", "pca", *params, "--wait"]
    )
    assert trained.exit_code == 0, trained.output
    model_id = int(cli.invoke(main, ["jobs", "models", "--dataset", dataset.name]).output.split()[0])
    inferred = cli.invoke(main, ["jobs", "submit", "--kind", "infer", "--model", str(model_id), "--wait"])
    assert inferred.exit_code == 0, inferred.output
    result = cli.invoke(main, ["features", "report", dataset.name, "--run"])
    assert result.exit_code == 0, result.output
    assert "separates the current labels best" in result.output and f"{model_id:>6}  pca" in result.output


def test_the_suggestion_with_labels_and_no_features_reads_as_a_sentence(cli, two_classes, database):  # noqa: F811
    result = cli.invoke(main, ["features", "suggest", two_classes.name])
    assert result.exit_code == 0, result.output
    assert "first: its vectors let similarity pages find more of each class." in result.output  # was "it its"


def test_an_epoch_of_few_labels_takes_the_minimum_of_steps_with_every_row_alike():
    """Forty labels and batches of 64 were one step an epoch: a capped training stopped undertrained."""
    from workers.algorithms.dense_head import MIN_STEPS_PER_EPOCH, epoch_rows

    rows = np.arange(40) * 3
    filled = epoch_rows(rows, 64)
    assert len(filled) >= MIN_STEPS_PER_EPOCH * 64
    counts = np.unique(filled, return_counts=True)
    assert set(counts[0]) == set(rows) and counts[1].min() == counts[1].max()  # each row as often
    many = np.arange(2000)
    assert epoch_rows(many, 64) is many  # enough rows: one pass, as before
    assert len(epoch_rows(np.zeros(0, np.int64), 64)) == 0


def test_the_out_of_fold_log_names_a_class_with_one_item_by_its_name_not_its_label_id(tmp_path):
    """A new user's log read "left out 1 item(s) of a class with one item (['9'])" for the class
    named "8" (label id 9): the strata are tuples of label ids, and the log joined those."""
    from types import SimpleNamespace

    from backend.algorithms import validate_parameters
    from workers.algorithms.dense_head import LabeledVectors, out_of_fold

    rng = np.random.default_rng(0)
    label_ids = [3] * 4 + [4] * 4 + [9]
    data = LabeledVectors(
        rng.normal(0, 1, (len(label_ids), 4)).astype(np.float32),
        np.arange(len(label_ids)),
        np.eye(3, dtype=np.float32)[[[3, 4, 9].index(i) for i in label_ids]],
        [(i,) for i in label_ids],
        [{"id": 3, "name": "3"}, {"id": 4, "name": "4"}, {"id": 9, "name": "8"}],
        False,
    )
    lines: list[str] = []
    ctx: Any = SimpleNamespace(artifact_dir=tmp_path, log=lines.append, check_canceled=lambda: None)
    p = validate_parameters("vector_classifier", {"epochs": 1, "folds": 2, "hidden_units": 0})
    assert out_of_fold(ctx, data, p).summary["oof_left_out"] == 1
    note = [line for line in lines if "left out" in line]
    assert note == ["out-of-fold: left out the one labeled item of class 8 (it trains in every fold)"]


def test_the_left_out_note_names_several_classes_and_label_combinations():
    from workers.algorithms.dense_head import left_out_note

    classes = [{"id": 9, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 5, "name": "bird"}]
    note = left_out_note(classes, [(5,), (2, 9)])
    assert note == (
        "out-of-fold: left out 2 items, the one labeled item of each class or label combination: "
        "bird, dog + cat (they train in every fold)"
    )
    single = left_out_note(classes, [(5,), (2,)])
    assert single.endswith("the one labeled item of each class: bird, dog (they train in every fold)")


def test_the_head_keeps_the_classes_shares_by_default_so_the_frequent_class_stays_right():
    """Two overlapping classes labeled 200 : 10, as a session labels a frequent and a rare class.
    Weighing each class the same (``balanced``, the scattering classifier's default) moves the
    boundary into the frequent class: the rare class is predicted for many frequent items, and a
    batch of it is mostly wrong. The vector classifier's default weighs items alike (decision 0022)."""
    import keras

    from backend.algorithms import validate_parameters
    from workers.algorithms.dense_head import LabeledVectors, _fit

    rng = np.random.default_rng(0)

    def draw(frequent: int, rare: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.r_[rng.normal(0.0, 1.0, frequent), rng.normal(1.5, 1.0, rare)][:, None].astype(np.float32)
        return np.c_[x, rng.normal(0, 1, (len(x), 3)).astype(np.float32)], np.r_[
            np.zeros(frequent), np.ones(rare)
        ]

    vectors, truth = draw(200, 10)
    targets = np.eye(2, dtype=np.float32)[truth.astype(int)]
    data = LabeledVectors(
        vectors, np.arange(len(truth)), targets, [(int(t),) for t in truth], [{"id": 1}, {"id": 2}], False
    )
    default = validate_parameters("vector_classifier", {"epochs": 60, "hidden_units": 0})
    assert default["class_weights"] == "none"
    rows, no_rows = np.arange(len(truth)), np.zeros(0, np.int64)
    no_context: Any = None  # _fit reads nothing of the job's context
    population, population_truth = draw(2000, 100)
    rare_predicted = {}
    for weights in ("none", "balanced"):
        keras.utils.set_random_seed(0)
        model = _fit(
            no_context, data, rows, no_rows, {**default, "class_weights": weights}, keras.callbacks.Callback()
        )
        predicted = np.asarray(model.predict(population, verbose=0)).argmax(axis=1)
        rare_predicted[weights] = (predicted == 1).sum(), (predicted == population_truth).mean()
    (rare_none, right_none), (rare_balanced, right_balanced) = (
        rare_predicted["none"],
        rare_predicted["balanced"],
    )
    assert rare_balanced > 3 * max(rare_none, 1) and rare_balanced > 300  # of 100 rare items
    assert right_none > 0.93 > right_balanced


async def test_without_a_report_a_classifier_learns_from_the_extractor_the_train_page_ranks_first(
    jobs_client, session, job_settings, folder
):
    """The queue's guess of the features before a report (``suggest_state``) is the one trained on:
    a quick extractor trained later for the report to compare is not taken for being newer."""
    demo = await demo_dataset(
        session, job_settings, folder, count=16, size=32, class_names=("rings", "peaks")
    )
    await label(session, demo, demo.items_of("rings") + demo.items_of("peaks"))
    pca = await features_of(jobs_client, demo.id, "pca", PCA)
    intensity = await features_of(jobs_client, demo.id, "intensity")
    assert intensity > pca  # the newest, ranked below PCA on the train page
    for page in (
        f"/datasets/{demo.id}/similar?item_id={demo.items_of('rings')[0]}",
        f"/datasets/{demo.id}/explorer",
    ):
        drawn = parse((await jobs_client.get(page)).text)
        chosen = one(drawn, "//select[@name='model_id']/option[@selected]")
        assert attr(chosen, "value") == str(pca), page  # the pages start on the same guess
    body = {
        "kind": "train",
        "dataset_id": demo.id,
        "algorithm": "vector_classifier",
        "parameters": {"epochs": 5, "batch_size": 64, "folds": 2, "validation_fraction": 0.0},
    }
    train = await run_job(jobs_client, body)
    model = (await jobs_client.get(f"/api/v1/models/{train['model_id']}")).json()
    assert model["summary"]["feature_model"] == pca, model["summary"]
    assert model["trained_on"]["features"]["chosen_by"].startswith("the train page's first choice")
