"""Chromium submits a PCA training from the form and watches the job page update itself.

The app runs under uvicorn on a free port with its job runtime (the in-process worker), as under
``labelwise serve``; the page is never reloaded by the test.
"""

from __future__ import annotations

from tests.helpers.browser import pytestmark  # noqa: F401  (a browser test)


def test_a_pca_training_submitted_from_the_form_plots_its_loss_live(image_dataset, served, chromium):
    # chromium last: sync Playwright runs an event loop that async fixtures cannot share
    page = chromium.new_page(base_url=served)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/datasets/{image_dataset.id}/train")
    page.select_option("#algorithm-choice", "pca")  # HTMX swaps in PCA's form
    page.wait_for_selector("#param-n_components")

    page.fill("#param-n_components", "40")  # more than a batch: refused inline, nothing queued
    page.fill("#param-batch_size", "8")
    page.click("#train-submit")
    page.wait_for_selector("#form-errors")
    assert "cannot exceed the batch size" in page.inner_text("#form-errors")
    assert page.input_value("#param-n_components") == "40"

    page.fill("#param-n_components", "4")
    page.fill("#param-image_size", "16")
    page.fill("#param-validation_fraction", "0.2")
    page.fill("#model-name", "from the browser")
    page.click("#train-submit")
    page.wait_for_url("**/jobs/*")
    first_state = page.get_attribute("#job-live", "data-state")
    page.evaluate("window.stillTheSamePage = true")

    page.wait_for_selector('#job-live[data-state="succeeded"]', timeout=60_000)
    assert page.evaluate("window.stillTheSamePage") is True  # updated by polling, not reloaded
    assert first_state in ("queued", "running", "succeeded")
    plot = page.locator("#loss-plot")
    assert plot.is_visible()
    assert plot.get_attribute("data-points") == "4"
    assert page.locator("#loss-plot polyline.series").count() == 2  # train_loss and val_loss
    assert "pca.npz" in page.inner_text("#job-outputs")
    page.click("text=Open the model")
    page.wait_for_url("**/models/*")
    assert "from the browser" in page.inner_text("h1")
    assert not errors, errors
