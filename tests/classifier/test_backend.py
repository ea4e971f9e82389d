"""The classifier on both Keras backends: TensorFlow in this process, torch in a subprocess
(``KERAS_BACKEND`` must be set before Keras is first imported)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.classifier import TINY, demo_dataset, label
from tests.helpers.jobs import wait_for

pytestmark = pytest.mark.ml


async def test_a_short_run_trains_and_infers_on_the_configured_backend(
    jobs_client, session, job_settings, folder
):
    demo = await demo_dataset(session, job_settings, folder, count=24, class_names=("empty", "rings"))
    await label(session, demo, [i for i in sorted(demo.truth) if demo.truth[i] in ("empty", "rings")])
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={"dataset_id": demo.id, "algorithm": "classifier", "parameters": {**TINY, "epochs": 2}},
    )
    job = await wait_for(jobs_client, response.json()["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    assert model["summary"]["keras_backend"] == backend
    assert model["summary"]["epochs_run"] == 2

    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": model["id"]})
    infer = await wait_for(jobs_client, response.json()["id"], timeout=120)
    assert infer["state"] == "succeeded", infer["error"]
    prefix = f"/api/v1/jobs/{infer['id']}/outputs"
    probabilities = np.load(io.BytesIO((await jobs_client.get(f"{prefix}/probabilities.npy")).content))
    item_ids = np.load(io.BytesIO((await jobs_client.get(f"{prefix}/item_ids.npy")).content))
    assert probabilities.shape == (24, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert sorted(item_ids.tolist()) == sorted(demo.truth)
    log = (await jobs_client.get(f"/api/v1/jobs/{infer['id']}/log")).json()
    assert any(f"({backend})" in line["message"] for line in log)
    meta = (await jobs_client.get(f"/api/v1/models/{model['id']}/files/model.json")).content
    assert json.loads(meta)["keras_backend"] == backend


def test_keras_on_the_torch_backend_trains_and_infers(tmp_path):
    """The test above again, in a subprocess with KERAS_BACKEND=torch."""
    if os.environ.get("KERAS_BACKEND") == "torch":
        pytest.skip("this process runs on torch already")
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
    name = "test_a_short_run_trains_and_infers_on_the_configured_backend"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         f"{Path(__file__)}::{name}", "--basetemp", str(tmp_path / "inner")],
        env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


async def test_a_multi_label_dataset_trains_with_binary_cross_entropy(
    jobs_client, session, job_settings, folder
):
    from backend.datasets.service import set_multi_label
    from backend.labels.events import TagChange, record_changes

    demo = await demo_dataset(
        session, job_settings, folder, count=24, class_names=("empty", "rings", "peaks")
    )
    await set_multi_label(session, demo.id, True)
    items = sorted(demo.truth)
    changes = [TagChange(i, "add", demo.classes["rings" if n % 2 else "peaks"]) for n, i in enumerate(items)]
    changes += [TagChange(i, "add", demo.classes["empty"]) for i in items[:8]]  # eight items hold two labels
    await record_changes(session, demo.id, tagger="tester", kind="manual", changes=changes)
    response = await jobs_client.post(
        "/api/v1/jobs",
        json={"dataset_id": demo.id, "algorithm": "classifier", "parameters": {**TINY, "epochs": 1}},
    )
    job = await wait_for(jobs_client, response.json()["id"], timeout=180)
    assert job["state"] == "succeeded", job["error"]
    meta = json.loads((await jobs_client.get(f"/api/v1/models/{job['model_id']}/files/model.json")).content)
    assert meta["loss"] == "binary_crossentropy" and meta["activation"] == "sigmoid" and meta["multi_label"]
    response = await jobs_client.post("/api/v1/jobs", json={"kind": "infer", "model_id": job["model_id"]})
    infer = await wait_for(jobs_client, response.json()["id"], timeout=120)
    assert infer["state"] == "succeeded", infer["error"]
    prefix = f"/api/v1/jobs/{infer['id']}/outputs"
    probabilities = np.load(io.BytesIO((await jobs_client.get(f"{prefix}/probabilities.npy")).content))
    assert probabilities.shape == (24, 3) and ((probabilities >= 0) & (probabilities <= 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # one sigmoid per class, not a softmax
