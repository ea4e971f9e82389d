"""Revoking what a model (or a kind of batch in a time range) labeled, through REST and GraphQL:
one 'undo' event, later work by others left alone and counted, the revoke itself undoable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from backend.storage.database import Database
from tests.helpers.graphql import gql, gql_error
from tests.helpers.guided import API, add_class, item_ids, pca_model
from tests.helpers.pages import csrf_headers
from tests.helpers.rest import assert_error
from tests.helpers.revoke import ALICE, labels_of, model_batch, tag_as_alice
from tests.html import all_of, attr, by_id, one, parse, text_of

BOB = {"X-Labelwise-Tagger": "bob"}


async def _scene(server: AsyncTestClient, database: Database, dataset_id: int) -> dict[str, Any]:
    """Alice labels 3 items A by hand; model M labels 0-9 B (probability) and 10-14 B (similarity);
    then Bob relabels item 3 by hand."""
    model = await pca_model(server, dataset_id)
    a, b = await add_class(server, dataset_id, "A"), await add_class(server, dataset_id, "B")
    ids = await item_ids(server, dataset_id)
    await tag_as_alice(server, dataset_id, ids[:3], a)
    await model_batch(database, dataset_id, ids[:10], b, "probability", model)
    similarity = await model_batch(database, dataset_id, ids[10:15], b, "similarity", model)
    response = await server.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": [ids[3]], "label_id": a}, headers=BOB
    )
    assert response.status_code == 201
    return {"model": model, "a": a, "b": b, "ids": ids, "similarity": similarity}


async def test_revoking_a_model_restores_earlier_labels_and_leaves_later_work(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    ids, a = s["ids"], s["a"]
    response = await server.post(
        f"{API}/datasets/{dataset.id}/revoke", json={"model_id": s["model"]}, headers=ALICE
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["revoked"], body["skipped"], body["event_count"]) == (14, 1, 2)
    event = body["event"]
    assert event["kind"] == "undo" and event["parameters"]["revoke"] == "model"
    assert event["parameters"]["skipped_items"] == [ids[3]]
    labels = await labels_of(server, dataset.id)
    assert labels == {ids[0]: [a], ids[1]: [a], ids[2]: [a], ids[3]: [a]}  # Bob's label stays

    history = (await server.get(f"{API}/datasets/{dataset.id}/events", params={"limit": 1})).json()
    assert history["events"][0]["id"] == event["id"]

    again = await server.post(f"{API}/datasets/{dataset.id}/revoke", json={"model_id": s["model"]})
    assert_error(again, 409, "CONFLICT", "nothing to revoke")

    undo = await server.post(f"{API}/events/{event['id']}/undo", headers=ALICE)
    assert undo.status_code == 201, undo.text
    back = await labels_of(server, dataset.id)
    assert all(back[i] == [s["b"]] for i in ids[:15] if i != ids[3]) and back[ids[3]] == [a]


async def test_revoking_one_kind_in_a_time_range_takes_back_only_those_events(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    since = s["similarity"]["created_at"]
    response = await server.post(
        f"{API}/datasets/{dataset.id}/revoke", json={"kind": "similarity", "since": since}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["revoked"], response.json()["event_ids"]) == (5, [s["similarity"]["id"]])
    labels = await labels_of(server, dataset.id)
    assert not any(i in labels for i in s["ids"][10:15])
    assert labels[s["ids"][5]] == [s["b"]]  # the probability batch is untouched


async def test_bad_revoke_requests_are_refused_with_a_reason(
    server, dataset, session, guided_settings, folder
):
    from tests.helpers.jobs import make_dataset

    url = f"{API}/datasets/{dataset.id}/revoke"
    assert_error(await server.post(url, json={}), 400, "INVALID", "model", "kind")
    assert_error(await server.post(url, json={"model_id": 1, "kind": "similarity"}), 400, "INVALID")
    assert_error(await server.post(url, json={"model_id": 987654}), 404, "NOT_FOUND", "987654")
    assert (await server.post(url, json={"kind": "undo"})).status_code == 400
    assert_error(
        await server.post(url, json={"kind": "similarity", "since": "2030-01-02", "until": "2030-01-01"}),
        400,
        "INVALID",
        "since",
    )
    other = await make_dataset(session, guided_settings, folder / "other", count=12)
    foreign = await pca_model(server, other.id)
    assert_error(await server.post(url, json={"model_id": foreign}), 400, "INVALID", "belongs to dataset")
    own = await pca_model(server, dataset.id)
    assert_error(await server.post(url, json={"model_id": own}), 409, "CONFLICT", "nothing to revoke")
    missing = await server.post(f"{API}/datasets/987654/revoke", json={"kind": "similarity"})
    assert_error(missing, 404, "NOT_FOUND")


REVOKE_KIND = """
mutation($d: Int!, $k: String, $since: DateTime, $until: DateTime) {
  revokeLabels(datasetId: $d, kind: $k, since: $since, until: $until) { revoked skipped eventIds }
}"""


async def test_revoke_times_are_read_as_the_time_parameters_read_them_at_both_doors(
    server, dataset, database
):
    """``since`` / ``until`` of a revoke take what every other time of the API takes (a date
    alone: its 00:00 UTC; no zone: UTC), in REST's JSON body as in GraphQL; garbage is a 400
    naming the field. REST's body took RFC 3339 alone."""
    s = await _scene(server, database, dataset.id)
    day = datetime.fromisoformat(s["similarity"]["created_at"]).date()
    url = f"{API}/datasets/{dataset.id}/revoke"
    later = {"kind": "similarity", "since": (day + timedelta(days=1)).isoformat()}
    assert_error(await server.post(url, json=later), 409, "CONFLICT", "nothing to revoke")
    before = {"kind": "similarity", "until": f"{day.isoformat()}T00:00"}  # no zone: UTC
    assert_error(await server.post(url, json=before), 409, "CONFLICT", "nothing to revoke")
    body = {
        "kind": "similarity",
        "since": day.isoformat(),
        "until": (day + timedelta(days=1)).strftime("%Y%m%d"),
    }
    response = await server.post(url, json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["revoked"], response.json()["event_ids"]) == (5, [s["similarity"]["id"]])
    for name, text in (("since", "yesterday"), ("until", "2026-13-01"), ("since", "")):
        refused = await server.post(url, json={"kind": "probability", name: text})
        assert_error(refused, 400, "INVALID", f"'{name}'", "not a time", "ISO 8601", "2026-12-07")

    variables = {"d": dataset.id, "k": "probability", "since": day.isoformat()}
    result = (await gql(server, REVOKE_KIND, variables))["revokeLabels"]
    assert (result["revoked"], result["skipped"]) == (9, 1)  # Bob's item stays his
    bad = {"d": dataset.id, "k": "probability", "until": "yesterday"}
    await gql_error(server, REVOKE_KIND, bad, code="GRAPHQL_VALIDATION_FAILED", fragments=("not a time",))


async def test_the_history_page_reads_revoke_times_as_rest_reads_them(server, dataset, database):
    """The page's revoke form takes what REST's revoke takes (a month alone, 24:00, a trailing Z)
    and refuses garbage with REST's reason; an empty field is no bound."""
    s = await _scene(server, database, dataset.id)
    day = datetime.fromisoformat(s["similarity"]["created_at"]).date()
    url = f"/datasets/{dataset.id}/history"
    headers = await csrf_headers(server, url)
    for name, text in (("since", "yesterday"), ("until", "2026-13-01")):
        form = {"revoke_kind": "probability", "since": "", "until": "", name: text}
        refused = await server.post(f"{url}/revoke", data=form, headers=headers)
        assert refused.status_code == 200, refused.text
        problem = text_of(by_id(parse(refused.text), "history-problem"))
        for fragment in (f"'{name}'", "not a time", "ISO 8601", "2026-12-07"):
            assert fragment in problem, problem
    form = {"revoke_kind": "similarity", "since": f"{day:%Y-%m}", "until": f"{day.isoformat()}T24:00Z"}
    answer = await server.post(f"{url}/revoke", data=form, headers=headers)
    assert answer.status_code == 200, answer.text
    notice = text_of(by_id(parse(answer.text), "history-notice"))
    assert "Revoked the labels of 5 item(s) from 1 event(s)" in notice, notice


async def test_a_refused_revoke_on_the_history_page_keeps_the_kind_and_times(server, dataset, database):
    """A revoke refused ("nothing to revoke", a bad time) drew the form again empty: the first kind,
    no times. The person's kind and times stay, to fix one field; after a revoke done it is empty."""
    s = await _scene(server, database, dataset.id)
    day = datetime.fromisoformat(s["similarity"]["created_at"]).date()
    url = f"/datasets/{dataset.id}/history"
    headers = await csrf_headers(server, url)
    form = {"revoke_kind": "similarity", "since": "2020-01-01T00:00", "until": "2020-01-02T12:30"}
    refused = parse((await server.post(f"{url}/revoke", data=form, headers=headers)).text)
    assert "nothing to revoke" in text_of(by_id(refused, "history-problem"))
    kind = by_id(refused, "revoke-kind")
    assert [attr(o, "value") for o in all_of(kind, ".//select[@name='revoke_kind']/option[@selected]")] == [
        "similarity"
    ]
    assert attr(one(kind, ".//input[@name='since']"), "value") == "2020-01-01T00:00"
    assert attr(one(kind, ".//input[@name='until']"), "value") == "2020-01-02T12:30"

    form = {"revoke_kind": "similarity", "since": f"{day.isoformat()}T00:00", "until": ""}
    done = parse((await server.post(f"{url}/revoke", data=form, headers=headers)).text)
    assert "Revoked the labels of 5 item(s)" in text_of(by_id(done, "history-notice"))
    kind = by_id(done, "revoke-kind")
    assert not all_of(kind, ".//option[@selected]")
    assert attr(one(kind, ".//input[@name='since']"), "value") == ""


async def test_the_cli_reads_revoke_times_as_rest_reads_them(server, dataset, guided_settings, database):
    """`labelwise revoke --since/--until` take REST's times (a month alone, a zone, 24:00), a bad
    one is a usage error with REST's reason and revokes nothing."""
    from click.testing import CliRunner

    from tests.helpers.cli import env_of, invoke

    s = await _scene(server, database, dataset.id)
    day = datetime.fromisoformat(s["similarity"]["created_at"]).date()
    cli = CliRunner(env=env_of(guided_settings))
    before = await labels_of(server, dataset.id)
    bad = await invoke(cli, ["revoke", dataset.name, "--kind", "similarity", "--since", "yesterday"])
    assert bad.exit_code == 2 and "not a time" in bad.output and "ISO 8601" in bad.output, bad.output
    assert await labels_of(server, dataset.id) == before
    args = ["--since", f"{day:%Y-%m}", "--until", f"{day.isoformat()}T24:00+00:00"]
    done = await invoke(cli, ["revoke", dataset.name, "--kind", "similarity", *args])
    assert done.exit_code == 0, done.output
    assert "revoked the labels of 5 item(s) from 1 event(s)" in done.output


REVOKE = """
mutation($d: Int!, $m: Int, $k: String) {
  revokeLabels(datasetId: $d, modelId: $m, kind: $k) {
    revoked skipped eventCount event { id kind parameters }
  }
}"""


async def test_graphql_revokes_a_models_labels_and_names_bad_input(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    data = await gql(server, REVOKE, {"d": dataset.id, "m": s["model"]}, tagger="carol")
    result = data["revokeLabels"]
    assert (result["revoked"], result["skipped"], result["eventCount"]) == (14, 1, 2)
    assert result["event"]["kind"] == "undo" and result["event"]["parameters"]["model_id"] == s["model"]
    await gql_error(server, REVOKE, {"d": dataset.id, "m": 987654}, code="NOT_FOUND", fragments=("987654",))
    await gql_error(server, REVOKE, {"d": dataset.id}, code="INVALID", fragments=("model",))
    await gql_error(server, REVOKE, {"d": dataset.id, "k": "undo"}, code="INVALID", fragments=("undo",))
    await gql_error(server, REVOKE, {"d": dataset.id, "m": s["model"]}, code="CONFLICT")


async def test_cli_revokes_a_models_labels_and_undoes_one_event(server, dataset, guided_settings, database):
    from click.testing import CliRunner

    from tests.helpers.cli import env_of, invoke

    s = await _scene(server, database, dataset.id)
    cli = CliRunner(env=env_of(guided_settings))
    done = await invoke(cli, ["revoke", dataset.name, "--model", str(s["model"])])
    assert done.exit_code == 0, done.output
    assert "revoked the labels of 14 item(s) from 2 event(s); 1 item(s) changed since" in done.output
    event_id = int(done.output.split()[1].rstrip(":"))
    undone = await invoke(cli, ["undo", str(event_id)])
    assert undone.exit_code == 0, undone.output
    assert (await labels_of(server, dataset.id))[s["ids"][12]] == [s["b"]]
    bad = await invoke(cli, ["revoke", dataset.name, "--model", "987654"])
    assert bad.exit_code != 0 and "987654" in bad.output
