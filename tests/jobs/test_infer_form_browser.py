"""Chromium: an invalid inference form comes back on the model page's address, with its error beside
the field, so that reloading shows the page again rather than posting the form a second time."""

from __future__ import annotations

import time

import httpx

from tests.helpers.browser import chromium, pytestmark, served  # noqa: F401

__all__ = ["pytestmark"]

PCA_PARAMS = {"n_components": 4, "batch_size": 8, "image_size": 16, "validation_fraction": 0.2}


def _trained(base: str, dataset_id: int) -> int:
    body = {"dataset_id": dataset_id, "algorithm": "pca", "parameters": PCA_PARAMS}
    job = httpx.post(f"{base}/api/v1/jobs", json=body).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/api/v1/jobs/{job['id']}").json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            break
        time.sleep(0.3)
    assert job["state"] == "succeeded", job["error"]
    return int(job["model_id"])


def _job_count(base: str) -> int:
    return int(httpx.get(f"{base}/api/v1/jobs").json()["total"])


def test_an_invalid_inference_form_keeps_the_model_page_address(image_dataset, served, chromium):  # noqa: F811
    model_id = _trained(served, image_dataset.id)
    jobs_before = _job_count(served)
    page = chromium.new_page(base_url=served)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/models/{model_id}")
    page.fill("#param-batch_size", "0")
    page.click("#infer-form button[type=submit]")
    page.wait_for_selector("#param-batch_size-error")
    assert page.inner_text("#param-batch_size-error").startswith("Batch size must be at least 1, got 0")
    assert page.input_value("#param-batch_size") == "0"  # what was typed is kept
    assert page.url == f"{served}/models/{model_id}"
    assert _job_count(served) == jobs_before

    reloaded = page.reload()  # a GET of the model page, not the form posted again
    assert reloaded is not None and reloaded.status == 200 and reloaded.request.method == "GET"
    assert page.url == f"{served}/models/{model_id}"
    assert _job_count(served) == jobs_before

    page.fill("#param-batch_size", "8")
    with page.expect_navigation():
        page.click("#infer-form button[type=submit]")
    assert page.url.rsplit("/", 2)[-2] == "jobs"
    assert _job_count(served) == jobs_before + 1
    assert errors == []
