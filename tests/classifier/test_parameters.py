"""Classifier parameters and the submit path: refused before anything is queued, with clear messages.

No training here (no Keras import): these run in the PostgreSQL pass too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.algorithms import get_algorithm, validate_parameters
from backend.algorithms.classifier import ARCHITECTURES, input_size
from backend.errors import Invalid
from backend.jobs.submission import submit_job
from backend.storage.job_tables import Job, Model
from backend.storage.types import utcnow
from tests.helpers.classifier import demo_dataset, label


def problems(**params) -> str:
    with pytest.raises(Invalid) as caught:
        validate_parameters("classifier", params)
    return caught.value.message


def test_the_classifier_is_registered_as_a_classifier_that_needs_labels():
    algorithm = get_algorithm("classifier")
    assert algorithm.kind == "classifier" and algorithm.needs_labels
    assert algorithm.outputs == ("probabilities", "vectors")
    params = validate_parameters("classifier", {})
    assert params["architecture"] == "small_cnn" and input_size(params) == 64
    assert input_size({**params, "architecture": "NASNetLarge"}) == 331
    assert input_size({**params, "architecture": "InceptionV3"}) == 299
    assert input_size({**params, "architecture": "ResNet50"}) == 224
    assert set(ARCHITECTURES) == {
        "small_cnn", "Xception", "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "InceptionV3",
        "DenseNet121", "DenseNet169", "DenseNet201", "InceptionResNetV2", "NASNetMobile", "NASNetLarge",
    }  # fmt: skip


@pytest.mark.parametrize(("architecture", "smallest"), [("Xception", 71), ("InceptionV3", 75), ("VGG16", 32)])
def test_an_input_below_the_architectures_minimum_is_refused(architecture, smallest):
    validate_parameters("classifier", {"architecture": architecture, "image_size": smallest})
    message = problems(architecture=architecture, image_size=smallest - 1)
    assert f"{architecture} needs an input of at least {smallest}x{smallest} pixels" in message


def test_imagenet_weights_without_a_local_file_are_refused_naming_the_file_to_place():
    message = problems(architecture="ResNet50", weights="imagenet")
    assert "not downloaded" in message
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "has no ImageNet weights" in problems(
        architecture="small_cnn", weights="imagenet", weights_path="/x.h5"
    )
    assert "needs the path of a weights file" in problems(weights="local")
    assert "must be a Keras .h5 / .hdf5 / .keras file" in problems(weights="local", weights_path="/w.pt")


def test_snapshot_options_must_fit_together():
    assert "ISO 8601" in problems(label_snapshot="as_of", labels_as_of="yesterday")
    assert "needs the tagger" in problems(label_snapshot="tagger")
    assert "not as_of" in problems(labels_as_of="2026-01-01T00:00:00Z")
    validate_parameters("classifier", {"label_snapshot": "as_of", "labels_as_of": "2026-01-01T00:00:00Z"})


async def submit(client, dataset_id: int, **params):
    return await client.post(
        "/api/v1/jobs",
        json={"kind": "train", "dataset_id": dataset_id, "algorithm": "classifier", "parameters": params},
    )


async def queue(session, settings, dataset_id: int, **params) -> Job:
    """Submit without a running server (no worker): the job stays queued, nothing trains."""
    return await submit_job(
        session,
        settings,
        None,
        kind="train",
        dataset_id=dataset_id,
        algorithm="classifier",
        parameters=params,
    )


async def refused(session, settings, dataset_id: int, **params) -> str:
    with pytest.raises(Invalid) as caught:
        await queue(session, settings, dataset_id, **params)
    return caught.value.message


async def nothing_created(session) -> bool:
    jobs = await session.scalar(select(func.count()).select_from(Job))
    models = await session.scalar(select(func.count()).select_from(Model))
    return jobs == 0 and models == 0


async def test_fewer_than_two_labeled_classes_is_refused_before_queuing(
    jobs_client, session, job_settings, folder
):
    demo = await demo_dataset(session, job_settings, folder, count=24)
    items = sorted(demo.truth)
    response = await submit(jobs_client, demo.id)
    assert response.status_code == 400
    assert "0 labeled class(es) (none)" in response.json()["error"]["message"]

    await label(session, demo, items[:12], name="rings")  # one class only
    response = await submit(jobs_client, demo.id)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "needs labeled items of at least two classes" in message
    assert "1 labeled class(es) (rings)" in message
    assert await nothing_created(session)


async def test_the_class_check_counts_the_chosen_snapshot(session, settings, folder):
    demo = await demo_dataset(session, settings, folder, count=24)
    items = sorted(demo.truth)
    await label(session, demo, items[:12], name="rings")
    await label(session, demo, items[12:16], name="peaks", tagger="ana")
    message = await refused(session, settings, demo.id, label_snapshot="tagger", labels_tagger="someone-else")
    assert "0 labeled class(es) (none)" in message
    assert "1 labeled class(es) (peaks)" in await refused(
        session, settings, demo.id, label_snapshot="tagger", labels_tagger="ana"
    )
    assert await nothing_created(session)

    cutoff = utcnow()
    await label(session, demo, items[:12], name="peaks")  # rings before the cutoff, none after
    assert "1 labeled class(es) (peaks)" in await refused(session, settings, demo.id)
    job = await queue(session, settings, demo.id, label_snapshot="as_of", labels_as_of=cutoff.isoformat())
    model = await session.get(Model, job.model_id)
    assert model.trained_on["label_counts"] == {str(demo.classes["rings"]): 12, str(demo.classes["peaks"]): 4}
    assert model.trained_on["label_snapshot"] == {"mode": "as_of", "as_of": cutoff.isoformat()}
    assert model.trained_on["labeled_count"] == 16

    two = await demo_dataset(session, settings, folder, count=8, name="two")
    await label(session, two, sorted(two.truth)[:1], name="rings")
    await label(session, two, sorted(two.truth)[1:2], name="peaks")
    assert "needs at least 4 labeled readable items" in await refused(session, settings, two.id)


async def test_weights_files_must_exist_inside_the_data_roots(session, settings, folder, tmp_path):
    demo = await demo_dataset(session, settings, folder, count=24)
    await label(session, demo, sorted(demo.truth))
    outside = tmp_path / "resnet50_notop.h5"
    outside.write_bytes(b"not really")
    message = await refused(
        session, settings, demo.id, architecture="ResNet50", weights="imagenet", weights_path=str(outside)
    )
    assert "is outside the data roots and the artifact directory" in message
    missing = folder / "absent.h5"
    message = await refused(
        session, settings, demo.id, architecture="ResNet50", weights="local", weights_path=str(missing)
    )
    assert "does not exist on the server (nothing is downloaded)" in message
    assert await nothing_created(session)
    present = folder / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    present.write_bytes(b"checked by the worker when it loads")
    await queue(
        session, settings, demo.id, architecture="ResNet50", weights="imagenet", weights_path=str(present)
    )


async def test_a_future_as_of_time_is_refused(session, settings, folder):
    demo = await demo_dataset(session, settings, folder, count=24)
    await label(session, demo, sorted(demo.truth))
    later = (utcnow() + timedelta(hours=1)).isoformat()
    message = await refused(session, settings, demo.id, label_snapshot="as_of", labels_as_of=later)
    assert "is in the future" in message
    assert await nothing_created(session)
