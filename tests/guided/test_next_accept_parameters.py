"""Accepting a training suggestion with changed parameters (as the train form allows): the job
runs with them; parameters on anything but a training suggestion are refused."""

from __future__ import annotations

from tests.helpers.graphql import gql, gql_error
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


ACCEPT = """
mutation($d: Int!, $k: String!, $p: JSON) {
  acceptSuggestion(datasetId: $d, key: $k, parameters: $p) { labeled jobIds batchId } }
"""


async def test_graphql_accept_takes_the_parameters_rest_takes(server, dataset):
    await add_class(server, dataset.id, "ring")
    await add_class(server, dataset.id, "peak")
    queue = (await server.get(f"{API}/datasets/{dataset.id}/next-actions")).json()
    train = next(s for s in queue["suggestions"] if s["kind"] == "train_extractor")
    done = await gql(server, ACCEPT, {"d": dataset.id, "k": train["key"], "p": {"epochs": 1}})
    (job_id,) = done["acceptSuggestion"]["jobIds"]
    job = (await server.get(f"{API}/jobs/{job_id}")).json()
    assert job["parameters"]["epochs"] == 1 and job["algorithm"] == train["params"]["algorithm"]
    await server.post(f"{API}/jobs/{job_id}/cancel")

    spread = next(s for s in queue["suggestions"] if s["kind"] == "label_items")
    variables = {"d": dataset.id, "k": spread["key"], "p": {"epochs": 1}}
    await gql_error(server, ACCEPT, variables, code="INVALID", fragments=("only a training suggestion",))
    variables = {"d": dataset.id, "k": train["key"], "p": {"epochs": "many"}}
    await gql_error(server, ACCEPT, variables, code="INVALID", fragments=("epochs",))
    variables = {"d": dataset.id, "k": train["key"], "p": [1]}
    await gql_error(server, ACCEPT, variables, code="INVALID", fragments=("parameters",))
