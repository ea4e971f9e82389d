"""A time means one moment at both doors: REST's time query parameters read what GraphQL's
DateTime reads (a date alone: its 00:00 UTC; no zone: UTC), and refuse garbage by name."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.helpers import graphql
from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, tag

LABELS = "query($d: Int!, $asOf: DateTime) { labels(datasetId: $d, asOf: $asOf) { itemId labelIds } }"
EVENTS = """
query($d: Int!, $since: DateTime, $until: DateTime) {
  events(datasetId: $d, since: $since, until: $until) { total }
}
"""


async def _tagged(client, folder) -> tuple[int, list[int], int, datetime]:
    dataset_id = (await create_dataset(client, folder, count=3))["dataset"]["id"]
    ids = await item_ids(client, dataset_id)
    cat = (await add_class(client, dataset_id, "cat"))["id"]
    event = await tag(client, dataset_id, ids[:2], cat)
    return dataset_id, ids, cat, datetime.fromisoformat(event["created_at"])


def _forms(at: datetime) -> dict[str, bool]:
    """Texts in the forms GraphQL takes, each with whether the labels stood by then."""
    day, next_day = at.date(), at.date() + timedelta(days=1)
    return {
        day.isoformat(): False,  # that day's 00:00 UTC: before the tagging
        next_day.isoformat(): True,
        next_day.strftime("%Y%m%d"): True,
        "2999-01-01": True,
        f"{next_day.isoformat()}T00:00": True,  # no zone: UTC
        f"{day.isoformat()}T00:00+00:00": False,
    }


async def test_rest_and_graphql_read_a_date_alone_and_other_iso_forms_alike(client, folder):
    dataset_id, ids, cat, at = await _tagged(client, folder)
    everything = {ids[0]: [cat], ids[1]: [cat]}
    for text, labeled in _forms(at).items():
        response = await client.get(f"{API}/datasets/{dataset_id}/labels", params={"as_of": text})
        assert response.status_code == 200, (text, response.text)
        rest = {row["item_id"]: row["label_ids"] for row in response.json()}
        rows = (await graphql.gql(client, LABELS, {"d": dataset_id, "asOf": text}))["labels"]
        assert rest == {row["itemId"]: row["labelIds"] for row in rows} == (everything if labeled else {}), (
            text
        )
        events = f"{API}/datasets/{dataset_id}/events"
        since = (await client.get(events, params={"since": text})).json()["total"]
        until = (await client.get(events, params={"until": text})).json()["total"]
        assert (since, until) == ((0, 1) if labeled else (1, 0)), text
        data = await graphql.gql(client, EVENTS, {"d": dataset_id, "since": text})
        assert data["events"]["total"] == since, text
        export = await client.get(f"{API}/datasets/{dataset_id}/export", params={"as_of": text})
        assert export.status_code == 200, (text, export.text)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-12-07T25:00", ""])
async def test_garbage_times_are_refused_by_name_at_both_doors(client, folder, text):
    dataset_id, *_ = await _tagged(client, folder)
    for path, name in [("labels", "as_of"), ("export", "as_of"), ("events", "since"), ("events", "until")]:
        response = await client.get(f"{API}/datasets/{dataset_id}/{path}", params={name: text})
        assert_error(response, 400, "INVALID", f"'{name}'", "not a time", "ISO 8601", "2026-12-07")
    await graphql.gql_error(
        client,
        LABELS,
        {"d": dataset_id, "asOf": text},
        code="GRAPHQL_VALIDATION_FAILED",
        fragments=("not a time", "ISO 8601"),
    )
