"""The job and model pages through the real app: train form, live job page, models, inference."""

from __future__ import annotations

import io
import json

from PIL import Image
from sqlalchemy import func, select

from backend.storage.job_tables import Job, Model
from tests.helpers.jobs import wait_for
from tests.html import (
    all_of,
    attr,
    by_id,
    classes,
    csrf_field,
    has_class,
    hx_csrf_token,
    maybe_one,
    one,
    parse,
    selected,
    table_rows,
    text_of,
)

PCA_FORM = {
    "algorithm": "pca",
    "name": "pca small",
    "params.n_components": "4",
    "params.image_size": "16",
    "params.batch_size": "8",
    "params.validation_fraction": "0.2",
    "params.log_transform": "true",
}


async def post_form(client, page_url: str, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    token = csrf_field((await client.get(page_url)).text)
    return await client.post(url, data={**form, "_csrf_token": token}, follow_redirects=False)


async def train_from_form(client, dataset_id: int) -> int:  # type: ignore[no-untyped-def]
    url = f"/datasets/{dataset_id}/train"
    response = await post_form(client, url, url, PCA_FORM)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_the_train_form_is_drawn_from_the_schema(jobs_client, image_dataset):
    page = await jobs_client.get(f"/datasets/{image_dataset.id}/train?algorithm=pca")
    assert page.status_code == 200
    doc = parse(page.text)
    components = one(doc, "//input[@name='params.n_components']")
    assert (attr(components, "min"), attr(components, "max")) == ("1", "512")
    assert attr(components, "value") == "16"  # the default
    help_id = attr(components, "aria-describedby")
    assert "Length of each feature vector" in text_of(by_id(doc, help_id))  # the help text
    log = by_id(doc, "param-log_transform")
    assert (log.tag, attr(log, "type"), attr(log, "name"), attr(log, "value")) == (
        "input",
        "checkbox",
        "params.log_transform",
        "true",
    )
    assert log.get("checked") is not None
    assert all_of(doc, "//option[@value='test-sleeper']") and selected(doc, "pca")
    sleeper_html = (await jobs_client.get(f"/datasets/{image_dataset.id}/train?algorithm=test-sleeper")).text
    assert one(parse(sleeper_html), "//input[@name='params.step_seconds']") is not None
    assert "params.n_components" not in sleeper_html  # no such field, nor a mention of one


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
    doc = parse(response.text)
    assert text_of(by_id(doc, "param-n_components-error")).startswith(
        "Components must be a whole number, got"
    )
    assert text_of(by_id(doc, "param-image_size-error")).startswith("Image size must be at least 8, got 4")
    assert text_of(by_id(doc, "param-percentile_high-error")).startswith(
        "High percentile must be at most 100"
    )
    typed = {attr(i, "value") for i in all_of(doc, "//input[@value]")}
    assert {"many", "pca small"} <= typed  # what was typed is kept

    cross = await post_form(jobs_client, url, url, {**PCA_FORM, "params.n_components": "12"})
    assert cross.status_code == 400
    assert (
        by_id(parse(cross.text), "form-errors") is not None and "cannot exceed the batch size" in cross.text
    )
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
    assert await session.scalar(select(func.count()).select_from(Model)) == 0


async def test_a_learning_rate_of_nan_or_infinity_is_refused_not_queued(jobs_client, image_dataset, session):
    url = f"/datasets/{image_dataset.id}/train"
    for text in ("nan", "inf", "-inf"):
        form = {"algorithm": "autoencoder", "params.learning_rate": text, "params.epochs": "1"}
        response = await post_form(jobs_client, url, url, form)
        assert response.status_code == 400, (text, response.status_code)
        error = text_of(by_id(parse(response.text), "param-learning_rate-error"))
        assert "must be a finite number" in error, error
    assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def test_too_few_items_for_the_parameters_names_the_fields_that_lower_the_need(
    jobs_client, image_dataset, session
):
    url = f"/datasets/{image_dataset.id}/train"
    form = {
        **PCA_FORM,
        "params.n_components": "60",
        "params.batch_size": "64",
        "params.validation_fraction": "0.1",
    }
    response = await post_form(jobs_client, url, url, form)
    assert response.status_code == 400
    message = text_of(by_id(parse(response.text), "form-errors"))
    assert "needs at least" in message and "has 40" in message, message
    assert "fewer are needed with a lower Components (60) or Validation fraction (0.1)" in message, message
    assert "Image size" not in message  # it changes nothing of the count
    assert await session.scalar(select(func.count()).select_from(Job)) == 0


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
    live_html = (await jobs_client.get(f"/jobs/{job_id}/live")).text
    live = parse(live_html)
    assert attr(by_id(live, "job-live"), "data-state") == "succeeded"
    assert not all_of(live, "//*[@hx-trigger]")  # polling stops once the job has ended
    plot = by_id(live, "loss-plot")
    assert plot.tag == "figure" and "plot" in classes(plot)
    assert int(attr(plot, "data-points")) == 4  # one point per epoch
    assert {attr(s, "data-name") for s in all_of(plot, ".//*[@data-name]")} >= {"train_loss", "val_loss"}
    assert "accuracy-plot" not in live_html  # PCA reports no accuracy
    assert "epoch 4/4" in text_of(live) and "step 32/32" in text_of(live)
    assert one(live, f"//a[@href='/api/v1/jobs/{job_id}/outputs/pca.npz']") is not None
    log = by_id(live, "job-log")
    assert log.tag == "div" and "log" in classes(log) and "succeeded" in text_of(log)

    model_id = job["model_id"]
    model_html = (await jobs_client.get(f"/models/{model_id}")).text
    model_page = parse(model_html)
    assert "pca small" in text_of(model_page) and "ready" in text_of(model_page)
    assert table_rows(by_id(model_page, "model-parameters"))["n_components"] == "4"
    assert table_rows(by_id(model_page, "model-trained-on"))["Readable items"] == "40"
    assert "explained_variance" in model_html
    assert one(model_page, f"//a[@href='/api/v1/models/{model_id}/files/pca.npz']") is not None
    assert "Reconstructions" not in model_html  # no inference yet
    listed = parse((await jobs_client.get("/models")).text)
    assert all_of(listed, f"//a[@href='/models/{model_id}']") and "pca small" in text_of(listed)

    response = await post_form(jobs_client, f"/models/{model_id}", f"/models/{model_id}/infer", {})
    assert response.status_code == 303, response.text
    infer_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert (await wait_for(jobs_client, infer_id))["state"] == "succeeded"

    model_page = parse((await jobs_client.get(f"/models/{model_id}")).text)
    sources = [attr(img, "src") for img in all_of(model_page, "//img[@src]")]
    pairs = [s.split("/")[2:] for s in sources if s.startswith("/jobs/")]
    assert all(len(p) == 3 and p[1] == "reconstructions" and p[2].isdigit() for p in pairs), pairs
    assert len(pairs) == 16 and {int(j) for j, _, _ in pairs} == {infer_id}
    originals = [
        s.removeprefix("/api/v1/items/").split("/")[0]
        for s in sources
        if s.startswith("/api/v1/items/") and "/image?size=96&log=true" in s
    ]
    assert len(originals) == 16 and all(i.isdigit() for i in originals)
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
    error = text_of(by_id(parse(response.text), "param-batch_size-error"))
    assert error.startswith("Batch size must be at least 1, got 0")
    assert await session.scalar(select(func.count()).select_from(Job)) == 1


async def test_without_javascript_an_invalid_inference_form_comes_back_at_the_model_page(
    jobs_client, image_dataset, session
):
    """A plain form post, as a browser without JavaScript sends it: the form went to
    /models/N/infer and its errors were drawn at that address; the form posts to the model page's
    own address now, which shows the form again with the error."""
    job = await wait_for(jobs_client, await train_from_form(jobs_client, image_dataset.id))
    url = f"/models/{job['model_id']}"
    form = by_id(parse((await jobs_client.get(url)).text), "infer-form")
    sent = ".//input[@name][not(@type='checkbox' or @type='radio') or @checked]"  # what a browser sends
    fields = {attr(i, "name"): i.get("value") or "" for i in all_of(form, sent)}
    fields["params.batch_size"] = "0"
    response = await jobs_client.post(attr(form, "action"), data=fields, follow_redirects=True)
    assert (response.status_code, response.url.path) == (400, url)
    doc = parse(response.text)
    assert text_of(by_id(doc, "param-batch_size-error")).startswith("Batch size must be at least 1, got 0")
    assert attr(by_id(doc, "param-batch_size"), "value") == "0"  # what was typed is kept
    assert await session.scalar(select(func.count()).select_from(Job)) == 1  # the training only

    fields["params.batch_size"] = "8"
    ran = await jobs_client.post(attr(form, "action"), data=fields, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"].startswith("/jobs/")


async def test_the_model_page_shows_a_confusion_matrix_when_one_was_written(
    jobs_client, image_dataset, job_settings
):
    job = await wait_for(jobs_client, await train_from_form(jobs_client, image_dataset.id))
    model = (await jobs_client.get(f"/api/v1/models/{job['model_id']}")).json()
    matrix = {"labels": ["ring", "spots"], "matrix": [[7, 1], [2, 5]]}  # as the classifier writes it
    model_dir = job_settings.artifact_dir / "models" / str(model["id"]) / "model"
    (model_dir / "confusion_matrix.json").write_text(json.dumps(matrix))
    table = by_id(parse((await jobs_client.get(f"/models/{model['id']}")).text), "confusion-matrix")
    assert table.tag == "table" and "confusion" in classes(table)
    assert [text_of(td) for td in all_of(table, ".//td")] == ["7", "1", "2", "5"]
    headers = [text_of(th) for th in all_of(table, ".//th")]
    assert "ring" in headers and "spots" in headers


async def test_the_model_page_shows_nested_metrics_one_row_each(jobs_client, image_dataset, session):
    """A classifier's summary holds its held-out figures as a dict (with the confusion matrix):
    the Metrics table showed it as one Python dict in a cell."""
    job = await wait_for(jobs_client, await train_from_form(jobs_client, image_dataset.id))
    model = await session.get(Model, job["model_id"])
    model.summary = {
        "epochs_run": 12,
        "val_loss": 0.123456789,
        "train_losses": [1.0 - i / 20 for i in range(12)],
        "quality": {
            "items": 31,
            "accuracy": 0.8125,
            "baseline_class": "ring",
            "per_class_recall": {"ring": 0.875, "spots": None},
            "confusion": {"labels": ["ring", "spots"], "matrix": [[7, 1], [2, 5]]},
        },
    }
    session.add(model)
    await session.commit()
    table = by_id(parse((await jobs_client.get(f"/models/{model.id}")).text), "model-summary")
    rows = {text_of(tr.find("th")): text_of(tr.find("td")) for tr in all_of(table, ".//tr")}
    assert rows == {
        "epochs_run": "12",
        "val_loss": "0.12346",
        "train_losses": "12 values from 0.45 to 1",
        "quality · items": "31",
        "quality · accuracy": "0.8125",
        "quality · baseline_class": "ring",
        "quality · per_class_recall · ring": "0.875",
        "quality · per_class_recall · spots": "\u2013",
    }  # the confusion matrix has its own table


async def test_a_running_job_can_be_canceled_from_its_page_and_retried(jobs_client, image_dataset):
    url = f"/datasets/{image_dataset.id}/train"
    form = {"algorithm": "test-sleeper", "params.steps": "400", "params.step_seconds": "0.05"}
    response = await post_form(jobs_client, url, url, form)
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = (await jobs_client.get(f"/jobs/{job_id}")).text
    polling = by_id(parse(page), "job-live")  # polls while active
    assert (attr(polling, "hx-get"), attr(polling, "hx-trigger")) == (f"/jobs/{job_id}/live", "every 2s")
    token = hx_csrf_token(page, "//div[@hx-headers][.//*[@id='job-live']]")
    await wait_for(jobs_client, job_id, ("running",))

    def job_rows(html: str) -> list[object]:
        return all_of(parse(html), f"//*[@data-job-id='{job_id}']")

    listed = (await jobs_client.get(f"/jobs?dataset_id={image_dataset.id}")).text
    assert attr(by_id(parse(listed), "jobs-table"), "hx-get").startswith("/jobs/rows?dataset_id=")
    assert job_rows(listed)
    assert not job_rows((await jobs_client.get("/jobs?state=failed")).text)
    anything = await jobs_client.get("/jobs?state=&dataset_id=")  # the filter form's "any"
    assert anything.status_code == 200 and job_rows(anything.text)

    htmx = {"HX-Request": "true", "x-csrftoken": token}
    live = await jobs_client.post(f"/jobs/{job_id}/cancel", headers=htmx)
    assert live.status_code == 200 and by_id(parse(live.text), "job-live") is not None
    job = await wait_for(jobs_client, job_id)
    assert job["state"] == "canceled"
    ended = parse((await jobs_client.get(f"/jobs/{job_id}/live")).text)
    assert by_id(ended, "retry-job") is not None and maybe_one(ended, "//*[@id='cancel-job']") is None
    assert not all_of(ended, "//*[@hx-trigger]")
    jobs_page = parse((await jobs_client.get("/jobs")).text)
    assert not all_of(jobs_page, "//*[starts-with(@hx-get, '/jobs/rows')]")  # nothing active: no refresh

    retried = await jobs_client.post(f"/jobs/{job_id}/retry", headers=htmx)
    queued = (
        retried.status_code == 200 and attr(by_id(parse(retried.text), "job-live"), "data-state") == "queued"
    )
    assert queued or "running" in retried.text
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
    page = parse((await jobs_client.get(f"/jobs/{job_id}")).text)
    error_box = by_id(page, "job-error")
    assert error_box.tag == "div" and "error" in classes(error_box)
    error = error_box.text_content()
    assert "RuntimeError: told to fail at step 2" in error
    assert "Traceback (most recent call last)" in error and "sleeper.py" in error
    assert by_id(page, "retry-job") is not None
    models = parse((await jobs_client.get("/models")).text)
    assert all_of(models, f"//*[{has_class('state-failed')}]")


async def test_missing_jobs_and_models_are_pages_that_say_so(jobs_client):
    for url in ("/jobs/999999", "/models/999999", "/datasets/999999/train"):
        response = await jobs_client.get(url)
        assert response.status_code == 404, url
        assert "does not exist" in response.text and "<html" in response.text
        assert "does not exist" in text_of(one(parse(response.text), "//body"))
