"""`labelwise similar`, `labelwise label-by-probability` and `labelwise jobs build-index` through click."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from backend.settings import Settings, get_settings
from tests.helpers.cli import (
    env_of,
    invoke,
)
from tests.helpers.guided import API, add_class, classifier_model, item_ids, pca_model, tag


@pytest.fixture
def cli(guided_settings: Settings) -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner(env=env_of(guided_settings, LABELWISE_ALGORITHM_MODULES="tests.guided.fixed_classifier"))
    get_settings.cache_clear()


async def test_cli_ranks_similar_items_and_labels_them_as_one_event(cli, server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    await add_class(server, dataset.id, "ring")
    shown = await invoke(cli, ["similar", dataset.name, str(ids[2]), "--model", str(model_id), "--top", "5"])
    assert shown.exit_code == 0, shown.output
    assert "30 items ranked (exact search)" in shown.output
    first = shown.output.splitlines()[1].split()
    assert first[:3] == ["1", "item", str(ids[2])] and first[3] == "1.0000"

    labeled = await invoke(
        cli, ["similar", dataset.name, str(ids[2]), "--model", str(model_id), "--top", "4", "--label", "ring"]
    )
    assert labeled.exit_code == 0, labeled.output
    assert "labeled 4 items 'ring'" in labeled.output
    events = (await server.get(f"{API}/datasets/{dataset.id}/events")).json()["events"]
    assert events[0]["kind"] == "similarity" and events[0]["tagger"] == "cli-user"
    assert events[0]["parameters"]["shown"] == 4 and events[0]["parameters"]["query_items"] == [ids[2]]

    unknown = await invoke(
        cli, ["similar", dataset.name, str(ids[2]), "--model", str(model_id), "--label", "nope"]
    )
    assert unknown.exit_code == 1 and "no label class named 'nope'" in unknown.output


async def test_cli_labels_by_probability_without_overwriting(cli, server, dataset):
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    args = ["label-by-probability", dataset.name, "--model", str(model_id), "--threshold", "0.8"]

    refused = await invoke(cli, args)
    assert refused.exit_code == 2 and "--class NAME or --all-classes" in refused.output
    dry = await invoke(cli, [*args, "--class", "ring", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    count = int(dry.output.split()[0])
    assert count > 0 and (await server.get(f"{API}/datasets/{dataset.id}/events")).json()["total"] == 2
    done = await invoke(cli, [*args, "--class", "ring"])
    assert done.exit_code == 0, done.output
    assert f"labeled {count} items 'ring'" in done.output
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[ids[28]] == [arc]
    bad = await invoke(cli, [*args, "--all-classes", "--threshold", "2"])
    assert bad.exit_code == 1 and "INVALID" in bad.output


async def test_cli_builds_the_index_with_parameters(cli, server, dataset, guided_settings):
    model_id = await pca_model(server, dataset.id)
    result = await invoke(cli, ["jobs", "build-index", "--model", str(model_id), "--param", "m=12", "--wait"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    jobs = (await server.get(f"{API}/jobs", params={"kind": "build-index"})).json()["jobs"]
    assert jobs[0]["state"] == "succeeded" and jobs[0]["parameters"]["m"] == 12
    bad = await invoke(cli, ["jobs", "build-index", "--model", str(model_id), "--param", "m=1"])
    assert bad.exit_code == 1 and "m" in bad.output and "INVALID" in bad.output


async def test_cli_label_by_probability_leaves_out_the_excluded_items_as_rejections(
    cli, server, dataset, tmp_path
):
    # Issue 19: what the probability page does with deselected tiles, from the command line
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    url = f"{API}/datasets/{dataset.id}/probability"
    preview = (
        await server.get(url, params={"model_id": model_id, "threshold": 0.8, "label_id": ring})
    ).json()
    batch = [c["item_id"] for c in preview["items"]]
    assert len(batch) == preview["count"] >= 4
    listed = tmp_path / "not-rings.txt"
    listed.write_text(f"# looked at, not rings\n{batch[1]}, {batch[2]}  # two\n{ids[1]}\n")
    args = ["label-by-probability", dataset.name, "--model", str(model_id), "--threshold", "0.8"]

    bad = tmp_path / "bad.txt"
    bad.write_text("12 x\n")
    refused = await invoke(cli, [*args, "--class", "ring", "--exclude-file", str(bad)])
    assert refused.exit_code == 2 and "line 1: 'x' is not an item id" in refused.output
    done = await invoke(
        cli, [*args, "--class", "ring", "--exclude", str(batch[0]), "--exclude-file", str(listed)]
    )
    assert done.exit_code == 0, done.output
    assert f"labeled {len(batch) - 3} items 'ring'" in done.output
    assert "3 excluded item(s) left out: not suggested again as 'ring'" in done.output
    assert "1 excluded id(s) not in the batch or labeled" in done.output  # ids[1], labeled ring
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert not any(labels.get(i) for i in batch[:3]) and all(labels[i] == [ring] for i in batch[3:])
    event = (await server.get(f"{API}/datasets/{dataset.id}/events")).json()["events"][0]
    assert event["kind"] == "probability" and event["parameters"]["rejected"] == 3
    recorded = (await server.get(f"{API}/datasets/{dataset.id}/rejections")).json()["rejections"]
    assert {(r["item_id"], r["label_id"], r["event_id"]) for r in recorded} == {
        (i, ring, event["id"]) for i in batch[:3]
    }
    # the class's next batch does not offer them again
    again = await invoke(cli, [*args, "--class", "ring", "--dry-run"])
    assert again.exit_code == 0 and again.output.startswith("0 items would be labeled"), again.output


async def test_cli_label_by_probability_leaves_out_items_without_recording_them(cli, server, dataset):
    """``--left-out``: out of the batch and not labeled, as the page's "Select none" or Shift-click
    range, but no rejection: the class's next batch offers them again (``--exclude`` beside it is)."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    url = f"{API}/datasets/{dataset.id}/probability"
    params = {"model_id": model_id, "threshold": 0.8, "label_id": ring, "limit": 100}
    batch = [c["item_id"] for c in (await server.get(url, params=params)).json()["items"]]
    assert len(batch) >= 4
    args = ["label-by-probability", dataset.name, "--model", str(model_id), "--threshold", "0.8"]
    out = ["--left-out", str(batch[0]), "--left-out", str(batch[1]), "--exclude", str(batch[2])]

    dry = await invoke(cli, [*args, "--class", "ring", "--dry-run", *out])
    assert dry.exit_code == 0 and "less those of the 3 excluded or left-out ids" in dry.output, dry.output
    done = await invoke(cli, [*args, "--class", "ring", *out])
    assert done.exit_code == 0, done.output
    assert f"labeled {len(batch) - 3} items 'ring'" in done.output
    assert "1 excluded item(s) left out: not suggested again as 'ring'" in done.output
    recorded = (await server.get(f"{API}/datasets/{dataset.id}/rejections")).json()["rejections"]
    assert [(r["item_id"], r["label_id"]) for r in recorded] == [(batch[2], ring)]
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert not any(labels.get(i) for i in batch[:3]) and all(labels[i] == [ring] for i in batch[3:])
    again = [c["item_id"] for c in (await server.get(url, params=params)).json()["items"]]
    assert sorted(again) == sorted(batch[:2])
    assert "left-out id(s) not in the batch" not in done.output  # every one named was in it


async def test_cli_label_by_probability_says_the_left_out_ids_not_in_the_batch(cli, server, dataset):
    """A ``--left-out`` id the batch does not hold leaves nothing out: the command says how many,
    as it does for ``--exclude`` ids, where it used to pass in silence."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    params = {"model_id": model_id, "threshold": 0.8, "label_id": ring, "limit": 100}
    batch = [
        c["item_id"]
        for c in (await server.get(f"{API}/datasets/{dataset.id}/probability", params=params)).json()["items"]
    ]
    args = ["label-by-probability", dataset.name, "--model", str(model_id), "--threshold", "0.8"]
    out = ["--left-out", str(batch[0]), "--left-out", "999998", "--left-out", "999999"]
    done = await invoke(cli, [*args, "--class", "ring", *out])
    assert done.exit_code == 0, done.output
    assert f"labeled {len(batch) - 1} items 'ring'" in done.output
    assert "2 left-out id(s) not in the batch: nothing left out" in done.output
