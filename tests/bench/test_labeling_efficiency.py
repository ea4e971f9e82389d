"""The labeling-efficiency study runs end to end on a small demo set, and its report adds up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest

from backend.demo import generate_demo
from bench.labeling_efficiency import main
from bench.labeling_efficiency.expert import (
    ACTION_KINDS,
    BatchRecord,
    Expert,
    Strategy,
    batch_choice,
    batch_choice_in_place,
    batch_decision,
    binomial_gap,
    calibration,
    items_to_read,
    timed_run,
)
from tests.live import live_app

MODES = ("guided", "guided_without_guardrails", "manual")

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
                "--target", "0.9", "--guardrails", "both", "--max-epochs", "2", "--max-head-epochs", "2",
            ]
        )  # fmt: skip
        report = json.loads((out / "report.json").read_text())
        truth = _truth(truth_csv)
        with httpx.Client(base_url=f"{url}/api/v1") as client:
            recomputed = {}
            for mode in MODES:
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
                events = client.get(f"/datasets/{dataset_id}/events", params={"limit": 500}).json()["events"]
                recomputed[mode + "_events"] = events

    assert (out / "labeling_efficiency.png").stat().st_size > 5000
    assert (out / "calibration.png").stat().st_size > 5000
    for mode in MODES:
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
    manual = report["manual"]
    assert manual["actions"] == manual["actions_by_kind"]["manual"] == manual["labeled"]
    assert manual["accuracy"] == 1.0 and manual["jobs_started"] == 0
    assert manual["labeled_fraction"] >= 0.9
    for mode in ("guided", "guided_without_guardrails"):
        run, events = report[mode], recomputed[mode + "_events"]
        assert run["guardrails"] is (mode == "guided")
        # the expert acted only through the queue: every batch event is one it accepted, and
        # each accepted batch wrote what the report says (its kept items, with the class named)
        # (items to label one by one accepted with the classifier's classes are "probability"
        # events too, counted apart: they promise nothing, the expert read every item; a page of
        # several classes' batches accepted as shown is a batch, with its promise)
        all_batch_events = [e for e in events if e["kind"] in ("similarity", "probability")]
        shown = [e for e in all_batch_events if e["parameters"].get("suggestion") == "label_items"]
        assert all(e["parameters"]["as_predicted"] for e in shown)
        batch_events = [e for e in all_batch_events if e not in shown]
        assert len(shown) == run["shown_accepts"]
        assert sum(e["tag_count"] for e in shown) == run["accepted_as_shown"]
        assert len(all_batch_events) == run["actions_by_kind"]["batch"]
        assert len(batch_events) == len(run["batches"])
        assert sum(e["tag_count"] for e in batch_events) == run["batch_labels_written"]
        assert run["batch_labels_written"] == sum(b["labeled"] for b in run["batches"])
        manual_events = [e for e in events if e["kind"] == "manual"]
        assert len(manual_events) == run["actions_by_kind"]["manual"]
        calibration = run["calibration"]
        assert calibration["batches"] == len(calibration["pairs"])
        if calibration["pairs"]:
            gap = sum(abs(e - m) for e, m in calibration["pairs"]) / len(calibration["pairs"])
            assert calibration["mean_absolute_gap"] == pytest.approx(gap, abs=1e-4)
        assert run["stopped_by"]
    assert report["targets"]["labeled_fraction"]["value"] == report["guided"]["labeled_fraction"]


def test_binomial_gap_is_what_an_exact_promise_still_misses_by():
    assert binomial_gap(1.0, 8) == 0.0 and binomial_gap(0.5, 0) == 0.0
    assert binomial_gap(0.5, 2) == pytest.approx(0.25)  # k = 0, 1, 2: |gap| 0.5, 0, 0.5
    # pages of 8 at 0.85: about 0.1 off however right the promise (the study's batch sizes)
    assert 0.08 < binomial_gap(0.85, 8) < 0.12 and binomial_gap(0.85, 200) < 0.03


def test_calibration_reports_the_signed_gap_per_batch_kind():
    def record(kind: str, promised: float | None, held: float, size: int) -> BatchRecord:
        return BatchRecord(kind, "a", size, promised, held, 0, 0, 0, size, size, 0)

    found = calibration(
        [
            record("probability", 0.9, 0.7, 10),  # over-promised by 0.2
            record("similarity", 0.6, 1.0, 5),  # under-promised by 0.4
            record("similarity", 0.8, 0.9, 8),  # under-promised by 0.1
            record("similarity", None, 0.5, 8),  # no promise: not judged
        ]
    )
    assert found["batches"] == 3
    assert found["mean_absolute_gap"] == pytest.approx(0.7 / 3, abs=1e-4)
    assert found["mean_signed_gap"] == pytest.approx(-0.3 / 3, abs=1e-4)
    assert found["noise_floor"] == pytest.approx(
        (binomial_gap(0.9, 10) + binomial_gap(0.6, 5) + binomial_gap(0.8, 8)) / 3, abs=1e-4
    )
    similarity = found["by_kind"]["similarity"]
    assert similarity["batches"] == 2 and similarity["mean_signed_gap"] == pytest.approx(-0.25)
    assert similarity["mean_promised"] == pytest.approx(0.7) and similarity["mean_held"] == pytest.approx(
        0.95
    )
    assert found["by_kind"]["probability"]["mean_absolute_gap"] == pytest.approx(0.2)


def test_a_truth_file_without_the_columns_is_refused(tmp_path):
    bad = tmp_path / "truth.csv"
    bad.write_text("file,class\na.png,rings\n")
    with pytest.raises(SystemExit, match="path,label"):
        main(["--folder", str(tmp_path), "--truth", str(bad), "--out", str(tmp_path / "o")])


def test_the_expert_reads_the_first_pages_of_a_batch_and_trusts_the_rest():
    # few wrong among what was read: those deselected one by one, the unread tail kept
    right = [True] * 9 + [False] + [True] * 5 + [False] * 3
    keep, clicks = batch_choice(right, look=10, max_error=0.1)
    assert clicks == 1 and keep == [True] * 9 + [False] + [True] * 8
    # too many wrong among what was read: only the right ones read are kept, the tail dropped
    keep, clicks = batch_choice([True, False, False, True, True, True], look=4, max_error=0.1)
    assert keep == [True, False, False, True, False, False] and clicks == 3
    # mostly wrong: "Select none" and the one right item is cheaper than seven deselects
    keep, clicks = batch_choice([False] * 3 + [True] + [False] * 4, look=8, max_error=0.1)
    assert keep == [False] * 3 + [True] + [False] * 4 and clicks == 2
    # reading everything (look 0): every wrong item deselected, nothing wrong written
    right = [True, False, True, True, False]
    keep, clicks = batch_choice(right, look=0, max_error=0.5)
    assert keep == right and clicks == 2
    keep, clicks = batch_choice([True] * 4, look=2, max_error=0.0)
    assert keep == [True] * 4 and clicks == 0


def test_the_expert_says_only_the_items_it_clicked_out_are_not_the_class():
    # few wrong read: each clicked out, a rejection; the unread tail is kept
    right = [True] * 9 + [False] + [True] * 5 + [False] * 3
    assert batch_decision(right, look=10, max_error=0.1) == ([True] * 9 + [False] + [True] * 8, 1, [9])
    # too many: the wrong ones read clicked out (rejections), the tail dropped unread (not)
    keep, clicks, out = batch_decision([True, False, False, True, True, True], look=4, max_error=0.1)
    assert keep == [True, False, False, True, False, False] and clicks == 3 and out == [1, 2]
    # mostly wrong: "Select none" and a click on the one right item: nothing clicked out
    keep, clicks, out = batch_decision([False] * 3 + [True] + [False] * 4, look=8, max_error=0.1)
    assert keep == [False] * 3 + [True] + [False] * 4 and clicks == 2 and out == []


def test_the_expert_labels_the_wrong_items_it_reads_in_place_for_the_same_keys():
    # few wrong among what was read: each labeled with its own class (one key), the tail kept
    right = [True] * 9 + [False] + [True] * 5 + [False] * 3
    keep, clicks, fixes = batch_choice_in_place(right, look=10, max_error=0.1)
    assert keep == [True] * 9 + [False] + [True] * 8 and clicks == 0 and fixes == [9]
    assert clicks + len(fixes) == batch_choice(right, look=10, max_error=0.1)[1]  # same keys
    # too many wrong: the wrong ones read labeled in place, the right ones read kept, the tail
    # dropped with one Shift-click (never "Select none": that would leave the wrong ones unlabeled)
    keep, clicks, fixes = batch_choice_in_place([False] * 3 + [True] + [False] * 4, look=6, max_error=0.1)
    assert keep == [False] * 3 + [True] + [False] * 4 and clicks == 1 and fixes == [0, 1, 2, 4, 5]
    # everything read and right: nothing to do
    assert batch_choice_in_place([True] * 4, look=0, max_error=0.0) == ([True] * 4, 0, [])


class FakeClient:
    """What the expert uses of ``labelwise_client.Client``, in memory."""

    def __init__(self, classes: list[str]) -> None:
        self.class_rows = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
        self.state: dict[int, list[int]] = {}
        self.tags: list[tuple[list[int], int]] = []

    def classes(self, dataset_id: int) -> list[dict]:
        return self.class_rows

    def labels(self, dataset_id: int) -> list[dict]:
        return [{"item_id": i, "label_ids": ids} for i, ids in sorted(self.state.items())]

    def tag(self, dataset_id: int, items: list[int], label: int) -> dict:
        self.tags.append((list(items), label))
        for item in items:
            self.state[item] = [label]
        return {}

    def close(self) -> None:
        pass


class FakeQueue:
    """A queue that suggests one probability batch, then every item left to label by hand."""

    def __init__(self, client: FakeClient, batch: list[int], flags: set[int]) -> None:
        self.client = client
        self.batch, self.flags = batch, flags
        self.accepted: list[tuple[str, list[int] | None, int | None]] = []
        self.rejected: list[list[int] | None] = []  # what each accept said is not the class
        self.job_wait_seconds = 0.0
        self.jobs: list[int] = []
        self.flag_calls = 0
        self.auto_calls = 0
        self.estimate: float | None = None  # the stopping estimate's expected accuracy
        self.truth: dict[int, str] = {}

    def wait_server(self, dataset_id: int) -> int:
        return 0  # no server: nothing runs by itself

    def next_actions(self, dataset_id: int, limit: int = 10) -> dict:
        unlabeled = [i for i in self.batch if i not in self.client.state and not self.accepted]
        todo = [i for i in sorted(self.truth) if i not in self.client.state]
        suggestions = []
        if unlabeled:
            suggestions.append(
                {"key": "b1", "kind": "probability_batch", "title": "batch", "reason": "",
                 "item_ids": unlabeled, "label_id": 1, "model_id": 7, "expected_precision": 0.8, "params": {}}
            )  # fmt: skip
        if todo:
            suggestions.append(
                {"key": "h1", "kind": "label_items", "title": "by hand", "reason": "", "item_ids": todo,
                 "label_id": None, "model_id": None, "expected_precision": None, "params": {}}
            )  # fmt: skip
        return {"suggestions": suggestions, "needs": [], "stopping": None}

    def stopping_estimate(self, dataset_id: int) -> dict:
        left = [i for i in self.truth if i not in self.client.state]
        return {"model_id": 7 if self.estimate else None, "threshold": 0.9, "unlabeled": len(left),
                "auto_label_count": len(left), "expected_accuracy": self.estimate,
                "seen_event_id": 1}  # fmt: skip

    def auto_label_rest(self, dataset_id: int, estimate: dict) -> dict:
        left = [i for i in self.truth if i not in self.client.state]
        for item in left:  # the classifier's classes: all "ring"
            self.client.state[item] = [1]
        self.auto_calls += 1
        return {"labeled": len(left)}

    def batch_flags(self, dataset_id: int, model_id: int, item_ids: list[int], label_id: int) -> dict:
        self.flag_calls += 1
        return {i: ["far from the batch"] for i in item_ids if i in self.flags}

    def accept(self, dataset_id: int, key: str, item_ids=None, label_id=None, rejected_item_ids=None) -> dict:
        self.accepted.append((key, item_ids, label_id))
        self.rejected.append(rejected_item_ids)
        self.client.tag(dataset_id, item_ids or [], label_id)
        return {"labeled": len(item_ids or []), "job_ids": [], "batch_id": 1, "skipped": 0}


class ShowingQueue(FakeQueue):
    """Items to label one by one with the classifier's class shown: always "ring" (id 1)."""

    def next_actions(self, dataset_id: int, limit: int = 10) -> dict:
        found = super().next_actions(dataset_id, limit)
        for s in found["suggestions"]:
            if s["kind"] == "label_items":
                s["params"] = {"classifier_id": 7, "predicted_label_ids": [1] * len(s["item_ids"])}
        return found

    def accept(self, dataset_id: int, key: str, item_ids=None, label_id=None, rejected_item_ids=None) -> dict:
        if key != "h1":
            return super().accept(dataset_id, key, item_ids, label_id, rejected_item_ids)
        self.accepted.append((key, item_ids, label_id))
        rest = [i for i in sorted(self.truth) if i not in self.client.state]
        self.client.tag(dataset_id, rest, 1)
        return {"labeled": len(rest), "job_ids": [], "batch_id": 2, "skipped": 0}


class FreshQueue(FakeQueue):
    """Labels by hand, then a due retrain with "keep models fresh" beside it, ranked first (as the
    product ranks them); once switched on, the server retrains by itself (``wait_server``)."""

    def __init__(self, client: FakeClient) -> None:
        super().__init__(client, batch=[], flags=set())
        self.fresh = False
        self.server_waits = 0
        self.retrains = 0

    def next_actions(self, dataset_id: int, limit: int = 10) -> dict:
        found = super().next_actions(dataset_id, limit)
        for s in found["suggestions"]:  # two items a step, so the retrain comes between
            s["item_ids"] = s["item_ids"][:2]
        if len(self.client.state) >= 2 and not self.fresh and not self.retrains:
            job = {"reason": "", "item_ids": [], "label_id": None, "model_id": 7, "expected_precision": None}
            found["suggestions"][:0] = [
                {**job, "key": "f1", "kind": "keep_fresh", "title": "keep fresh", "params": {}},
                {**job, "key": "r1", "kind": "retrain", "title": "retrain", "params": {}},
            ]
        return found

    def accept(self, dataset_id: int, key: str, item_ids=None, label_id=None, rejected_item_ids=None,
               parameters=None) -> dict:  # fmt: skip
        self.accepted.append((key, item_ids, label_id))
        self.fresh |= key == "f1"
        self.retrains += key == "r1"
        return {"labeled": 0, "job_ids": [], "batch_id": None, "skipped": 0}

    def wait_jobs(self, job_ids: list[int]) -> list[str]:
        return []

    def wait_server(self, dataset_id: int) -> int:
        self.server_waits += 1
        return int(self.fresh)


@pytest.mark.parametrize("keep_fresh", [True, False])
def test_the_expert_switches_models_fresh_on_when_suggested_and_waits_for_the_server(keep_fresh):
    truth = {i: "ring" for i in range(1, 5)} | {5: "peak", 6: "peak"}
    client = FakeClient(["ring", "peak"])
    queue = FreshQueue(client)
    queue.truth = truth
    expert = Expert(queue, 1, truth, Strategy(accept_shown=False, keep_fresh=keep_fresh), target=1.0)
    result = timed_run(expert, guided=True)
    assert result["correct"] == 6
    # one click for the switch, or one for the retrain: the same count here, another path
    assert result["actions_by_kind"]["job"] == 1
    assert [k for k, _, _ in queue.accepted] == (["f1"] if keep_fresh else ["r1"])
    assert queue.server_waits >= 3  # before each step, whatever the switch


@pytest.mark.parametrize("accept_shown", [True, False])
def test_the_expert_keys_only_where_the_class_shown_is_wrong_and_accepts_the_rest(accept_shown):
    truth = {i: "ring" for i in range(1, 7)} | {7: "peak", 8: "peak"}
    client = FakeClient(["ring", "peak"])
    queue = ShowingQueue(client, batch=[], flags=set())
    queue.truth = truth
    expert = Expert(queue, 1, truth, Strategy(page_size=4, accept_shown=accept_shown), target=1.0)
    result = timed_run(expert, guided=True)
    assert result["correct"] == 8
    if accept_shown:  # a key on each peak, one click for the six rings
        assert {k: v for k, v in result["actions_by_kind"].items() if v} == {"manual": 2, "batch": 1}
        assert result["accepted_as_shown"] == 6 and queue.accepted == [("h1", None, None)]
    else:  # a key per item
        assert {k: v for k, v in result["actions_by_kind"].items() if v} == {"manual": 8}
        assert result["accepted_as_shown"] == 0 and queue.accepted == []


@pytest.mark.parametrize("guardrails", [True, False])
def test_the_queue_expert_counts_each_action_and_what_batches_wrote(guardrails):
    truth = {i: "ring" for i in range(1, 9)} | {9: "peak", 10: "peak", 11: "peak", 12: "ring"}
    client = FakeClient(["ring", "peak"])
    # a batch of ten as "ring": items 9 and 10 are peaks; the guardrails flag 10 and 3
    queue = FakeQueue(client, batch=list(range(1, 11)), flags={3, 10})
    queue.truth = truth
    # the promise (0.8) leaves no more wrong in the unread rest than the expert tolerates (0.5)
    strategy = Strategy(guardrails=guardrails, look_pages=1, page_size=4, max_seen_error=0.5)
    expert = Expert(queue, 1, truth, strategy, target=1.0)
    result = timed_run(expert, guided=True)

    kept = queue.accepted[0][1]
    # nothing clicked out one by one: no item is said not to be "ring", the flagged ones neither
    assert queue.rejected == [[]]
    if guardrails:  # "f" (one action) drops 3 and 10; the first four read (1 2 4 5) are right
        assert kept == [1, 2, 4, 5, 6, 7, 8, 9] and result["actions_by_kind"]["deselect"] == 1
        assert result["batch_wrong_written"] == 1 and queue.flag_calls == 1
    else:  # the first four read are right: the rest is taken on trust, 9 and 10 written wrong
        assert kept == list(range(1, 11)) and result["actions_by_kind"]["deselect"] == 0
        assert result["batch_wrong_written"] == 2 and queue.flag_calls == 0
    assert result["batch_wrong_share"] == pytest.approx(result["batch_wrong_written"] / len(kept))
    (record,) = result["batches"]
    assert record["expected_precision"] == 0.8 and record["precision_as_suggested"] == 0.8
    assert result["calibration"]["mean_absolute_gap"] == pytest.approx(0.0)
    # what the batch left and the by-hand items: one keypress each, with the true class
    left = 12 - len(kept)
    assert result["actions_by_kind"]["manual"] == left
    assert result["actions_by_kind"]["batch"] == 1
    assert result["actions"] == sum(result["actions_by_kind"].values())
    assert result["labeled"] == 12 and result["labeled_fraction"] == 1.0
    assert result["correct"] == 12 - result["batch_wrong_written"]
    assert result["stopped_by"] == "target reached"
    assert all(client.state[i] == [1 if truth[i] == "ring" else 2] for i in (11, 12))


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("guardrails", [True, False])
def test_the_expert_reads_on_where_the_promise_expects_more_wrong_in_the_unread_rest(guardrails, in_place):
    """The same batch, an expert that tolerates a quarter wrong: the promise (0.8 of 8 or 10)
    expects 1.6 or 2 wrong, more than a quarter of the 4 or 6 items unread after the first page,
    so it reads the whole batch, deselects item 9 (and 10), or labels it "peak" in place, and
    writes nothing wrong."""
    truth = {i: "ring" for i in range(1, 9)} | {9: "peak", 10: "peak", 11: "peak", 12: "ring"}
    client = FakeClient(["ring", "peak"])
    queue = FakeQueue(client, batch=list(range(1, 11)), flags={3, 10})
    queue.truth = truth
    strategy = Strategy(
        guardrails=guardrails, look_pages=1, page_size=4, max_seen_error=0.25, label_in_place=in_place
    )
    result = timed_run(Expert(queue, 1, truth, strategy, target=1.0), guided=True)

    kept = queue.accepted[0][1]
    wrong_read = [9] if guardrails else [9, 10]
    assert kept == [i for i in range(1, 9) if not (guardrails and i == 3)]
    keys = {"deselect": 0, "manual": 0} | dict(result["actions_by_kind"])
    if in_place:  # "f" (with guardrails), then the peak items read labeled "peak" in one key each
        assert keys["deselect"] == (1 if guardrails else 0)
        assert result["labeled_in_place"] == len(wrong_read)
        assert keys["manual"] >= len(wrong_read)
    else:  # "f" and a click on 9, or one click each on 9 and 10
        assert keys["deselect"] == 2 and result["labeled_in_place"] == 0
    assert result["batch_wrong_written"] == 0 and result["correct"] == 12
    # rejected: the items clicked out (9, and 10 without "f"), not the flagged 3 "f" took out;
    # those labeled "peak" in place are labeled, not rejected
    assert queue.rejected == [[] if in_place else wrong_read]


def test_items_to_read_follows_the_promise():
    right = [True] * 91 + [False] * 5 + [True, False] * 52  # 5 wrong in the first 96, 52 after
    assert items_to_read(right, 96, 48, None, 0.1) == 96  # no promise: the pages a person reads
    assert items_to_read(right, 0, 48, 0.75, 0.1) == 200  # 0: every page
    assert items_to_read(right, 96, 48, 0.95, 0.1) == 96  # 10 wrong expected, 5 seen: 5 of 104 left
    # 50 wrong expected, 5 seen: 45 in the 104 unread; 29 seen by 144, 21 in 56 left: read on;
    # 53 seen by 192: the promise expects none left (the rest is then judged by what was seen)
    assert items_to_read(right, 96, 48, 0.75, 0.1) == 192
    assert items_to_read(right, 96, 48, 0.75, 0.5) == 96  # a tolerant reader stops at once


@pytest.mark.parametrize(("accuracy", "stops"), [(0.985, True), (0.97, False)])
def test_the_expert_stops_with_one_action_when_the_estimate_is_good_enough(accuracy, stops):
    truth = {i: "ring" for i in range(1, 13)}
    client = FakeClient(["ring", "peak"])
    queue = FakeQueue(client, batch=list(range(1, 5)), flags=set())
    queue.truth, queue.estimate = truth, accuracy
    expert = Expert(queue, 1, truth, Strategy(guardrails=False, page_size=4), target=0.95)
    result = timed_run(expert, guided=True)
    assert queue.auto_calls == (1 if stops else 0)
    assert result["actions_by_kind"]["auto_label"] == (1 if stops else 0)
    assert result["labeled"] == 12
    if stops:  # at once: before any batch, all twelve in one action
        assert result["actions"] == 1 and result["auto_labeled"] == 12
        assert result["stopped_by"] == "auto-label the rest"
    else:  # the batch, then the other eight by hand
        assert result["actions"] == 1 + 8 and result["stopped_by"] == "target reached"
