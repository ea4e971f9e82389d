"""The simulated expert: labels a data set by doing what the product suggests, as a person would.

It knows the ground truth (as a person knows what they see) and acts only through the next-action
queue (``GET .../next-actions``, ``POST .../next-actions/accept``) and the pages' own calls behind
each suggestion. Every action a person would take is counted:

- ``manual``: one item labeled by hand (a "label these one by one" suggestion; the baseline);
- ``batch``: the one click that accepts a batch (similarity or probability);
- ``deselect``: one item taken out of a batch before accepting it, or the one key ("f") that
  deselects every item the batch guardrails flag, or the Shift-click that drops a batch's tail;
- ``fix``: a wrong label relabeled in the review of suspected labels;
- ``review``: a suspected label kept as right in that review;
- ``job``: a job suggestion started (retrain, train features, inference, index, report);
- ``auto_label``: the final "auto-label the rest" click.

The session: take the top suggestion (one not passed over already) and carry it out.

- A batch opens as a gallery of its items, all selected. With ``guardrails`` on, the expert first
  presses "f" (the flagged items are left out). It reads the first ``look_pages`` pages (a person
  checks what is in front of them; the rest is taken on trust): if no more than
  ``max_seen_error`` of what it read is wrong, it deselects the wrong items it saw and accepts the
  rest (it reads on, page by page, while the queue's promise leaves more than ``max_seen_error``
  wrong expected in the unread rest: ``items_to_read``); otherwise it keeps only the right items
  it read (the tail dropped with a Shift-click). A batch with nothing right on its first page is
  passed over. Wrong items in the unread tail are written: the "wrong labels batches write before
  any fix" of issue 19. The accept says which items left out are not the class, as the page
  does: the tiles clicked out one by one; not those "f", "Select none" or the Shift-click took out
  (decision 0015).
- Items to label one by one: each labeled by hand with its true class.
- A review of suspected labels: each suspect kept (right) or relabeled (wrong).
- A job: started, and waited for.

It stops at ``target`` labeled, or as soon as the stopping estimate says the unlabeled items can
be auto-labeled at ``stop_accuracy`` or better (enough of them to reach the target): then one
click auto-labels them. Each accepted batch records the precision the queue promised and the
precision measured against the truth (the study's calibration figure).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.labeling_efficiency.client import QueueClient
from labelwise_client import LabelwiseError

ACTION_KINDS = ("manual", "batch", "deselect", "fix", "review", "job", "auto_label")
BATCH_KINDS = ("similarity_batch", "probability_batch")
JOB_KINDS = ("retrain", "train_extractor", "run_inference", "build_index", "feature_report")


@dataclass
class Progress:
    """Actions taken and the labels they add up to, after each step."""

    actions: Counter = field(default_factory=Counter)
    timeline: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(0, 0, 0)]
    )  # actions, labeled, correct

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    def add(self, kind: str, count: int = 1) -> None:
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {kind!r}")
        if count:
            self.actions[kind] += count


@dataclass
class Strategy:
    """How the expert reads what the queue suggests."""

    guardrails: bool = True  # press "f" on a batch: leave the flagged items out
    look_pages: int = 2  # pages of a batch read before accepting it (0: every page)
    page_size: int = 48
    max_seen_error: float = 0.1  # more wrong than this among what was read: keep only what was read
    stop_accuracy: float = 0.98  # the stopping estimate's accuracy at which the rest is auto-labeled
    suggestions: int = 20  # suggestions asked for at each step (the Next actions page shows 20)
    max_job_repeats: int = 3  # the same job suggested again after this many runs: passed over
    stall_steps: int = 12  # steps in a row without a new label: the session ends
    # a slow machine: feature extractor trainings run at most this many epochs, classifier
    # trainings at most ``max_head_epochs`` (a head needs more: two epochs leave it untrained)
    max_epochs: int | None = None
    max_head_epochs: int | None = None
    max_seconds: float | None = None  # a slow machine: the session ends after this wall time
    # a wrong item read in a batch is labeled with its own class in one key (pointed at, the
    # class's key pressed: the batch page's "label in place"), not just deselected
    label_in_place: bool = True
    # items to label one by one that show the classifier's class: a key only where it is wrong,
    # the rest accepted in one click (off: one key per item, as before)
    accept_shown: bool = True
    # pages of several classes' batches, the class shown on each item (off: passed over, so the
    # queue's per-class batches are taken as before)
    check_classes: bool = True
    # "keep models fresh" taken when the queue suggests it (one click: retrains and feature
    # reports come by themselves after it); off: passed over, every retrain a click, as before
    keep_fresh: bool = True


@dataclass
class BatchRecord:
    """One accepted batch: what the queue promised, what the expert did, what it wrote."""

    kind: str
    label: str
    suggested: int
    expected_precision: float | None
    precision_as_suggested: float  # share of the suggested items whose truth is the class
    flagged: int
    flagged_wrong: int
    deselected: int
    kept: int
    labeled: int
    wrong_written: int  # kept items of another class: wrong labels before any fix
    labeled_in_place: int = 0  # wrong items read and labeled with their own class in one key


def items_to_read(
    right: list[bool], look: int, page_size: int, promised: float | None, max_error: float
) -> int:
    """How many of a batch's items the expert reads: ``look`` (0: all), and page after page more
    while the promise says the unread rest holds more than ``max_error`` wrong (the wrong items
    the promise expects, less those already seen, over the items not yet read). The page states
    the expected wrong labels before a batch is applied (issue 19); a person told "about 50 of
    these 200 are wrong" who found 5 on the first pages reads on rather than trusting the rest."""
    n = len(right)
    seen = n if look <= 0 else min(look, n)
    if promised is None:
        return seen
    expected_wrong = (1.0 - promised) * n
    while seen < n and expected_wrong - right[:seen].count(False) > max_error * (n - seen):
        seen = min(n, seen + max(1, page_size))
    return seen


def batch_choice(right: list[bool], look: int, max_error: float) -> tuple[list[bool], int]:
    """Which of a batch's (remaining) items the expert keeps, and the clicks it takes.

    It reads the first ``look`` items (all when ``look`` is 0). Few wrong among them: deselect
    those (one click each) and keep everything else, the unread tail included. Too many: keep
    only the right items read, the cheaper way: deselect the wrong ones (and drop the tail with
    one Shift-click), or "Select none" and click the right ones.
    """
    keep, clicks, _ = batch_decision(right, look, max_error)
    return keep, clicks


def batch_decision(right: list[bool], look: int, max_error: float) -> tuple[list[bool], int, list[int]]:
    """``batch_choice`` and the indices clicked out one by one: what the page sends as rejected
    (not this class). Items dropped with the tail's Shift-click or by "Select none" are not."""
    seen = len(right) if look <= 0 else min(look, len(right))
    wrong_seen = [i for i in range(seen) if not right[i]]
    if len(wrong_seen) <= max_error * seen:
        keep = [True] * len(right)
        for i in wrong_seen:
            keep[i] = False
        return keep, len(wrong_seen), wrong_seen
    keep = [right[i] if i < seen else False for i in range(len(right))]
    deselecting = len(wrong_seen) + (1 if seen < len(right) else 0)
    picking = 1 + sum(keep)
    if picking < deselecting:
        return keep, picking, []
    return keep, deselecting, wrong_seen


def batch_choice_in_place(
    right: list[bool], look: int, max_error: float
) -> tuple[list[bool], int, list[int]]:
    """As ``batch_choice``, for a person who labels each wrong item read with its own class in one
    key (which also takes it out of the batch) rather than deselecting it: the same key count per
    wrong item, one label more each. Few wrong among those read: keep everything else. Too many:
    keep only the right items read and drop the tail with one Shift-click. Answers what is kept,
    the deselect clicks left (the Shift-click), and the indices labeled in place."""
    seen = len(right) if look <= 0 else min(look, len(right))
    wrong_seen = [i for i in range(seen) if not right[i]]
    if len(wrong_seen) <= max_error * seen:
        return [right[i] or i >= seen for i in range(len(right))], 0, wrong_seen
    keep = [right[i] if i < seen else False for i in range(len(right))]
    return keep, (1 if seen < len(right) else 0), wrong_seen


class Expert:
    """One labeling session against one dataset."""

    def __init__(
        self,
        queue: QueueClient,
        dataset_id: int,
        truth_by_item: dict[int, str],
        strategy: Strategy,
        target: float,
        max_actions: int | None = None,
    ) -> None:
        self.queue = queue
        self.client = queue.client
        self.dataset_id = dataset_id
        self.truth = truth_by_item
        self.strategy = strategy
        self.target = target
        self.max_actions = max_actions or 3 * len(truth_by_item)
        self.progress = Progress()
        self.class_ids: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.current: dict[int, list[int]] = {}
        self.log: list[str] = []
        self.batches: list[BatchRecord] = []
        self.passed: set[str] = set()  # suggestions passed over (by what they ask, not their key)
        self.job_runs: Counter = Counter()
        self.stopped_by = ""
        self.auto_labeled = 0
        self.accepted_as_shown = 0  # items to label one by one accepted with the classifier's class
        self.shown_accepts = 0  # the clicks (events) that accepted them
        self.algorithms: dict[str, Any] | None = None
        self.started = time.perf_counter()
        self.suggested_kinds: Counter = Counter()

    # ---- bookkeeping -------------------------------------------------------------------------

    def setup_classes(self) -> None:
        existing = {c["name"]: c["id"] for c in self.client.classes(self.dataset_id)}
        for name in sorted(set(self.truth.values())):
            if name not in existing:
                existing[name] = self.client.add_class(self.dataset_id, name)["id"]
        self.class_ids = existing
        self.names = {v: k for k, v in existing.items()}

    def snapshot(self) -> tuple[int, int]:
        rows = self.client.labels(self.dataset_id)
        self.current = {int(row["item_id"]): list(row["label_ids"]) for row in rows}
        correct = sum(
            1 for item, ids in self.current.items() if ids == [self.class_ids.get(self.truth.get(item, ""))]
        )
        labeled = len(self.current)
        self.progress.timeline.append((self.progress.total, labeled, correct))
        return labeled, correct

    def labeled_fraction(self) -> float:
        return self.progress.timeline[-1][1] / max(1, len(self.truth))

    def out_of_time(self) -> bool:
        limit = self.strategy.max_seconds
        return limit is not None and time.perf_counter() - self.started > limit

    def done(self) -> bool:
        return (
            self.labeled_fraction() >= self.target
            or self.progress.total >= self.max_actions
            or self.out_of_time()
        )

    def note(self, message: str) -> None:
        line = f"[{self.progress.total:>5} actions, {self.labeled_fraction():6.1%}] {message}"
        self.log.append(line)
        print(line, flush=True)  # a long run shows how it goes

    # ---- the manual baseline -----------------------------------------------------------------

    def run_manual(self) -> Progress:
        """One item at a time in gallery order, each labeled right: one action per label."""
        self.setup_classes()
        for item_id in sorted(self.truth):
            if self.done():
                break
            self.client.tag(self.dataset_id, [item_id], self.class_ids[self.truth[item_id]])
            self.progress.add("manual")
            labeled = self.progress.timeline[-1][1] + 1
            self.progress.timeline.append((self.progress.total, labeled, labeled))
        self.snapshot()
        return self.progress

    # ---- the queue-driven session ------------------------------------------------------------

    def run_guided(self) -> Progress:
        self.setup_classes()
        self.snapshot()
        stalled = 0
        while not self.done():
            before = self.progress.timeline[-1][1:]
            if self.queue.wait_server(self.dataset_id):  # models kept fresh: the new ones first
                self.note("waited for the jobs the server queued by itself")
            answer = self.queue.next_actions(self.dataset_id, self.strategy.suggestions)
            stopping = answer.get("stopping")
            if stopping is None:  # the queue does not carry the estimate: ask for it beside it
                stopping = self._estimate()
            if self._can_stop(stopping):
                self._auto_label(answer, stopping)
                self.snapshot()
                self.stopped_by = "auto-label the rest"
                break
            suggestion = next((s for s in answer["suggestions"] if self._what(s) not in self.passed), None)
            if suggestion is None:
                self.stopped_by = "nothing left to suggest: " + "; ".join(answer.get("needs") or ["-"])
                self.note(self.stopped_by)
                break
            self.suggested_kinds[suggestion["kind"]] += 1
            self._carry_out(suggestion)
            self.snapshot()
            stalled = stalled + 1 if self.progress.timeline[-1][1:] == before else 0
            if stalled >= self.strategy.stall_steps:
                self.stopped_by = f"{stalled} steps in a row changed no label"
                self.note(self.stopped_by)
                break
        if not self.stopped_by:
            if self.labeled_fraction() >= self.target:
                self.stopped_by = "target reached"
            else:
                self.stopped_by = "time budget spent" if self.out_of_time() else "action cap"
        return self.progress

    @staticmethod
    def _what(s: dict[str, Any]) -> str:
        """A suggestion by what it asks (its key also holds the label state, which moves on)."""
        return json.dumps(
            [s["kind"], s.get("label_id"), s.get("model_id"), sorted(s.get("item_ids") or [])[:50],
             s.get("params") or {}],
            sort_keys=True, default=str,
        )  # fmt: skip

    def _estimate(self) -> dict[str, Any] | None:
        try:
            return self.queue.stopping_estimate(self.dataset_id)
        except LabelwiseError as exc:
            if exc.status != 404:
                raise
            return None  # a server without the stopping estimate

    def _can_stop(self, stopping: dict[str, Any] | None) -> bool:
        if not stopping or stopping.get("model_id") is None:
            return False
        accuracy = stopping.get("expected_accuracy")
        count = int(stopping.get("auto_label_count") or 0)
        labeled = self.progress.timeline[-1][1]
        return (
            accuracy is not None
            and accuracy >= self.strategy.stop_accuracy
            and count > 0
            and labeled + count >= self.target * len(self.truth)
        )

    def _auto_label(self, answer: dict[str, Any], stopping: dict[str, Any]) -> None:
        """One click: "auto-label the rest" on what the estimate showed."""
        self.progress.add("auto_label")
        done = self.queue.auto_label_rest(self.dataset_id, stopping)
        self.auto_labeled = int(done["labeled"])
        self.note(
            f"auto-labeled the rest at p >= {stopping['threshold']}: expected accuracy "
            f"{stopping['expected_accuracy']:.3f}, {done['labeled']} labeled"
        )

    def _carry_out(self, s: dict[str, Any]) -> None:
        kind = s["kind"]
        if kind in BATCH_KINDS:
            self._batch(s)
        elif kind == "label_items":
            self._by_hand(s)
        elif kind == "predicted_batch" and self.strategy.check_classes:
            self._check_classes(s)
        elif kind == "predicted_batch" or (kind == "keep_fresh" and not self.strategy.keep_fresh):
            self.passed.add(self._what(s))  # the switch passed over: each retrain a click
        elif kind == "review_suspects":
            self._review(s)
        elif kind == "add_classes":
            self.passed.add(self._what(s))  # every class of the truth exists from the start
            self.note(f"passed over: {s['title']}")
        elif kind == "auto_label_rest":
            self.passed.add(self._what(s))  # not yet: the estimate is below the expert's bar
            self.note(f"not yet: {s['title']}")
        else:
            self._job(s)

    def _batch(self, s: dict[str, Any]) -> None:
        items = [int(i) for i in s["item_ids"] if int(i) not in self.current]
        label_id = s["label_id"]
        name = self.names.get(label_id, "?")
        if not items or label_id is None:
            self.passed.add(self._what(s))
            return
        right = {i: self.truth.get(i) == name for i in items}
        precision = sum(right.values()) / len(items)
        deselected = 0
        flagged: set[int] = set()
        kept = list(items)
        if self.strategy.guardrails and s.get("model_id") is not None:
            flagged = set(self.queue.batch_flags(self.dataset_id, s["model_id"], items, label_id)) & set(
                items
            )
            if flagged:
                kept = [i for i in items if i not in flagged]
                deselected += 1  # "f": every flagged tile out in one key
        promised = s.get("expected_precision")
        look = items_to_read(
            [right[i] for i in kept],
            self.strategy.look_pages * self.strategy.page_size,
            self.strategy.page_size,
            promised,
            self.strategy.max_seen_error,
        )
        first_page = kept[: self.strategy.page_size]
        if not any(right[i] for i in first_page):
            self.passed.add(self._what(s))
            self.note(f"passed over (nothing right on its first page): {s['title']}")
            return
        in_place: list[int] = []
        if self.strategy.label_in_place:
            keep, clicks, fixes = batch_choice_in_place(
                [right[i] for i in kept], look, self.strategy.max_seen_error
            )
            in_place = [kept[i] for i in fixes if kept[i] in self.truth]
            hand = [kept[i] for i in fixes if kept[i] not in self.truth]
            clicks += len(hand)  # no truth to label with: clicked out
        else:
            keep, clicks, out = batch_decision([right[i] for i in kept], look, self.strategy.max_seen_error)
            hand = [kept[i] for i in out]
        if sum(keep) < clicks + deselected + 1:  # fewer labels than clicks: by hand is as quick
            self.passed.add(self._what(s))
            self.note(f"passed over (fewer labels than clicks): {s['title']}")
            return
        for item in in_place:  # pointed at, its class's key pressed: labeled, out of the batch
            self.client.tag(self.dataset_id, [item], self.class_ids[self.truth[item]])
            self.progress.add("manual")
        kept = [i for i, k in zip(kept, keep, strict=True) if k]
        deselected += clicks
        self.progress.add("deselect", deselected)
        self.progress.add("batch")
        try:
            # rejected: the tiles clicked out one by one; not the flagged ones "f" took out nor a
            # tail dropped unread (the labeled in place are labeled, no rejection either)
            result = self.queue.accept(self.dataset_id, s["key"], kept, label_id, rejected_item_ids=hand)
        except LabelwiseError as exc:
            self.note(f"accept refused ({exc}): {s['title']}")
            if exc.status != 409:
                self.passed.add(self._what(s))
            return
        wrong = sum(1 for i in kept if not right[i])
        self.batches.append(
            BatchRecord(
                kind=s["kind"],
                label=name,
                suggested=len(items),
                expected_precision=s.get("expected_precision"),
                precision_as_suggested=round(precision, 4),
                flagged=len(flagged),
                flagged_wrong=sum(1 for i in flagged if not right[i]),
                deselected=deselected,
                kept=len(kept),
                labeled=int(result.get("labeled", len(kept))),
                wrong_written=wrong,
                labeled_in_place=len(in_place),
            )
        )
        self.note(
            f"{s['kind']} {name}: {len(kept)} of {len(items)} kept ({len(flagged)} flagged, "
            f"{deselected} deselect clicks, {len(in_place)} labeled in place), precision {precision:.3f}"
            + (f" (promised {promised:.3f})" if promised is not None else "")
            + f", {wrong} wrong written"
        )

    def _check_classes(self, s: dict[str, Any]) -> None:
        """A page of several classes' batches, the class shown on each item: every item is read
        (the class changes from tile to tile), a key where the class shown is wrong (labeled in
        place), then one click accepts the items whose class was right."""
        shown = dict(
            zip(s["item_ids"], (s.get("params") or {}).get("predicted_label_ids") or [], strict=True)
        )
        items = [int(i) for i in s["item_ids"] if int(i) not in self.current]
        right = {i: i in self.truth and shown.get(i) == self.class_ids[self.truth[i]] for i in items}
        kept = [i for i in items if right[i]]
        if len(kept) < 2:  # one click for fewer than two labels: by hand is as quick
            self.passed.add(self._what(s))
            self.note(f"passed over (fewer than two classes shown right): {s['title']}")
            return
        in_place = [i for i in items if not right[i] and i in self.truth]
        for item in in_place:
            self.client.tag(self.dataset_id, [item], self.class_ids[self.truth[item]])
            self.progress.add("manual")
        self.progress.add("batch")
        try:
            done = self.queue.accept(self.dataset_id, s["key"], kept, None)
        except LabelwiseError as exc:
            self.note(f"accept refused ({exc}): {s['title']}")
            if exc.status != 409:
                self.passed.add(self._what(s))
            return
        precision = len(kept) / len(items)
        promised = s.get("expected_precision")
        self.batches.append(
            BatchRecord(
                kind=s["kind"],
                label="(classes shown)",
                suggested=len(items),
                expected_precision=promised,
                precision_as_suggested=round(precision, 4),
                flagged=0,
                flagged_wrong=0,
                deselected=0,
                kept=len(kept),
                labeled=int(done.get("labeled", len(kept))),
                wrong_written=0,
                labeled_in_place=len(in_place),
            )
        )
        self.note(
            f"{s['kind']}: {len(kept)} of {len(items)} accepted as shown, {len(in_place)} labeled in "
            f"place, precision {precision:.3f}"
            + (f" (promised {promised:.3f})" if promised is not None else "")
        )

    def _by_hand(self, s: dict[str, Any]) -> None:
        items = [int(i) for i in s["item_ids"] if int(i) not in self.current and int(i) in self.truth]
        if not items:
            self.passed.add(self._what(s))
            return
        shown = dict(
            zip(s["item_ids"], (s.get("params") or {}).get("predicted_label_ids") or [], strict=False)
        )
        if self.strategy.accept_shown and shown:
            right = [i for i in items if shown.get(i) == self.class_ids[self.truth[i]]]
            if len(right) >= 2:  # one click for the rest is cheaper than their keys
                items = [i for i in items if i not in set(right)]
                for item in items:  # a key where the class shown is wrong
                    self.client.tag(self.dataset_id, [item], self.class_ids[self.truth[item]])
                    self.progress.add("manual")
                self.progress.add("batch")
                try:
                    done = self.queue.accept(self.dataset_id, s["key"], None, None)
                except LabelwiseError as exc:
                    self.note(f"accept of the classes shown refused ({exc}): {s['title']}")
                    return
                self.accepted_as_shown += int(done.get("labeled", 0))
                self.shown_accepts += 1 if done.get("batch_id") is not None else 0
                self.note(
                    f"labeled {len(items)} by hand where the class shown was wrong, accepted "
                    f"{done.get('labeled')} as shown: {s['title']}"
                )
                return
        by_class: dict[str, list[int]] = {}
        for item in items:
            by_class.setdefault(self.truth[item], []).append(item)
        for name, ids in by_class.items():
            for item in ids:  # one keypress per item: the class's hotkey
                self.client.tag(self.dataset_id, [item], self.class_ids[name])
                self.progress.add("manual")
        self.note(f"labeled {len(items)} by hand: {s['title']}")

    def _review(self, s: dict[str, Any]) -> None:
        model_id = s.get("model_id")
        items = [int(i) for i in s.get("item_ids") or []]
        if not items and model_id is not None:
            items = [int(x["item_id"]) for x in self.queue.label_suspects(self.dataset_id, model_id)]
        fixed = kept = 0
        for item in items:
            now = self.current.get(item)
            if not now or item not in self.truth:
                continue
            want = self.class_ids[self.truth[item]]
            if now == [want]:
                self.queue.review(self.dataset_id, item, "keep", None, model_id)
                self.progress.add("review")
                kept += 1
            else:
                self.queue.review(self.dataset_id, item, "relabel", want, model_id)
                self.progress.add("fix")
                fixed += 1
        if not fixed and not kept:
            self.passed.add(self._what(s))
        self.note(f"reviewed suspects: {fixed} fixed, {kept} kept")

    def _job_parameters(self, s: dict[str, Any]) -> dict[str, Any] | None:
        """Fewer epochs on the train form, where the algorithm has them and the machine is slow:
        ``max_epochs`` for a feature extractor, ``max_head_epochs`` for a classifier."""
        algorithm = (s.get("params") or {}).get("algorithm")
        cap = {"train_extractor": self.strategy.max_epochs, "retrain": self.strategy.max_head_epochs}.get(
            s["kind"]
        )
        if cap is None or not algorithm:
            return None
        if self.algorithms is None:
            self.algorithms = {a["key"]: a for a in self.client.algorithms()}
        epochs = (self.algorithms.get(algorithm, {}).get("parameters_schema") or {}).get("properties", {})
        epochs = epochs.get("epochs")
        if epochs is None:
            return None
        given = (s.get("params") or {}).get("parameters", {}).get("epochs", epochs.get("default"))
        return {"epochs": min(int(given or cap), cap)}

    def _job(self, s: dict[str, Any]) -> None:
        what = self._what(s)
        self.job_runs[what] += 1
        if self.job_runs[what] >= self.strategy.max_job_repeats:
            self.passed.add(what)
        try:
            result = self.queue.accept(self.dataset_id, s["key"], parameters=self._job_parameters(s))
        except LabelwiseError as exc:
            self.passed.add(what)
            self.note(f"could not start ({exc}): {s['title']}")
            return
        self.progress.add("job")
        self.note(f"started {s['kind']}: {s['title']} (jobs {result.get('job_ids')})")
        started = time.perf_counter()
        errors = self.queue.wait_jobs([int(j) for j in result.get("job_ids") or []])
        if errors:
            self.passed.add(what)
        took = time.perf_counter() - started
        self.note(
            f"{s['kind']}: {s['title']} ({took:.0f} s){' FAILED: ' + '; '.join(errors) if errors else ''}"
        )


def calibration(batches: list[BatchRecord]) -> dict[str, Any]:
    """The queue's promised precision against the measured one, per accepted batch: the mean
    absolute gap (issue 18's figure), the signed one (positive: over-promised), per batch kind, and
    the gap a promise exactly right would still show on pages of these sizes (``noise_floor``)."""
    judged = [b for b in batches if b.expected_precision is not None]
    pairs = [(b.expected_precision, b.precision_as_suggested) for b in judged]
    found: dict[str, Any] = {"batches": len(pairs), "pairs": pairs, **_gaps(judged)}
    found["by_kind"] = {
        kind: {"batches": len(of_kind), **_gaps(of_kind)}
        for kind in sorted({b.kind for b in judged})
        for of_kind in [[b for b in judged if b.kind == kind]]
    }
    return found


def _gaps(judged: list[BatchRecord]) -> dict[str, float | None]:
    if not judged:
        return {"mean_absolute_gap": None, "mean_signed_gap": None, "noise_floor": None}
    promised = [float(b.expected_precision or 0.0) for b in judged]
    held = [b.precision_as_suggested for b in judged]
    n = len(judged)
    return {
        "mean_absolute_gap": round(sum(abs(e - m) for e, m in zip(promised, held, strict=True)) / n, 4),
        "mean_signed_gap": round(sum(e - m for e, m in zip(promised, held, strict=True)) / n, 4),
        "mean_promised": round(sum(promised) / n, 4),
        "mean_held": round(sum(held) / n, 4),
        "noise_floor": round(
            sum(binomial_gap(e, b.suggested) for e, b in zip(promised, judged, strict=True)) / n, 4
        ),
    }


def binomial_gap(p: float, n: int) -> float:
    """E|k/n - p| for k ~ Binomial(n, p): how far a page of ``n`` items, each right with chance
    ``p``, lands from ``p`` on average (the part of the gap no promise can close)."""
    if n <= 0:
        return 0.0
    p = min(max(p, 0.0), 1.0)
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) * abs(k / n - p) for k in range(n + 1))


def summarize(progress: Progress, items: int, wall: float, job_wait: float, jobs: int) -> dict[str, Any]:
    _, labeled, correct = progress.timeline[-1]
    total = progress.total
    return {
        "items": items,
        "labeled": labeled,
        "correct": correct,
        "labeled_fraction": labeled / max(1, items),
        "accuracy": correct / labeled if labeled else 0.0,
        "actions": total,
        "actions_by_kind": {k: int(progress.actions.get(k, 0)) for k in ACTION_KINDS},
        "labels_per_action": labeled / total if total else 0.0,
        "actions_per_label": total / labeled if labeled else 0.0,
        "wall_seconds": round(wall, 2),
        "job_wait_seconds": round(job_wait, 2),
        "jobs_started": jobs,
        "timeline": progress.timeline,
    }


def timed_run(expert: Expert, guided: bool) -> dict[str, Any]:
    start = time.perf_counter()
    waited_before = expert.queue.job_wait_seconds
    jobs_before = len(expert.queue.jobs)
    progress = expert.run_guided() if guided else expert.run_manual()
    wall = time.perf_counter() - start
    result = summarize(
        progress,
        len(expert.truth),
        wall,
        expert.queue.job_wait_seconds - waited_before,
        progress.actions.get("job", 0),
    )
    result["jobs_run"] = len(expert.queue.jobs) - jobs_before  # what the started suggestions ran
    left = Counter(name for item, name in expert.truth.items() if item not in expert.current)
    result["unlabeled_by_class"] = dict(sorted(left.items()))  # what the session left, and why
    if guided:
        written = sum(b.labeled for b in expert.batches)
        wrong = sum(b.wrong_written for b in expert.batches)
        result.update(
            guardrails=expert.strategy.guardrails,
            stopped_by=expert.stopped_by,
            batches=[vars(b) for b in expert.batches],
            batch_labels_written=written,
            batch_wrong_written=wrong,
            batch_wrong_share=round(wrong / written, 4) if written else None,
            labeled_in_place=sum(b.labeled_in_place for b in expert.batches),
            accepted_as_shown=expert.accepted_as_shown,
            shown_accepts=expert.shown_accepts,
            calibration=calibration(expert.batches),
            auto_labeled=expert.auto_labeled,
            suggested_kinds=dict(expert.suggested_kinds),
        )
    return result
