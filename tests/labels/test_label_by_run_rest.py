"""Labeling along the acquisition structure over REST and GraphQL: items filtered and sorted by
their header metadata, and a run labeled except the deselected items as one event."""

from __future__ import annotations

from pathlib import Path

from tests.detector.factories import (
    write_runs,
)
from tests.helpers.graphql import gql
from tests.helpers.rest import API, add_class


async def _dataset(client, folder: Path) -> int:
    write_runs(folder)
    created = await client.post(f"{API}/datasets", json={"name": "runs", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    return created.json()["dataset"]["id"]


async def _items(client, ds: int, **params) -> dict:
    response = await client.get(f"{API}/datasets/{ds}/items", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_items_filter_and_sort_by_header_metadata(client, folder):
    ds = await _dataset(client, folder)
    run1 = await _items(client, ds, run="1")
    assert run1["total"] == 4 and {i["uri"] for i in run1["items"]} == {"run1.edf"}
    assert run1["items"][0]["metadata"] == {
        "run": "1",
        "sample": "kapton",
        "exposure": 0.5,
        "time": "2024-01-01T10:00:03",
    }
    by_exposure = await _items(client, ds, sort="exposure")
    exposures = [(i["metadata"] or {}).get("exposure") for i in by_exposure["items"]]
    assert exposures == [0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 2.0, None]  # items without it last
    by_time = await _items(client, ds, sort="time", sample="AgBh")
    assert [i["frame"] for i in by_time["items"]] == [2, 1, 0]
    window = await _items(client, ds, time_from="2024-01-01T10:00:01", time_to="2024-01-01T10:00:02")
    assert sorted(i["frame"] for i in window["items"]) == [1, 2]
    assert (await _items(client, ds, exposure=0.2))["total"] == 1
    assert (await _items(client, ds, run="3"))["total"] == 0
    values = (await client.get(f"{API}/datasets/{ds}/items/metadata-values")).json()
    assert values == {
        "run": ["1", "2"],
        "sample": ["AgBh", "kapton"],
        "exposure": [0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 2.0],
    }
    detail = (await client.get(f"{API}/items/{run1['items'][0]['id']}")).json()
    assert detail["metadata"]["sample"] == "kapton"


async def test_a_run_is_labeled_except_the_deselected_items_as_one_event(client, folder):
    ds = await _dataset(client, folder)
    good = await add_class(client, ds, "good")
    bad = await add_class(client, ds, "bad")
    run1 = (await _items(client, ds, run="1"))["items"]
    left_out = run1[1]["id"]
    response = await client.post(
        f"{API}/datasets/{ds}/items/label-matching",
        json={"run": "1", "label_id": good["id"], "except_item_ids": [left_out]},
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["kind"] == "manual"
    assert event["parameters"]["match"] == {"run": "1"}
    assert event["parameters"]["matched"] == 4 and event["parameters"]["deselected"] == 1
    events = (await client.get(f"{API}/datasets/{ds}/events")).json()
    assert len(events["events"] if isinstance(events, dict) else events) == 1
    labels = {i["id"]: i["label_ids"] for i in (await _items(client, ds, limit=50))["items"]}
    assert [labels[i["id"]] for i in run1] == [[good["id"]], [], [good["id"]], [good["id"]]]
    assert all(labels[i["id"]] == [] for i in (await _items(client, ds, run="2"))["items"])
    # labeled items are left alone without overwrite: only the one left out before is labeled
    again = await client.post(
        f"{API}/datasets/{ds}/items/label-matching", json={"run": "1", "label_id": bad["id"]}
    )
    assert again.status_code == 201 and again.json()["parameters"]["skipped_labeled"] == 3
    labels = {i["id"]: i["label_ids"] for i in (await _items(client, ds, run="1"))["items"]}
    assert labels[left_out] == [bad["id"]] and labels[run1[0]["id"]] == [good["id"]]
    nothing = await client.post(
        f"{API}/datasets/{ds}/items/label-matching", json={"run": "1", "label_id": bad["id"]}
    )
    assert nothing.status_code == 409


async def test_label_matching_refuses_without_a_filter_or_a_match(client, folder):
    ds = await _dataset(client, folder)
    label = await add_class(client, ds, "x")
    url = f"{API}/datasets/{ds}/items/label-matching"
    no_filter = await client.post(url, json={"label_id": label["id"]})
    assert no_filter.status_code == 400 and "a run, a sample" in no_filter.text
    no_match = await client.post(url, json={"run": "99", "label_id": label["id"]})
    assert no_match.status_code == 400 and "matches" in no_match.text
    ids = [i["id"] for i in (await _items(client, ds, run="2"))["items"]]
    all_out = await client.post(url, json={"run": "2", "label_id": label["id"], "except_item_ids": ids})
    assert all_out.status_code == 400 and "deselected" in all_out.text


async def test_graphql_items_carry_metadata_and_filter_by_it(client, folder):
    ds = await _dataset(client, folder)
    data = await gql(
        client,
        'query($ds: Int!) { items(datasetId: $ds, run: "2", sort: EXPOSURE) '
        "{ total items { frame metadata { run sample exposure time temperature } } } }",
        {"ds": ds},
    )
    page = data["items"]
    assert page["total"] == 3 and [i["frame"] for i in page["items"]] == [1, 0, 2]
    assert page["items"][0]["metadata"] == {
        "run": "2",
        "sample": "AgBh",
        "exposure": 0.2,
        "time": "2024-01-02T08:00:00",
        "temperature": None,
    }


async def test_graphql_labels_a_run_except_the_deselected(client, folder):
    ds = await _dataset(client, folder)
    label = await add_class(client, ds, "ok")
    run2 = (await _items(client, ds, run="2"))["items"]
    data = await gql(
        client,
        "mutation($ds: Int!, $label: Int!, $out: [Int!]) { labelMatching(datasetId: $ds, labelId: $label, "
        'sample: "AgBh", exceptItemIds: $out) { kind tagCount parameters } }',
        {"ds": ds, "label": label["id"], "out": [run2[0]["id"]]},
    )
    event = data["labelMatching"]
    assert event["kind"] == "manual" and event["tagCount"] == 2
    assert event["parameters"]["match"] == {"sample": "AgBh"} and event["parameters"]["deselected"] == 1


async def test_an_exposure_that_is_not_a_number_is_refused(client, folder):
    ds = await _dataset(client, folder)
    response = await client.get(f"{API}/datasets/{ds}/items", params={"exposure": "nan"})
    assert response.status_code == 400 and "finite" in response.text


async def test_null_for_an_optional_list_of_items_means_none_as_in_graphql(client, folder):
    """GraphQL reads ``exceptItemIds: null`` (and the batches' rejected / left-out items) as none;
    REST refused the same null with 400 ("Expected `array`, got `null`"). Now null is the absent
    list at every such REST body: label by run, similarity, probability and explorer batches."""
    ds = await _dataset(client, folder)
    good = await add_class(client, ds, "good")
    url = f"{API}/datasets/{ds}/items/label-matching"
    response = await client.post(url, json={"run": "1", "label_id": good["id"], "except_item_ids": None})
    assert response.status_code == 201, response.text
    assert response.json()["parameters"]["matched"] == 4 and response.json()["parameters"]["deselected"] == 0

    # The batches name a model that does not exist: with the list absent or null, the same 404 (the
    # body was read), where null was a 400 before.
    item = (await _items(client, ds, run="2"))["items"][0]["id"]
    bodies = {
        f"{API}/datasets/{ds}/similar/label": (
            {"model_id": 999999, "query_item_ids": [item], "item_ids": [item], "label_id": good["id"],
             "shown": 1},
            ["rejected_item_ids"],
        ),
        f"{API}/datasets/{ds}/probability/apply": (
            {"model_id": 999999, "threshold": 0.5, "label_id": good["id"]},
            ["rejected_item_ids", "left_out_item_ids"],
        ),
        f"{API}/datasets/{ds}/explorer/label": (
            {"projection_job_id": 999999, "item_ids": [item], "label_id": good["id"]},
            ["rejected_item_ids"],
        ),
    }  # fmt: skip
    for path, (body, fields) in bodies.items():
        absent = await client.post(path, json=body)
        assert absent.status_code == 404, (path, absent.text)
        for field in fields:
            null = await client.post(path, json={**body, field: None})
            answer = (null.status_code, null.json()["error"]["code"])
            assert answer == (404, absent.json()["error"]["code"]), (path, field, null.text)


async def test_null_for_an_optional_json_object_means_none_as_in_graphql(client, folder):
    """GraphQL reads ``parameters: null`` (a job's, a feature report's, a tag event's) and the
    explorer's ``selection: null`` as an empty object; REST refused them with 400 ("Expected
    `object`, got `null`"). Now null is the absent object there too."""
    ds = await _dataset(client, folder)
    good = await add_class(client, ds, "good")
    item = (await _items(client, ds, run="1"))["items"][0]["id"]

    tagged = await client.post(
        f"{API}/datasets/{ds}/tags", json={"item_ids": [item], "label_id": good["id"], "parameters": None}
    )
    assert tagged.status_code == 201, tagged.text
    assert tagged.json()["parameters"] == {}

    # The same answer as with the object absent (the body was read: the defaults, for a job, are
    # too many components for these 8 items), where null was a 400 "got `null`" before.
    bodies = {
        f"{API}/jobs": ({"dataset_id": ds, "algorithm": "pca"}, "parameters"),
        f"{API}/datasets/{ds}/feature-report": ({}, "parameters"),
        f"{API}/datasets/{ds}/explorer/label": (
            {"projection_job_id": 999999, "item_ids": [item], "label_id": good["id"]},
            "selection",
        ),
    }
    for path, (body, field) in bodies.items():
        absent = await client.post(path, json=body)
        null = await client.post(path, json={**body, field: None})
        assert "null" not in null.text, (path, null.text)
        assert (null.status_code, null.json()["error"]) == (absent.status_code, absent.json()["error"]), path
