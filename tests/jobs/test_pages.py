"""The job and model pages through the real app: train form, live job page, models, inference."""

from __future__ import annotations

import io
import json
import re

from PIL import Image
from sqlalchemy import func, select

from backend.storage.job_tables import Job, Model
from tests.jobs.conftest import wait_for

PCA_FORM = {
    "algorithm": "pca",
    "name": "pca small",
    "params.n_components": "4",
    "params.image_size": "16",
    "params.batch_size": "8",
    "params.validation_fraction": "0.2",
    "params.log_transform": "true",
}


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def post_form(client, page_url: str, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    token = csrf_of((await client.get(page_url)).text)
    return await client.post(url, data={**form, "_csrf_token": token}, follow_redirects=False)


async def train_from_form(client, dataset_id: int) -> int:  # type: ignore[no-untyped-def]
    url = f"/datasets/{dataset_id}/train"
    response = await post_form(client, url, url, PCA_FORM)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_the_train_form_is_drawn_from_the_schema(jobs_client, image_dataset):
    page = await jobs_client.get(f"/datasets/{image_dataset.id}/train?algorithm=pca")
    assert page.status_code == 200
    html = page.text
    assert 'name="params.n_components"' in html and 'min="1"' in html and 'max="512"' in html
    assert 'value="16"' in html  # the default
    assert "Length of each feature vector" in html  # the help text
    assert 'type="checkbox" id="param-log_transform" name="params.log_transform" value="true" checked' in html
    assert '<option value="test-sleeper"' in html and '<option value="pca" selected' in html
    sleeper = await jobs_client.get(f"/datasets/{image_dataset.id}/train?algorithm=test-sleeper")
    assert 'name="params.step_seconds"' in sleeper.text and "params.n_components" not in sleeper.text


async def test_invalid_form_values_are_explained_inline_and_nothing_is_queued(
    jobs_client, image_dataset, session
):
    url = f"/datasets/{image_dataset.id}/train"
    form = {
        **PCA_FORM,
        "params.n_components": "many",
        "params.image_size": "4",
        "params.percentile_high": "200",
    }
    response = await post_form(jobs_client, url, url, form)
    assert response.status_code == 400
    html = response.text
    assert re.search(r'id="param-n_components-error"[^>]*>Components must be a whole number, got', html)
    assert re.search(r'id="param-image_size-error"[^>]*>Image size must be at least 8, got 4', html)
    assert re.search(r'id="param-percentile_high-error"[^>]*>High percentile must be at most 100', html)
    assert 'value="many"' in html and 'value="pca small"' in html  # what was typed is kept

    cross = await post_form(jobs_client, url, url, {**PCA_FORM, "params.n_components": "12"})
    assert cross.status_code == 400
    assert 'id="form-errors"' in cross.text and "cannot exceed the batch size" in cross.text
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert await session.scalar(select(func.count()).select_from(Model)) == 0


async def test_a_form_post_without_the_csrf_token_is_refused(jobs_client, image_dataset, session):
    await jobs_client.get(f"/datasets/{image_dataset.id}/train")
    response = await jobs_client.post(f"/datasets/{image_dataset.id}/train", data=PCA_FORM)
    assert response.status_code == 403
    assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def test_training_from_the_form_shows_a_live_job_page_then_the_model(jobs_client, image_dataset):
    job_id = await train_from_form(jobs_client, image_dataset.id)
    page = await jobs_client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert f"Job #{job_id}: train pca" in page.text

    job = await wait_for(jobs_client, job_id)
    assert job["state"] == "succeeded", job["error"]
    live = (await jobs_client.get(f"/jobs/{job_id}/live")).text
    assert 'data-state="succeeded"' in live
    assert "hx-trigger" not in live  # polling stops once the job has ended
    plot = re.search(r'<figure class="plot" id="loss-plot" data-points="(\d+)"', live)
    assert plot and int(plot.group(1)) == 4  # one point per epoch
    assert 'data-name="train_loss"' in live and 'data-name="val_loss"' in live
    assert "accuracy-plot" not in live  # PCA reports no accuracy
    assert "epoch 4/4" in live and "step 32/32" in live
    assert f'href="/api/v1/jobs/{job_id}/outputs/pca.npz"' in live
    assert "succeeded" in re.search(
        r'<div class="log" id="job-log">(.*?)</div>\s*</section>', live, re.S
    ).group(1)

    model_id = job["model_id"]
    model_page = (await jobs_client.get(f"/models/{model_id}")).text
    assert "pca small" in model_page and "ready" in model_page
    assert re.search(r"<th>n_components</th><td>4</td>", model_page)
    assert re.search(r"<th>Readable items</th><td>40</td>", model_page)
    assert "explained_variance" in model_page
    assert f'href="/api/v1/models/{model_id}/files/pca.npz"' in model_page
    assert "Reconstructions" not in model_page  # no inference yet
    listed = (await jobs_client.get("/models")).text
    assert f'href="/models/{model_id}"' in listed and "pca small" in listed

    response = await post_form(jobs_client, f"/models/{model_id}", f"/models/{model_id}/infer", {})
    assert response.status_code == 303, response.text
    infer_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert (await wait_for(jobs_client, infer_id))["state"] == "succeeded"

    model_page = (await jobs_client.get(f"/models/{model_id}")).text
    pairs = re.findall(r'src="/jobs/(\d+)/reconstructions/(\d+)"', model_page)
    assert len(pairs) == 16 and {int(j) for j, _ in pairs} == {infer_id}
    originals = re.findall(r'src="/api/v1/items/(\d+)/image\?size=96&log=true', model_page)
    assert len(originals) == 16
    png = await jobs_client.get(f"/jobs/{infer_id}/reconstructions/0")
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (96, 96)
    assert (await jobs_client.get(f"/jobs/{infer_id}/reconstructions/99")).status_code == 404
    original = await jobs_client.get(f"/api/v1/items/{originals[0]}/image?size=96&log=true")
    assert original.status_code == 200


async def test_invalid_inference_options_stay_on_the_model_page(jobs_client, image_dataset, session):
    job_id = await train_from_form(jobs_client, image_dataset.id)
    job = await wait_for(jobs_client, job_id)
    url = f"/models/{job['model_id']}"
    response = await post_form(jobs_client, url, f"{url}/infer", {"params.batch_size": "0"})
    assert response.status_code == 400
    assert re.search(r'id="param-batch_size-error"[^>]*>Batch size must be at least 1, got 0', response.text)
    assert await session.scalar(select(func.count()).select_from(Job)) == 1


async def test_the_model_page_shows_a_confusion_matrix_when_one_was_written(
    jobs_client, image_dataset, job_settings
):
    job = await wait_for(jobs_client, await train_from_form(jobs_client, image_dataset.id))
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    matrix = {"labels": ["ring", "spots"], "matrix": [[7, 1], [2, 5]]}  # as the classifier writes it
    model_dir = job_settings.artifact_dir / "models" / str(model["id"]) / "model"
    (model_dir / "confusion_matrix.json").write_text(json.dumps(matrix))
    html = (await jobs_client.get(f"/models/{model['id']}")).text
    table = re.search(r'<table class="confusion" id="confusion-matrix">(.*?)</table>', html, re.S)
    assert table
    cells = re.findall(r"<td[^>]*>(\d+)</td>", table.group(1))
    assert cells == ["7", "1", "2", "5"]
    assert "<th>ring</th>" in table.group(1) and "<th>spots</th>" in table.group(1)


async def test_a_running_job_can_be_canceled_from_its_page_and_retried(jobs_client, image_dataset):
    url = f"/datasets/{image_dataset.id}/train"
    form = {"algorithm": "test-sleeper", "params.steps": "400", "params.step_seconds": "0.05"}
    response = await post_form(jobs_client, url, url, form)
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = (await jobs_client.get(f"/jobs/{job_id}")).text
    assert f'hx-get="/jobs/{job_id}/live" hx-trigger="every 2s"' in page  # polls while active
    token = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
    await wait_for(jobs_client, job_id, ("running",))

    listed = (await jobs_client.get(f"/jobs?dataset_id={image_dataset.id}")).text
    assert 'id="jobs-table" hx-get="/jobs/rows?dataset_id=' in listed and f'data-job-id="{job_id}"' in listed
    assert f'data-job-id="{job_id}"' not in (await jobs_client.get("/jobs?state=failed")).text
    anything = await jobs_client.get("/jobs?state=&dataset_id=")  # the filter form's "any"
    assert anything.status_code == 200 and f'data-job-id="{job_id}"' in anything.text

    htmx = {"HX-Request": "true", "x-csrftoken": token}
    live = await jobs_client.post(f"/jobs/{job_id}/cancel", headers=htmx)
    assert live.status_code == 200 and 'id="job-live"' in live.text
    job = await wait_for(jobs_client, job_id)
    assert job["state"] == "canceled"
    live = (await jobs_client.get(f"/jobs/{job_id}/live")).text
    assert 'id="retry-job"' in live and 'id="cancel-job"' not in live and "hx-trigger" not in live
    assert 'hx-get="/jobs/rows' not in (await jobs_client.get("/jobs")).text  # nothing active: no refresh

    retried = await jobs_client.post(f"/jobs/{job_id}/retry", headers=htmx)
    assert (retried.status_code == 200 and 'data-state="queued"' in retried.text) or "running" in retried.text
    assert (await jobs_client.get(f"/api/v1/jobs/{job_id}")).json()["attempt"] == 2
    await jobs_client.post(f"/jobs/{job_id}/cancel", headers=htmx)
    await wait_for(jobs_client, job_id)


async def test_a_failed_job_page_shows_the_error_and_its_traceback(jobs_client, image_dataset):
    url = f"/datasets/{image_dataset.id}/train"
    form = {
        "algorithm": "test-sleeper",
        "params.steps": "3",
        "params.step_seconds": "0",
        "params.fail_at_step": "2",
    }
    response = await post_form(jobs_client, url, url, form)
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert (await wait_for(jobs_client, job_id))["state"] == "failed"
    html = (await jobs_client.get(f"/jobs/{job_id}")).text
    error = re.search(r'<div class="error" id="job-error">(.*?)</div>', html, re.S).group(1)
    assert "RuntimeError: told to fail at step 2" in error
    assert "Traceback (most recent call last)" in error and "sleeper.py" in error
    assert 'id="retry-job"' in html
    model = (await jobs_client.get("/models")).text
    assert "state-failed" in model


async def test_missing_jobs_and_models_are_pages_that_say_so(jobs_client):
    for url in ("/jobs/999999", "/models/999999", "/datasets/999999/train"):
        response = await jobs_client.get(url)
        assert response.status_code == 404, url
        assert "does not exist" in response.text and "<html" in response.text
