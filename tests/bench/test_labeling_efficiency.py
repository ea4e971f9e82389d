"""The labeling-efficiency study runs end to end on a small demo set, and its report adds up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest

from backend.demo import generate_demo
from bench.labeling_efficiency import main
from bench.labeling_efficiency.expert import ACTION_KINDS, Selection, choose_selection, clean_prefix
from tests.live import live_app

pytestmark = pytest.mark.ml


@pytest.fixture
def demo_folder(data_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    folder = data_root / f"efficiency-{tmp_path.name}"
    truth = generate_demo(folder, 96, size=64, seed=3, ground_truth=tmp_path / "truth.csv")
    return folder, truth


def _truth(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["path"]: row["label"] for row in csv.DictReader(handle)}


def test_study_report_is_consistent_with_the_server_and_the_ground_truth(
    settings, database, demo_folder, tmp_path
):
    folder, truth_csv = demo_folder
    out = tmp_path / "out"
    with live_app(settings) as url:
        main(
            [
                "--url", url, "--folder", str(folder), "--truth", str(truth_csv), "--out", str(out),
                "--quick", "--target", "0.9",
                "--classifier-params", '{"epochs": 20}', "--max-classifier-rounds", "2",
            ]
        )  # fmt: skip
        report = json.loads((out / "report.json").read_text())
        truth = _truth(truth_csv)
        with httpx.Client(base_url=f"{url}/api/v1") as client:
            recomputed = {}
            for mode in ("guided", "manual"):
                dataset_id = report[mode]["dataset_id"]
                items = client.get(f"/datasets/{dataset_id}/items", params={"limit": 500}).json()["items"]
                classes = {c["id"]: c["name"] for c in client.get(f"/datasets/{dataset_id}/classes").json()}
                labels = client.get(f"/datasets/{dataset_id}/labels").json()
                uri = {i["id"]: i["uri"] for i in items}
                correct = sum(
                    1
                    for row in labels
                    if [classes[c] for c in row["label_ids"]] == [truth[uri[row["item_id"]]]]
                )
                recomputed[mode] = (len(labels), correct)
                events = client.get(f"/datasets/{dataset_id}/events", params={"limit": 500}).json()
                recomputed[mode + "_events"] = events

    assert (out / "labeling_efficiency.png").stat().st_size > 5000
    for mode in ("guided", "manual"):
        run = report[mode]
        assert run["items"] == len(truth) == 96
        assert sum(run["actions_by_kind"].values()) == run["actions"]
        assert set(run["actions_by_kind"]) == set(ACTION_KINDS)
        assert (run["labeled"], run["correct"]) == recomputed[mode]
        assert run["accuracy"] == pytest.approx(run["correct"] / run["labeled"])
        assert run["labeled_fraction"] == pytest.approx(run["labeled"] / run["items"])
        assert run["timeline"][-1] == [run["actions"], run["labeled"], run["correct"]]
        actions = [point[0] for point in run["timeline"]]
        assert actions == sorted(actions)
        assert run["actions_by_kind"]["job"] == run["jobs_started"]
        assert sum(run["unlabeled_by_class"].values()) == run["items"] - run["labeled"]
        assert set(run["unlabeled_by_class"]) <= set(truth.values())
    manual, guided = report["manual"], report["guided"]
    assert manual["actions"] == manual["actions_by_kind"]["manual"] == manual["labeled"]
    assert manual["accuracy"] == 1.0 and manual["jobs_started"] == 0
    assert manual["labeled_fraction"] >= 0.9
    assert guided["jobs_started"] >= 2  # a feature extractor trained and its vectors computed
    # every class is seeded (a similarity page around one of its items) before the first classifier
    log = guided["log"]
    first_classifier = next(i for i, line in enumerate(log) if "] classifier " in line)
    seeded = {line.split(" for ")[1].split(":")[0] for line in log[:first_classifier] if " for " in line}
    assert seeded == set(truth.values()), log[:first_classifier]
    assert guided["labeled_fraction"] >= 0.9
    assert report["targets"]["labeled_fraction"]["met"] is True


def test_a_truth_file_without_the_columns_is_refused(tmp_path):
    bad = tmp_path / "truth.csv"
    bad.write_text("file,class\na.png,rings\n")
    with pytest.raises(SystemExit, match="path,label"):
        main(["--folder", str(tmp_path), "--truth", str(bad), "--out", str(tmp_path / "o")])


def test_the_expert_takes_the_most_labels_per_action_from_a_page():
    assert choose_selection([True] * 6) == Selection([True] * 6, 0)
    # a few wrong tiles among many right ones: deselect them one by one
    mostly = [True] * 40 + [False, True, False] + [True] * 20
    assert choose_selection(mostly) == Selection(mostly, 2)
    # a page that turns: keep the top twelve (click tile 13, Shift-click the last), not 12 deselects
    turning = choose_selection([True] * 12 + [False] * 12)
    assert turning == Selection([True] * 12 + [False] * 12, 2)
    # an outlier inside the kept top is deselected too; the right tile in the tail waits
    page = [True, False, True, True, True, True, True, False, False, False, True, False]
    assert choose_selection(page) == Selection([True, False] + [True] * 5 + [False] * 5, 3)
    # a poor page: the first right tile by hand (one action), the page left
    poor = [False, True, False, False, True, False, False]
    assert choose_selection(poor) == Selection([i == 1 for i in range(7)], 0, batch=False)
    assert choose_selection([False] * 5) == Selection([False] * 5, 0)


def test_the_reviewer_accepts_the_gallery_down_to_the_first_page_that_looks_wrong():
    probabilities = [1.0 - i / 1000 for i in range(10)]
    # pages of 4, at most a quarter wrong: pages 1 and 2 pass (one wrong each), page 3 has two
    belongs = [True, True, False, True, True, False, True, True, False, False]
    assert clean_prefix(probabilities, belongs, page=4, max_error=0.25) == 8
    assert clean_prefix(probabilities, belongs, page=4, max_error=0.0) == 0
    assert clean_prefix(probabilities, [True] * 10, page=4, max_error=0.0) == 10
    # the page that turns: its top is taken while it reads right (at least min_cut items)
    falling = [1.0 - i / 100 for i in range(30)]
    turning = [True] * 10 + [True, False] + [True] * 6 + [False] * 12
    # page 2 has four wrong in ten; its top eight hold one of them (one in eight is within 0.125)
    assert clean_prefix(falling, turning, page=10, max_error=0.125, min_cut=4) == 18
    assert clean_prefix(falling, turning, page=10, max_error=0.125, min_cut=9) == 10
    # a tie across the cut: a threshold cannot split it, so the cut moves up past it
    tied = [0.99, 0.98, 0.97, 0.96, 0.95, 0.95, 0.94]
    assert clean_prefix(tied, [True] * 5 + [False] * 2, page=5, max_error=0.0) == 4
