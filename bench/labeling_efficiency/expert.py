"""The simulated expert: labels a data set through the public API the way a person would.

It knows the ground truth (as a person knows what they see) and acts only through
``LabelwiseClient``. Every action a person would take is counted:

- ``manual``: one item labeled by hand;
- ``batch``: one click that labels a batch (a similarity page, a probability threshold);
- ``deselect``: one item taken out of a similarity page before labeling it, or one click of a
  Shift-click range that drops the tail of a page (click its first tile, Shift-click the last);
- ``fix``: a wrong label corrected during review;
- ``job``: a training, inference or index job started.

The guided strategy: train the feature extractors the train page suggests and run their
inference; as labels grow (each time they double), run the feature report and let similarity
pages and the classifier (a head on feature vectors) use the model it finds best, as the pages
default to it. Seed every class: scan the
unlabeled gallery (looking is free) for an item of the class seeded least and label a similarity
page around it (the most labels per action: the page minus the wrong tiles, its top cut off with
a Shift-click range, or one tile by hand), until each class has a few labels from two different
items (one item's neighbours are all alike; a class such as "mixed" is many kinds of pattern).
Then train a classifier and read each class's probability gallery from the top, a page at a time,
down to the first page that looks wrong, and the top of that page while it still reads right:
what was read is applied in one click at the threshold where the reading stopped (the few wrong
items seen are fixed); repeat with the grown label set. A classifier round that adds little sends
the expert back to similarity pages (around the first unlabeled item, then around the items just
accepted while the pages stay clean) until the label set has grown by a twentieth of the data
set; those pages rank by the last classifier's features.

Where a page may hold wrong items: each costs a fix, so a page of 48 with two wrong gives 23
labels per action, about the one action per 20 labels the study aims at; more wrong ones than
that cost more than the next classifier round, which is likely to rank them right.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.labeling_efficiency.client import ApiError, LabelwiseClient

ACTION_KINDS = ("manual", "batch", "deselect", "fix", "job")


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


# Per classifier algorithm, what the expert trains it with. The image classifier: the physics of
# a scattering pattern does not change when it is rotated or flipped, so it learns from rotated
# and flipped copies; 64 px keeps a round on a 2-core CPU within minutes (96 px is ~1 point more
# accurate and 2.3x slower). The scattering classifier needs nothing beyond its defaults.
CLASSIFIER_PARAMS: dict[str, dict[str, Any]] = {
    "classifier": {
        "architecture": "small_cnn",
        "image_size": 64,
        "learning_rate": 0.002,
        "augment_rotation": 180.0,
        "augment_hflip": True,
        "augment_vflip": True,
        "epochs": 20,
    },
    "azimuthal_classifier": {},
    # The study reads no out-of-fold probabilities: skip the k extra fits of each round.
    "vector_classifier": {"folds": 0},
}


@dataclass
class Strategy:
    """Knobs of the guided expert (defaults suit the demo data set)."""

    feature_algorithm: str | None = None  # None: what the train page suggests, chosen by the report
    feature_params: dict[str, Any] = field(default_factory=dict)
    classifier_algorithm: str = "vector_classifier"
    classifier_params: dict[str, Any] = field(default_factory=dict)
    first_page: int = 24
    min_page: int = 8
    max_page: int = 200
    clean_page: float = 0.9  # precision at which the expert keeps going around the same class
    min_per_class: int = 10  # labels per class before a classifier is trained
    seeds_per_class: int = 2  # similarity pages around different items of each class, at least
    scan: int = 200  # unlabeled gallery items looked through for an item of a class to seed
    max_classifier_rounds: int = 12
    quick_epochs: int | None = None  # CI: at most this many epochs for algorithms that have epochs
    extractor_epochs: int | None = None  # a slow machine: at most this many for feature extractors
    gallery_from: float = 0.5  # the lowest probability shown in a class's gallery
    review_size: int = 48  # items on a page of a class's probability gallery
    max_review_error: float = 0.05  # more wrong than this on a page: the review stops there
    relaxed_review_error: float = 0.1  # the same, in a round where nothing read clean
    seed: int = 0


class Expert:
    """One labeling session against one dataset."""

    def __init__(
        self,
        client: LabelwiseClient,
        dataset_id: int,
        truth_by_item: dict[int, str],
        strategy: Strategy,
        target: float,
        max_actions: int | None = None,
    ) -> None:
        self.client = client
        self.dataset_id = dataset_id
        self.truth = truth_by_item
        self.strategy = strategy
        self.target = target
        self.max_actions = max_actions or 3 * len(truth_by_item)
        self.progress = Progress()
        self.class_ids: dict[str, int] = {}
        self.log: list[str] = []
        self.algorithms: dict[str, dict[str, Any]] = {}
        self.classifier_id: int | None = None  # the last classifier trained: its features rank pages
        self.feature_id: int | None = None  # the features pages rank by before a classifier exists
        self.reported_at = 0  # labels when the feature report last ran
        self.seed_pages: Counter = Counter()  # similarity pages seeded per class
        self.stuck: set[str] = set()  # classes whose gallery read wrong at the top last round

    # ---- bookkeeping -------------------------------------------------------------------------

    def setup_classes(self) -> None:
        existing = {c["name"]: c["id"] for c in self.client.classes(self.dataset_id)}
        for name in sorted(set(self.truth.values())):
            if name not in existing:
                existing[name] = self.client.create_class(self.dataset_id, name)["id"]
        self.class_ids = existing

    def _state(self) -> tuple[int, int]:
        labels = self.client.labels(self.dataset_id)
        correct = sum(
            1 for item, ids in labels.items() if ids == [self.class_ids.get(self.truth.get(item, ""))]
        )
        return len(labels), correct

    def snapshot(self) -> tuple[int, int]:
        labeled, correct = self._state()
        self.progress.timeline.append((self.progress.total, labeled, correct))
        return labeled, correct

    def labeled_fraction(self) -> float:
        return self.progress.timeline[-1][1] / max(1, len(self.truth))

    def small_gain(self) -> int:
        """Labels a classifier round must add (1% of the items) to count as productive."""
        return max(1, len(self.truth) // 100)

    def done(self) -> bool:
        return self.labeled_fraction() >= self.target or self.progress.total >= self.max_actions

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

    # ---- the guided session ------------------------------------------------------------------

    def run_guided(self) -> Progress:
        self.setup_classes()
        self.snapshot()
        available = self.algorithms = self.client.algorithms()
        wanted = self.strategy.feature_algorithm
        if wanted is None:  # the train page's suggestions, in its order: the first ranks pages
            extractors = self.client.training_suggestion(self.dataset_id)["untrained"] or ["pca"]
        else:
            extractors = [wanted if wanted in available else "pca"]
        trained = [self._features(key) for key in extractors]
        self.feature_id = trained[0]
        self.compare = wanted is None and len(trained) > 1
        classifier = self.strategy.classifier_algorithm
        rounds = 0 if classifier in available else self.strategy.max_classifier_rounds
        page, retry_at = self.strategy.first_page, 0
        follow: tuple[str, list[int]] | None = None  # the class and items of the last clean page
        unseeded = set(self.class_ids)  # classes short of min_per_class labels or of seed pages
        while not self.done():
            labeled = self.progress.timeline[-1][1]
            if self.compare and labeled >= 2 * max(self.reported_at, len(self.class_ids)):
                self._feature_report()  # what separates the labels best changes as they grow
            if unseeded:
                unseeded = self._seed_round(self.feature_id, unseeded)
                continue
            if rounds < self.strategy.max_classifier_rounds and labeled >= retry_at:
                rounds += 1
                gained = self._classifier_round(classifier)
                if gained < self.small_gain():  # little left it can tell: grow first
                    retry_at = labeled + gained + max(20, len(self.truth) // 20)
                continue
            # a classifier's penultimate features know the classes: its pages are cleaner
            page, follow = self._similarity_round(self.classifier_id or self.feature_id, page, follow)
            if page == 0:
                break
        self.snapshot()
        return self.progress

    def _feature_report(self) -> None:
        """Run the feature report, as its button on the models page does; follow its choice."""
        try:
            report = self.client.run_feature_report(self.dataset_id)
        except ApiError as exc:  # too few labels of two classes yet: try again later
            self.note(f"feature report refused: {exc}")
            return
        finally:
            self.reported_at = self.progress.timeline[-1][1]
        self.progress.add("job")
        if report["best_model_id"] is not None:
            self.feature_id = int(report["best_model_id"])
        self.note(f"feature report: {report['explanation']}")

    def _params(self, algorithm: str, given: dict[str, Any]) -> dict[str, Any]:
        """The strategy's parameters, with the quick epoch cap where the algorithm has epochs."""
        params = dict(given)
        schema = self.algorithms[algorithm]["parameters_schema"].get("properties", {})
        if self.strategy.quick_epochs and "epochs" in schema and "epochs" not in params:
            params["epochs"] = self.strategy.quick_epochs
        if "seed" in schema and "seed" not in params:  # another seed: another run of the study
            params["seed"] = self.strategy.seed
        return params

    def _seed_round(self, model_id: int, unseeded: set[str]) -> set[str]:
        """Label a similarity page around an unlabeled item of the class seeded least (then with
        the fewest labels), found by looking through the unlabeled gallery; returns the classes
        still short. A class not seen among ``scan`` unlabeled items is left to later rounds."""
        counts = Counter(self.truth[i] for i in self.client.labels(self.dataset_id))
        short = {
            name
            for name in unseeded
            if counts[name] < self.strategy.min_per_class
            or self.seed_pages[name] < self.strategy.seeds_per_class
        }
        if not short:
            return short
        wanted = min(sorted(short), key=lambda name: (self.seed_pages[name], counts[name]))
        self.seed_pages[wanted] += 1
        gallery = self.client.first_unlabeled(self.dataset_id, self.strategy.scan)
        query = next((item["id"] for item in gallery if self.truth[item["id"]] == wanted), None)
        if query is None:
            self.note(f"no unlabeled {wanted} among the first {len(gallery)}: left to later rounds")
            return short - {wanted}
        self._label_page(model_id, wanted, [query], self.strategy.first_page, by_hand=True)
        return short

    def _features(self, algorithm: str) -> int:
        given = self.strategy.feature_params if algorithm == self.strategy.feature_algorithm else {}
        params = self._params(algorithm, given)
        schema = self.algorithms[algorithm]["parameters_schema"].get("properties", {})
        if self.strategy.extractor_epochs and "epochs" in schema and "epochs" not in given:
            params["epochs"] = min(
                params.get("epochs", schema["epochs"]["default"]), self.strategy.extractor_epochs
            )
        train = self.client.run_job(
            kind="train", dataset_id=self.dataset_id, algorithm=algorithm, parameters=params
        )
        self.progress.add("job")
        self.client.run_job(kind="infer", model_id=train["model_id"])
        self.progress.add("job")
        self.note(f"{algorithm} model {train['model_id']} trained and its vectors computed")
        return int(train["model_id"])

    def _ranked(self, model_id: int, query: list[int], page: int, mode: str = "mean") -> list[int]:
        try:
            rows = self.client.similar(self.dataset_id, model_id, query, page, mode)
        except ApiError as exc:
            if exc.status != 404 or "build-index" not in str(exc):
                raise
            self.client.run_job(kind="build-index", model_id=model_id)
            self.progress.add("job")
            rows = self.client.similar(self.dataset_id, model_id, query, page, mode)
        return [row["item_id"] for row in rows]

    def _similarity_round(
        self, model_id: int, page: int, follow: tuple[str, list[int]] | None
    ) -> tuple[int, tuple[str, list[int]] | None]:
        """Label one page of similar items; returns the next page size (0: nothing left) and the
        class to follow next (after a clean page, its accepted items are the next query)."""
        if follow is not None:
            wanted, query = follow
        else:
            unlabeled = self.client.first_unlabeled(self.dataset_id)
            if not unlabeled:
                return 0, None
            query = [unlabeled[0]["id"]]
            wanted = self.truth[query[0]]
        precision, accepted = self._label_page(model_id, wanted, query, page, by_hand=follow is None)
        if precision >= self.strategy.clean_page and accepted:
            return min(self.strategy.max_page, page * 2), (wanted, accepted[:20])
        if precision < 0.75:
            return max(self.strategy.min_page, page // 2), None
        return page, None

    def _label_page(
        self, model_id: int, wanted: str, query: list[int], page: int, by_hand: bool
    ) -> tuple[float, list[int]]:
        """Label the items of class ``wanted`` on a page of ``page`` items ranked by similarity to
        ``query`` (an unlabeled query item the ranking leaves out is labeled by hand, when
        ``by_hand``); returns the page's precision and the items labeled from it."""
        ranked = self._ranked(model_id, query, page)
        if by_hand and query[0] not in ranked:
            self.client.tag(self.dataset_id, query[:1], self.class_ids[wanted])
            self.progress.add("manual")
        belongs = [self.truth[i] == wanted for i in ranked]
        choice = choose_selection(belongs)
        accepted = [i for i, keep in zip(ranked, choice.keep, strict=True) if keep]
        if accepted and not choice.batch:  # one tile worth labeling: its hotkey, no batch
            self.client.tag(self.dataset_id, accepted, self.class_ids[wanted])
            self.progress.add("manual")
        elif accepted:
            self.client.label_similar(
                self.dataset_id, model_id, query, accepted, self.class_ids[wanted], shown=len(ranked)
            )
            self.progress.add("batch")
            self.progress.add("deselect", choice.deselects)
        self.snapshot()
        precision = sum(belongs) / max(1, len(ranked))
        self.note(f"similarity page of {len(ranked)} for {wanted}: precision {precision:.2f}")
        return precision, accepted

    def _classifier_round(self, algorithm: str) -> int:
        """Train on the labels so far, look down the probability gallery, apply what looks right.

        For each class the expert reads the gallery from the most probable item down, a page of
        ``review_size`` at a time (looking is free, clicks count), and stops at the first page
        with more wrong items than ``max_review_error``. The pages read clean are applied in one
        click (a threshold at the last of them) and every wrong item on them is fixed. A class
        stuck at the top last round, or every class in a round that adds little, is read again at
        ``relaxed_review_error``. Returns the labels gained."""
        before = self.progress.timeline[-1][1]
        train = self.client.run_job(
            kind="train",
            dataset_id=self.dataset_id,
            algorithm=algorithm,
            parameters=self._params(algorithm, self.strategy.classifier_params),
        )
        self.progress.add("job")
        model_id = int(train["model_id"])
        self.client.run_job(kind="infer", model_id=model_id)
        self.progress.add("job")
        # Even a classifier whose batches fail review separates the classes better than the
        # first features: the next similarity pages rank by its features.
        self.classifier_id = model_id
        by_class: dict[int, list[tuple[int, float]]] = {}
        threshold = self.strategy.gallery_from
        for row in self.client.probability_candidates(self.dataset_id, model_id, threshold):
            by_class.setdefault(int(row["label_id"]), []).append(
                (int(row["item_id"]), float(row["probability"]))
            )
        if not by_class:
            self.note(f"classifier {model_id}: nothing above {threshold}")
            return 0
        name_of = {class_id: name for name, class_id in self.class_ids.items()}
        verdicts, passed = [], {}
        for label_id, rows in sorted(by_class.items()):
            # a class whose gallery read wrong at the top last time too: take the pages that are
            # mostly right and fix the few wrong items, which the next classifier learns from
            stuck = name_of[label_id] in self.stuck
            tolerance = self.strategy.relaxed_review_error if stuck else self.strategy.max_review_error
            passed[label_id], verdict = self._apply_gallery(model_id, name_of[label_id], rows, tolerance)
            verdicts.append(f"{verdict} (relaxed)" if stuck else verdict)
        if sum(passed.values()) < self.small_gain():  # nothing read clean: the same
            for label_id in [label_id for label_id, cut in passed.items() if cut == 0]:
                _, verdict = self._apply_gallery(
                    model_id, name_of[label_id], by_class[label_id], self.strategy.relaxed_review_error
                )
                verdicts.append(f"then {verdict}")
        self.stuck = {name_of[label_id] for label_id, cut in passed.items() if cut == 0}
        labeled, _ = self.snapshot()
        self.note(f"classifier {model_id}: " + "; ".join(verdicts))
        return labeled - before

    def _apply_gallery(
        self, model_id: int, name: str, rows: list[tuple[int, float]], max_error: float
    ) -> tuple[int, str]:
        """Read one class's gallery (``rows``: item, probability, most probable first), apply what
        reads right at ``max_error`` and fix the wrong items in it; returns how many were applied
        and a line for the log."""
        belongs = [self.truth[item] == name for item, _ in rows]
        probabilities = [p for _, p in rows]
        cut = clean_prefix(
            probabilities, belongs, self.strategy.review_size, max_error, min_cut=self.strategy.min_page
        )
        verdict = f"{name} {cut}/{len(rows)}"
        if cut == 0:
            return 0, verdict
        threshold = rows[cut - 1][1]
        self.client.apply_probability(self.dataset_id, model_id, threshold, label_id=self.class_ids[name])
        self.progress.add("batch")
        wrong = [item for (item, _), right in zip(rows[:cut], belongs[:cut], strict=True) if not right]
        for item in wrong:
            self.client.tag(self.dataset_id, [item], self.class_ids[self.truth[item]], kind="review")
            self.progress.add("fix")
        return cut, f"{verdict} applied, {len(wrong)} fixed"


def clean_prefix(
    probabilities: list[float], belongs: list[bool], page: int, max_error: float, min_cut: int = 8
) -> int:
    """How many of a class's gallery items (most probable first) a reviewer accepts: whole pages
    down to the first one with more than ``max_error`` of its items wrong, and the top of that
    page while it still reads right (at least ``min_cut`` items, ending on a right one, no more
    than ``max_error`` of them wrong); then back to a probability the next item does not share,
    so that a threshold labels exactly these."""
    accepted = 0
    for start in range(0, len(belongs), page):
        shown = belongs[start : start + page]
        if shown.count(False) <= max_error * len(shown):
            accepted = start + len(shown)
            continue
        wrong = np.cumsum(np.logical_not(shown))
        tops = [k for k in range(min_cut, len(shown)) if shown[k - 1] and wrong[k - 1] <= max_error * k]
        accepted = start + max(tops, default=0)
        break
    while 0 < accepted < len(probabilities) and probabilities[accepted] >= probabilities[accepted - 1]:
        accepted -= 1
    return accepted


@dataclass(frozen=True)
class Selection:
    """Which tiles of a page to label, the clicks it takes beyond the one that labels a batch, and
    whether it is a batch at all (one tile is labeled by hand, with its hotkey: one action)."""

    keep: list[bool]
    deselects: int
    batch: bool = True


def choose_selection(belongs: list[bool]) -> Selection:
    """The way through a ranked page (tiles start selected) that gives most labels per action.

    The ways, each labeling only items that belong: deselect every wrong tile; keep the top ``k``
    (click tile ``k + 1``, Shift-click the last: the rest drop; one click if only the last tile
    drops) and deselect the wrong tiles above the cut; or label the first right tile by hand and
    leave the page. (Selecting none and picking the right tiles costs more per label than the
    hotkey.) A cut leaves the tail's right items for a later page or the classifier.
    """
    n, right = len(belongs), sum(belongs)
    if right == 0:
        return Selection([False] * n, 0)
    first = belongs.index(True)
    options = [
        (right / (n - right + 1), Selection(list(belongs), n - right)),
        (1.0, Selection([i == first for i in range(n)], 0, batch=False)),
    ]
    kept_right = kept_wrong = 0
    for k in range(1, n):  # keep the first k tiles
        kept_right += belongs[k - 1]
        kept_wrong += not belongs[k - 1]
        if not belongs[k - 1] or belongs[k]:
            continue  # a sensible cut ends on a right tile and drops a wrong one
        clicks = kept_wrong + (1 if k == n - 1 else 2)
        keep = [b and i < k for i, b in enumerate(belongs)]
        options.append((kept_right / (clicks + 1), Selection(keep, clicks)))
    return max(options, key=lambda option: option[0])[1]


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
    waited_before = expert.client.job_wait_seconds
    jobs_before = len(expert.client.jobs)
    progress = expert.run_guided() if guided else expert.run_manual()
    wall = time.perf_counter() - start
    result = summarize(
        progress,
        len(expert.truth),
        wall,
        expert.client.job_wait_seconds - waited_before,
        len(expert.client.jobs) - jobs_before,
    )
    labeled = expert.client.labels(expert.dataset_id)
    left = Counter(name for item, name in expert.truth.items() if item not in labeled)
    result["unlabeled_by_class"] = dict(sorted(left.items()))  # what the session left, and why
    return result
