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


async def test_the_cli_accepts_a_training_suggestion_with_parameters(server, dataset, guided_settings):
    """`labelwise accept-suggestion --params-json` takes the parameters REST's accept takes; JSON
    that is not an object is a usage error that queues nothing."""
    from click.testing import CliRunner

    from tests.helpers.cli import env_of, invoke

    await add_class(server, dataset.id, "ring")
    await add_class(server, dataset.id, "peak")
    queue = (await server.get(f"{API}/datasets/{dataset.id}/next-actions")).json()
    train = next(s for s in queue["suggestions"] if s["kind"] == "train_extractor")
    cli = CliRunner(env=env_of(guided_settings))
    for bad in ("[1]", "{epochs"):
        refused = await invoke(cli, ["accept-suggestion", dataset.name, train["key"], "--params-json", bad])
        assert refused.exit_code == 2 and "--params-json" in refused.output, refused.output
    assert not (await server.get(f"{API}/jobs", params={"dataset_id": dataset.id})).json()["jobs"]
    args = ["accept-suggestion", dataset.name, train["key"], "--params-json", '{"epochs": 1}']
    done = await invoke(cli, args)
    assert done.exit_code == 0, done.output
    (job,) = (await server.get(f"{API}/jobs", params={"dataset_id": dataset.id})).json()["jobs"]
    assert job["parameters"]["epochs"] == 1 and job["algorithm"] == train["params"]["algorithm"]
    await server.post(f"{API}/jobs/{job['id']}/cancel")
