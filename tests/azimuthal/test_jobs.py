"""Azimuthal feature jobs end to end through the in-process worker and the REST API."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.datasets.refs import item_refs
from tests.helpers.azimuthal import job_output, run_job
from tests.helpers.jobs import wait_for
from tests.html import all_of, attr, one, parse
from workers.scattering import Geometry


async def test_training_fits_the_scales_and_inference_writes_standardised_vectors_and_centres(
    jobs_client, demo, session
):
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal"})
    model = (await jobs_client.get(f"/api/v1/models/{train['model_id']}")).json()
    length = Geometry().length
    assert model["state"] == "ready"
    assert model["summary"]["items_fitted"] == 48 and model["summary"]["vector_length"] == length
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    vectors = await job_output(jobs_client, infer["id"], "vectors.npy")
    item_ids = await job_output(jobs_client, infer["id"], "item_ids.npy")
    centres = await job_output(jobs_client, infer["id"], "beam_centres.npy")
    refs = await item_refs(session, demo.id)
    assert item_ids.tolist() == [ref.item_id for ref in refs]
    assert vectors.shape == (48, length) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    # fitted on every item: each feature has mean 0 and, unless constant, unit spread
    assert np.abs(vectors.mean(axis=0)).max() < 1e-3
    spread = vectors.std(axis=0)
    assert np.all((np.abs(spread - 1) < 1e-3) | (spread < 1e-6)) and (spread > 0.5).sum() > length // 2
    # the demo's beam centres lie within 2 px of the middle of its 32-pixel frames; found in
    # frames this small (a 1-pixel beam stop), most are within a pixel or two, all in the window
    assert centres.shape == (48, 2) and np.all(np.abs(centres - 16) <= 0.2 * 32 + 1), centres
    assert np.median(np.hypot(*(centres - 16).T)) < 2.5, centres

    # the vectors feed similarity search like any extractor's
    await run_job(jobs_client, {"kind": "build-index", "model_id": train["model_id"]})
    response = await jobs_client.get(
        f"/api/v1/datasets/{demo.id}/similar",
        params={"model_id": train["model_id"], "item_id": [refs[0].item_id], "limit": 5},
    )
    assert response.status_code == 200, response.text
    ranked = [row["item_id"] for row in response.json()["items"]]
    assert len(ranked) == 5 and ranked[0] == refs[0].item_id  # a frame is its own nearest


async def test_a_fixed_beam_centre_is_used_for_every_frame(jobs_client, demo):
    params = {"centre_row": 16.0, "centre_column": 15.0}
    train = await run_job(
        jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal", "parameters": params}
    )
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    centres = await job_output(jobs_client, infer["id"], "beam_centres.npy")
    assert np.array_equal(centres, np.tile([16.0, 15.0], (48, 1)))


async def test_a_beam_centre_beyond_every_frames_rings_fails_the_training_and_says_so(jobs_client, demo):
    """Its descriptors would all be 0: the job succeeded and wrote a model of zero vectors."""
    params = {"centre_row": 99999.0, "centre_column": 5000.0}
    body = {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal", "parameters": params}
    response = await jobs_client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job = await wait_for(jobs_client, response.json()["id"], timeout=180)
    assert job["state"] == "failed"
    assert "beam centre (row 99999, column 5000) lies outside the 32x32 frame" in job["error"], job["error"]
    # a centre just off the frame still has pixels in reach: it trains
    near = {"centre_row": 35.0, "centre_column": 16.0}
    await run_job(
        jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal", "parameters": near}
    )


async def test_half_a_beam_centre_or_odd_sectors_are_refused_before_any_work(jobs_client, demo):
    for params, words in (
        ({"centre_row": 16.0}, "give both beam centre coordinates"),
        ({"angular_bins": 63}, "must be even"),
    ):
        response = await jobs_client.post(
            "/api/v1/jobs",
            json={"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal", "parameters": params},
        )
        assert response.status_code == 400, response.text
        assert words in response.text


async def test_an_unreadable_frame_is_skipped_and_the_rest_stay_aligned(jobs_client, demo, session, folder):
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal"})
    refs = await item_refs(session, demo.id)
    broken = refs[7]
    path = next((folder / "demo" / "images").glob(Path(broken.uri).name))
    path.write_bytes(b"II*\x00 this is not a TIFF any more")
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    item_ids = await job_output(jobs_client, infer["id"], "item_ids.npy")
    vectors = await job_output(jobs_client, infer["id"], "vectors.npy")
    assert item_ids.tolist() == [ref.item_id for ref in refs if ref.item_id != broken.item_id]
    assert vectors.shape[0] == 47
    log = [line["message"] for line in (await jobs_client.get(f"/api/v1/jobs/{infer['id']}/log")).json()]
    assert any(f"item {broken.item_id} skipped" in line for line in log)
    assert any("described 47 of 48 frames" in line for line in log)


async def test_the_train_forms_offer_the_beam_centre_and_the_snapshot(jobs_client, demo):
    features = await jobs_client.get(f"/datasets/{demo.id}/train?algorithm=azimuthal")
    assert features.status_code == 200
    centre_row = one(parse(features.text), "//input[@name='params.centre_row']")
    assert attr(centre_row, "min").startswith("-1")
    classifier = await jobs_client.get(f"/datasets/{demo.id}/train?algorithm=azimuthal_classifier")
    assert classifier.status_code == 200
    for field in ("params.hidden_units", "params.label_snapshot", "params.angular_bins"):
        assert all_of(parse(classifier.text), f"//*[@name='{field}']"), field


async def _log(client, job_id: int) -> list[str]:
    return [line["message"] for line in (await client.get(f"/api/v1/jobs/{job_id}/log")).json()]


async def test_frames_are_described_once_until_their_file_changes(
    jobs_client, demo, session, folder, job_settings
):
    """Training describes every frame of this small set; inference then reads none of them, gives
    the same vectors as describing afresh, and describes again only the file that changed."""
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal"})
    first = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    assert "48 of 48 frames from the descriptor cache, the others read and described" in await _log(
        jobs_client, first["id"]
    )
    cached = await job_output(jobs_client, first["id"], "vectors.npy")
    for path in Path(job_settings.cache_dir).glob("descriptors.sqlite*"):
        path.unlink()
    afresh = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    assert "0 of 48 frames from the descriptor cache, the others read and described" in await _log(
        jobs_client, afresh["id"]
    )
    assert np.array_equal(cached, await job_output(jobs_client, afresh["id"], "vectors.npy"))

    refs = await item_refs(session, demo.id)
    changed = refs[5]
    path = next((folder / "demo" / "images").glob(Path(changed.uri).name))
    replacement = next((folder / "demo" / "images").glob(Path(refs[6].uri).name))
    path.write_bytes(replacement.read_bytes())  # frame 5 now holds frame 6's pixels
    again = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    assert "47 of 48 frames from the descriptor cache, the others read and described" in await _log(
        jobs_client, again["id"]
    )
    vectors = await job_output(jobs_client, again["id"], "vectors.npy")
    assert np.array_equal(vectors[5], cached[6]) and not np.array_equal(vectors[5], cached[5])
    assert np.array_equal(np.delete(vectors, 5, axis=0), np.delete(cached, 5, axis=0))


async def test_a_damaged_descriptor_cache_slows_a_job_down_and_fails_nothing(jobs_client, demo, job_settings):
    cache = Path(job_settings.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "descriptors.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": demo.id, "algorithm": "azimuthal"})
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    log = await _log(jobs_client, infer["id"])
    assert any("descriptor cache unavailable" in line for line in log)
    assert (await job_output(jobs_client, infer["id"], "vectors.npy")).shape[0] == 48
