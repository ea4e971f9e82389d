"""Chromium follows the next-step button from a finished training to its inference's next step."""

from __future__ import annotations

import httpx

import tests.jobs.sleeper  # noqa: F401  (registers the test algorithm)
from tests.helpers.browser import chromium, pytestmark, served  # noqa: F401

__all__ = ["pytestmark"]


def test_the_next_step_button_runs_inference_and_then_offers_the_index(image_dataset, served, chromium):  # noqa: F811
    body = {
        "dataset_id": image_dataset.id,
        "algorithm": "test-sleeper",
        "parameters": {"steps": 1, "step_seconds": 0},
    }
    job = httpx.post(f"{served}/api/v1/jobs", json=body).json()
    page = chromium.new_page(base_url=served)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/jobs/{job['id']}")
    page.wait_for_function(
        "() => document.querySelector('#next-step')?.dataset.action === 'infer'", timeout=30000
    )
    assert page.inner_text("#next-step-button") == "Run inference"
    with page.expect_navigation():
        page.click("#next-step-button")
    assert page.url.rstrip("/").rsplit("/", 2)[-2] == "jobs" and page.url.rsplit("/", 1)[1] != str(job["id"])
    page.wait_for_function(
        "() => document.querySelector('#next-step')?.dataset.action === 'build-index'", timeout=30000
    )
    assert page.inner_text("#next-step-button") == "Build the similarity index"
    assert page.inner_text("#job-state") == "succeeded"
    assert errors == []
