"""Accepting a training suggestion with changed parameters (as the train form allows): the job
runs with them; parameters on anything but a training suggestion are refused."""

from __future__ import annotations

from tests.helpers.guided import API, add_class
from tests.helpers.rest import assert_error


async def test_a_training_suggestion_takes_changed_parameters(server, dataset):
    await add_class(server, dataset.id, "ring")
    await add_class(server, dataset.id, "peak")
    queue = (await server.get(f"{API}/datasets/{dataset.id}/next-actions")).json()
    train = next(s for s in queue["suggestions"] if s["kind"] == "train_extractor")
    accept = f"{API}/datasets/{dataset.id}/next-actions/accept"
    answer = await server.post(accept, json={"key": train["key"], "parameters": {"epochs": 1}})
    assert answer.status_code in (200, 201), answer.text
    (job_id,) = answer.json()["job_ids"]
    job = (await server.get(f"{API}/jobs/{job_id}")).json()
    assert job["parameters"]["epochs"] == 1 and job["algorithm"] == train["params"]["algorithm"]
    await server.post(f"{API}/jobs/{job_id}/cancel")

    spread = next(s for s in queue["suggestions"] if s["kind"] == "label_items")
    refused = await server.post(accept, json={"key": spread["key"], "parameters": {"epochs": 1}})
    assert_error(refused, 400, "INVALID", "only a training suggestion takes parameters")
    bad = await server.post(accept, json={"key": train["key"], "parameters": {"epochs": "many"}})
    assert bad.status_code == 400, bad.text
