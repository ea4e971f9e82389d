"""The queue's promises judged offline: expected precision of each probability batch against what it holds.

For the demo (rendered in memory, standardised azimuthal descriptors) and each real set given as
``--folder DIR --truth CSV`` (PCA of log pixels, as ``bench guardrails`` reads them), no database,
no jobs. Labels arise as they do in the product:

- *queue*: the items nearest k-means centres first (``k_means_centres``, the queue's first "label
  these"), then rounds of: a logistic regression on the labeled vectors (its out-of-fold
  probabilities of the labeled items stand for ``oof.npz``), the queue's probability batches
  (``probability_batches``, the product's code), every batch accepted with its wrong items
  deselected (they stay unlabeled), then ten items chosen as "label these" chooses them
  (``margins`` pool, ``k_center`` weighted by uncertainty) labeled one by one; a deselected item is
  rejected for the batch's class (its score zero there, as ``rejections.mask_scores``);
  ``--retrain-growth G``: the regression is refitted only once the labels grew by that share (the
  queue's retrain: 0.2), and in between the items labeled since its fit join the held-out items
  with its own scores (the product's fit, decision 0025); ``--batches-per-round K``: only the K
  batches of most expected labels per action are accepted each round (1: the study's expert,
  who takes the queue's top suggestion), so labels grow in smaller steps between refits;
- *random*: the same numbers of labels drawn at random (the baseline where the fit is representative).

At every round the batches each way of promising would make are compared with the truth: mean
absolute gap and mean signed gap (promised minus held; positive: over-promised) per batch, as the
study's calibration gap, per stage (early / middle / late thirds of the labels) and overall. A way
(``--ways``, ``fit/bound``) is what the Platt fit rests on and the bound the promise takes of it:

- fits: ``all`` (every out-of-fold item of the class alike), ``shifted`` (each weighted by its true
  class's label-shift weight, ``label_shift_weights``: the product's), ``pooled`` (shifted, and
  each class's fit pulled towards the fit over all classes, ``pooled_fit``), ``weighted`` (each weighted
  by how representative it is of the class's batch candidates: ``representativeness``, a
  nearest-neighbour density ratio, clipped; the fit counts its effective sample size),
  ``weighted_shifted`` (both weights at once),
  ``not_chosen`` (the items not chosen for doubt: k-means start and accepted batches; all where
  fewer than ``MIN_SUPPORT``);
- bounds: ``wilson`` (the lower end of the fit's Wilson interval at ``BATCH_Z`` over its support,
  the product's before issue 18), ``point`` (the fit itself), ``posterior`` (the fit less
  ``BATCH_Z`` standard errors of the batch's mean under the fit's posterior, ``lower_means``).

The first way steers the queue's run (its batches are the ones accepted); every way is judged on
the same states. The probability page's estimate of each of those batches (the class at the
batch's lowest score, ``heldout.estimate_batch``: the product's) is judged as ``page/plain`` (the
share of held-out items at or above it right) and ``page/calibrated`` (the batch's items' scores
through the class's Platt fit, held-out items weighed to the unlabeled items' classes), on the
batches where both are known. ``--first-page`` starts as the study
does: after the k-means items, the best similarity page (no classifier yet) is accepted, its wrong
items rejected.

Similarity pages: at every round of the queue's run the pages ``similarity_pages`` (the product's)
makes for every class labeled so far are judged, each page by every way of promising it
(``SIMILARITY_WAYS``, ``similarity_promises``: the product's and the estimates it rests on, a
fit of the labeled items' own votes, the calibrated classifier, their mean, a stacked fit) and,
as pages of their own, the pages made without the classifier's cap (``product_uncapped``). The
pages of classes no probability batch serves are accepted, as the queue would offer them.

    python -m bench promises --limit 400 \\
        --folder DATA/digits/images --truth DATA/digits/truth.csv \\
        --folder DATA/cellcycle/images --truth DATA/cellcycle/truth.csv
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.guided import next_actions
from backend.guided import suggest_math as sm
from backend.guided.heldout import HeldOut, estimate_batch
from bench.guardrails import Loader, fit_predict, labeled_sets, out_of_fold

ONE_BY_ONE = 10  # next_actions.LABEL_ONE_BY_ONE
WAYS = (
    "all/wilson",
    "all/point",
    "shifted/point",
    "pooled/point",
    "all/posterior",
    "weighted/wilson",
    "weighted/posterior",
    "not_chosen/posterior",
    "all/posterior+votes",
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.promises", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", action="append", default=[], help="a real set's image folder")
    parser.add_argument("--truth", action="append", default=[], help="its path,label CSV")
    parser.add_argument("--limit", type=int, default=1000, help="items per real set at most (seeded sample)")
    parser.add_argument("--demo-count", type=int, default=600, help="demo frames (0: no demo)")
    parser.add_argument("--seeds", type=int, default=2, help="runs per set (k-means seed, random draws)")
    parser.add_argument("--max-share", type=float, default=0.6, help="stop once this share is labeled")
    parser.add_argument("--ways", default=",".join(WAYS), help="ways of promising, comma-separated")
    parser.add_argument(
        "--first-page",
        action="store_true",
        help="start as the study does: after the k-means items, the best similarity page accepted",
    )
    parser.add_argument(
        "--retrain-growth",
        type=float,
        default=0.0,
        help="retrain once the labels grew by this share (0: every round; the queue's 0.2); between "
        "trainings the items labeled since join the held-out items with the classifier's own scores",
    )
    parser.add_argument(
        "--batches-per-round",
        type=int,
        default=0,
        help="probability batches accepted per round, most expected labels per action first (0: all; "
        "1: one at a time, as the study's expert takes the queue's top suggestion)",
    )
    parser.add_argument(
        "--similarity-cap",
        choices=("min", "mean"),
        default=sm.SIMILARITY_CAP,
        help="how the product's similarity pages meet the classifier (suggest_math.SIMILARITY_CAP)",
    )
    args = parser.parse_args(argv)
    if len(args.truth) != len(args.folder):
        parser.error("give one --truth per --folder")
    return args


@dataclass
class Gaps:
    promised: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, promised: float, held: float, size: int) -> None:
        self.promised.append(promised)
        self.held.append(held)
        self.sizes.append(size)

    def line(self, name: str) -> str:
        if not self.promised:
            return f"{name:<48} {0:>7}"
        p, h = np.asarray(self.promised), np.asarray(self.held)
        return (
            f"{name:<48} {len(p):>7} {np.mean(self.sizes):>6.1f} {p.mean():>8.3f} {h.mean():>6.3f}"
            f" {np.abs(p - h).mean():>6.3f} {(p - h).mean():>+7.3f} {np.mean(p > h):>7.2f}"
        )


HEADER = (
    f"{'labels, way':<48} {'batches':>7} {'size':>6} {'promised':>8} {'held':>6} {'gap':>6} {'signed':>7}"
    f" {'over':>7}"
)


REPRESENTATIVE_NEIGHBOURS = 10  # neighbours the density ratio counts
MAX_WEIGHT = 5.0  # importance weights are clipped to [1 / MAX_WEIGHT, MAX_WEIGHT]


def representativeness(
    vectors: tuple[np.ndarray, np.ndarray], labeled_ids: np.ndarray, candidate_ids: np.ndarray
) -> np.ndarray | None:
    """Per labeled item, how much more alike the candidates it is than the labeled items are on the
    whole: the density ratio candidates / labeled at its place (of its nearest neighbours among both,
    the candidates' share against the labeled items', each count smoothed by one and divided by
    its group's size), clipped to [1 / MAX_WEIGHT, MAX_WEIGHT], mean 1. None when either group
    has no vector."""
    ids, raw = vectors
    lab = sm.rows_of(ids, labeled_ids)
    cand = sm.rows_of(ids, candidate_ids)
    if (lab < 0).any() or not (cand >= 0).any() or len(lab) < 2:
        return None
    cand = cand[cand >= 0]
    points = sm.unit(np.asarray(raw)[np.concatenate([lab, cand])])
    n_lab, n_cand = len(lab), len(cand)
    sims = points[:n_lab] @ points.T
    sims[np.arange(n_lab), np.arange(n_lab)] = -np.inf  # not itself
    k = min(REPRESENTATIVE_NEIGHBOURS, len(points) - 1)
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    of_candidates = (nearest >= n_lab).sum(axis=1).astype(np.float64)
    ratio = ((of_candidates + 1.0) / n_cand) / ((k - of_candidates + 1.0) / n_lab)
    ratio = np.clip(ratio / ratio.mean(), 1.0 / MAX_WEIGHT, MAX_WEIGHT)
    return ratio / ratio.mean()


def promise_batches(
    way: str,
    vectors: np.ndarray,
    truth: np.ndarray,
    labeled: np.ndarray,
    chosen_for_doubt: np.ndarray,
    probs: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray],
) -> list[sm.ProbabilityBatch]:
    """The probability batches the queue would suggest, promised the ``way`` way (``fit/bound``).
    ``held_out``: (rows, probabilities) of the labeled items the classifier did not train on (out
    of fold, and the items labeled since its training with its own scores, as the product's)."""
    fit, bound = way.split("/")
    n_classes = probs.shape[1]
    ids = np.arange(len(truth), dtype=np.int64)
    rows, held_probs = held_out
    held_labels = truth[rows].astype(np.int64)
    present = set(truth[np.flatnonzero(labeled)].tolist())
    held = (ids[rows], held_probs, list(range(n_classes)))
    if fit == "not_chosen":
        keep = ~chosen_for_doubt[rows]
        if keep.sum() >= sm.MIN_SUPPORT:
            held = (ids[rows][keep], held_probs[keep], list(range(n_classes)))
            held_labels = held_labels[keep]
    saved = sm.BATCH_Z, sm.BATCH_BOUND
    sm.BATCH_Z = 0.0 if bound == "point" else saved[0]
    sm.BATCH_BOUND = "posterior" if bound.startswith("posterior") else "wilson"
    unit = sm.unit(vectors)

    def votes(label_id: int, candidates: np.ndarray) -> np.ndarray:  # as the queue's similarity pages
        return sm.neighbour_votes(unit[candidates], unit[rows], truth[rows] == label_id)

    try:
        return sm.probability_batches(
            ids,
            probs,
            list(range(n_classes)),
            ~labeled,
            held,
            held_labels,
            classes=present,
            weigh=(lambda held, cand: representativeness((ids, vectors), held, cand))
            if fit in ("weighted", "weighted_shifted")
            else None,
            votes=votes if bound.endswith("+votes") else None,
            label_shift=fit in ("shifted", "pooled", "weighted_shifted"),
            pooled_prior=fit == "pooled",
        )
    finally:
        sm.BATCH_Z, sm.BATCH_BOUND = saved


def run_queue(
    vectors: np.ndarray,
    truth: np.ndarray,
    seed: int,
    args: argparse.Namespace,
    ways: list[str],
    tally: Callable[[str, str, int, list[Any], np.ndarray], None],
) -> list[int]:
    """The queue's way: k-means start, then rounds of batches accepted and ten items one by one.
    Returns the numbers of labels at each round (for the random baseline)."""
    n, n_classes = len(truth), int(truth.max()) + 1
    labeled = np.zeros(n, bool)
    doubt = np.zeros(n, bool)  # chosen one by one because the model doubted them
    rejected = np.zeros((n, n_classes), bool)  # deselected from a batch of that class
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, min(n, sm.SAMPLE), replace=False))
    labeled[sample[sm.k_means_centres(vectors[sample], ONE_BY_ONE, seed=seed)]] = True
    if args.first_page:  # as the study starts: the best similarity page, before any classifier
        rows = np.flatnonzero(labeled)
        pages = sm.similarity_batches(
            np.arange(n, dtype=np.int64),
            sm.unit(vectors),
            ~labeled,
            rows,
            truth[rows].astype(np.int64),
            classes=set(truth[rows].tolist()),
        )
        if pages:
            page = max(pages, key=lambda b: b.cut.expected_labels / b.cut.expected_actions)
            items = np.asarray(page.item_ids)
            labeled[items[truth[items] == page.label_id]] = True
            rejected[items[truth[items] != page.label_id], page.label_id] = True
    counts = []
    trained = np.zeros(0, np.int64)  # the rows the current classifier was trained on
    probs = oof = np.zeros((0, n_classes))
    while labeled.mean() < args.max_share:
        rows = np.flatnonzero(labeled)
        if len(set(truth[rows].tolist())) < 2:
            pick = np.flatnonzero(~labeled)
            labeled[rng.choice(pick, ONE_BY_ONE, replace=False)] = True
            continue
        if not len(trained) or len(rows) >= (1.0 + args.retrain_growth) * len(trained):
            probs = fit_predict(vectors, rows, truth[rows], np.arange(n), n_classes)
            oof = out_of_fold(vectors, rows, truth[rows], n_classes)
            trained = rows
        since = np.setdiff1d(rows, trained)  # labeled after the training: its own scores held out
        held_out = (np.r_[trained, since], np.vstack([oof, probs[since]]))
        counts.append(len(rows))
        batches: list[sm.ProbabilityBatch] = []
        masked = np.where(rejected, 0.0, probs).astype(np.float32)  # as rejections.mask_scores
        for way in ways:
            made = promise_batches(way, vectors, truth, labeled, doubt, masked, held_out)
            tally("queue", way, len(rows), made, truth)
            if way == ways[0]:  # the product's way steers the run
                batches = made
        for way, judged in page_estimates(batches, truth, labeled, probs, held_out).items():
            tally("queue", way, len(rows), judged, truth)
        if args.batches_per_round:  # the best ones only, as the queue ranks them
            batches = sorted(batches, key=lambda b: -b.cut.expected_labels / b.cut.expected_actions)
            batches = batches[: args.batches_per_round]
        for b in batches:  # accepted, wrong items deselected (left unlabeled, rejected for the class)
            items = np.asarray(b.item_ids)
            labeled[items[truth[items] == b.label_id]] = True
            rejected[items[truth[items] != b.label_id], b.label_id] = True
        # similarity pages of every class are judged (the queue suggests those no probability
        # batch serves, too few to judge on their own); those are accepted
        served = {b.label_id for b in batches}
        present = set(truth[np.flatnonzero(labeled)].tolist())
        for b in similarity_pages(vectors, truth, labeled, rejected, masked, present, held_out, cap=False):
            tally("queue", "similarity/product_uncapped", len(rows), [b], truth)
        for b in similarity_pages(vectors, truth, labeled, rejected, masked, present, held_out):
            for way, promised in similarity_promises(vectors, truth, labeled, masked, held_out, b).items():
                tally("queue", way, len(rows), [_Promised(b.label_id, b.item_ids, promised)], truth)
            if b.label_id not in served:
                items = np.asarray(b.item_ids)
                labeled[items[truth[items] == b.label_id]] = True
                rejected[items[truth[items] != b.label_id], b.label_id] = True
        free = np.flatnonzero(~labeled)
        if not len(free):
            break
        m = sm.margins(probs[free])
        take = min(sm.POOL, len(free))
        pool = free[np.argpartition(m, take - 1)[:take]] if take < len(free) else free
        order = np.sort(pool)
        weights = 1.0 - sm.margins(probs[order])
        centres = np.flatnonzero(labeled)
        if len(centres) > sm.CENTRES:
            centres = np.sort(rng.choice(centres, sm.CENTRES, replace=False))
        picks = order[sm.k_center(vectors[order], vectors[centres], ONE_BY_ONE, weights)]
        labeled[picks] = True
        doubt[picks] = True
    return counts


@dataclass(frozen=True)
class _Promised:  # a batch as the tally reads it: its class, items and promise
    label_id: int
    item_ids: list[int]
    promised: float

    @property
    def cut(self) -> _Promised:
        return self

    @property
    def precision(self) -> float:
        return self.promised


def page_estimates(
    batches: list[sm.ProbabilityBatch],
    truth: np.ndarray,
    labeled: np.ndarray,
    probs: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray],
) -> dict[str, list[_Promised]]:
    """What the probability page says of each batch (its class at the batch's lowest score): the
    plain share of held-out items right and the calibrated estimate of the batch's items."""
    rows, held_probs = held_out
    held = HeldOut(rows.astype(np.int64), held_probs.astype(np.float32), list(range(probs.shape[1])), "oof")
    current = {int(r): frozenset({int(truth[r])}) for r in rows}
    pool = probs[~labeled].argmax(axis=1)
    judged: dict[str, list[_Promised]] = {"page/plain": [], "page/calibrated": []}
    for b in batches:
        items = np.asarray(b.item_ids)
        e = estimate_batch(
            held, current, threshold=b.cut.threshold, label_id=b.label_id, batch_size=len(items),
            batch=(np.full(len(items), b.label_id), probs[items, b.label_id]), pool_predicted=pool,
        )  # fmt: skip
        if e.precision is None or e.calibrated_precision is None:
            continue
        judged["page/plain"].append(_Promised(b.label_id, b.item_ids, e.precision))
        judged["page/calibrated"].append(_Promised(b.label_id, b.item_ids, e.calibrated_precision))
    return judged


def similarity_pages(
    vectors: np.ndarray,
    truth: np.ndarray,
    labeled: np.ndarray,
    rejected: np.ndarray,
    probs: np.ndarray,
    classes: set[int],
    oof: tuple[np.ndarray, np.ndarray],
    cap: bool = True,
) -> list[sm.SimilarityBatch]:
    """The similarity pages the queue suggests for ``classes`` (the product's ``similarity_pages``):
    per class, its rejected items left out, the classifier's probability of it as the cap (none
    without ``cap``: the queue's pages once a single item had been rejected, before this was seen)."""
    rows = np.flatnonzero(labeled)
    return next_actions.similarity_pages(
        np.arange(len(truth), dtype=np.int64),
        sm.unit(vectors),
        ~labeled,
        (rows, truth[rows].astype(np.int64)),
        classes,
        {c: set(np.flatnonzero(rejected[:, c]).tolist()) for c in classes},
        {c: probs[:, c].astype(np.float64) for c in classes} if cap else None,
        sm.one_against_rest(oof[1], list(range(probs.shape[1])), truth[oof[0]], "out of fold"),
    )


SIMILARITY_WAYS = (
    "similarity/product",
    "similarity/product_uncapped",
    "similarity/votes",
    "similarity/votes_fitted",
    "similarity/calibrated_probability",
    "similarity/mean",
    "similarity/stacked",
)


def similarity_promises(
    vectors: np.ndarray,
    truth: np.ndarray,
    labeled: np.ndarray,
    probs: np.ndarray,
    oof: tuple[np.ndarray, np.ndarray],
    batch: sm.SimilarityBatch,
) -> dict[str, float]:
    """What each way of promising says of one similarity page (the same items):

    - ``product``: the page's own promise (the lower of the leave-one-out figure of its ranking and
      its items' neighbour votes, each vote capped by the classifier's probability of the class);
    - ``votes``: the mean neighbour vote, no cap;
    - ``votes_fitted``: the votes through a Platt fit of the labeled items' own leave-one-out votes
      (``leave_one_out_votes``), its posterior's lower end at ``BATCH_Z`` as probability batches promise;
    - ``calibrated_probability``: the classifier's probability of the class through a Platt fit of
      the out-of-fold probabilities of the labeled items (one class against the rest);
    - ``mean``: the mean of the votes and that calibrated probability;
    - ``stacked``: a logistic regression of "of the class" on both (logits), fitted on the labeled
      items' leave-one-out votes and out-of-fold probabilities."""
    from sklearn.linear_model import LogisticRegression

    unit = sm.unit(vectors)
    c = batch.label_id
    rows = np.flatnonzero(labeled)
    items = np.asarray(batch.item_ids)
    is_class = truth[rows] == c
    votes = sm.neighbour_votes(unit[items], unit[rows], is_class)
    loo, right = sm.leave_one_out_votes(unit[rows], is_class)
    fit = sm.PlattCalibration(loo, right, "labeled items' votes (leave one out)")
    held, held_probs = oof  # the rows the round's model was fitted on (< MAX_VOTERS), out of fold
    y = truth[held] == c
    p_held, p_items = held_probs[:, c].astype(np.float64), probs[items, c].astype(np.float64)
    calibrated = sm.PlattCalibration(p_held, y, "out of fold").item_precision(p_items)
    if y.all() or not y.any():
        stacked = np.full(len(items), float(y.mean()))
    else:
        loo_held, _ = sm.leave_one_out_votes(unit[held], y)
        model = LogisticRegression(C=1.0).fit(np.c_[sm._logit(loo_held), sm._logit(p_held)], y)
        stacked = model.predict_proba(np.c_[sm._logit(votes), sm._logit(p_items)])[:, 1]
    return {
        "similarity/product": batch.cut.precision,
        "similarity/votes": float(votes.mean()),
        "similarity/votes_fitted": float(fit.lower_means(votes, np.asarray([len(items)]), sm.BATCH_Z)[0]),
        "similarity/calibrated_probability": float(calibrated.mean()),
        "similarity/mean": float(((votes + calibrated) / 2).mean()),
        "similarity/stacked": float(stacked.mean()),
    }


def run_random(
    vectors: np.ndarray,
    truth: np.ndarray,
    seed: int,
    counts: list[int],
    ways: list[str],
    tally: Callable[[str, str, int, list[Any], np.ndarray], None],
) -> None:
    n, n_classes = len(truth), int(truth.max()) + 1
    order = np.random.default_rng([seed, 7]).permutation(n)
    for count in counts:
        labeled = np.zeros(n, bool)
        labeled[order[:count]] = True
        rows = np.flatnonzero(labeled)
        if len(set(truth[rows].tolist())) < 2:
            continue
        probs = fit_predict(vectors, rows, truth[rows], np.arange(n), n_classes)
        oof = out_of_fold(vectors, rows, truth[rows], n_classes)
        for way in ways:
            if way.startswith("not_chosen"):
                continue  # nothing was chosen for doubt: the same as now
            made = promise_batches(way, vectors, truth, labeled, labeled & False, probs, (rows, oof))
            tally("random", way, count, made, truth)
            if way == ways[0]:
                for page_way, judged in page_estimates(made, truth, labeled, probs, (rows, oof)).items():
                    tally("random", page_way, count, judged, truth)


def judge(name: str, vectors: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> dict[str, Gaps]:
    classes, truth = np.unique(labels, return_inverse=True)
    print(f"\n{name}: {len(truth)} items, {len(classes)} classes", flush=True)
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    gaps: dict[str, Gaps] = {}
    third = max(2, round(len(truth) * args.max_share / 3))

    def tally(mode: str, way: str, count: int, batches: list[Any], truth: np.ndarray) -> None:
        stage = "early" if count < third else ("middle" if count < 2 * third else "late")
        for b in batches:
            items = np.asarray(b.item_ids)
            held = float(np.mean(truth[items] == b.label_id))
            for key in (f"{mode} {stage}, {way}", f"{mode} all, {way}"):
                gaps.setdefault(key, Gaps()).add(b.cut.precision, held, len(items))

    for seed in range(args.seeds):
        start = time.perf_counter()
        counts = run_queue(vectors, truth, seed, args, ways, tally)
        run_random(vectors, truth, seed, counts, ways, tally)
        print(f"  seed {seed}: {len(counts)} rounds, {time.perf_counter() - start:.1f} s", flush=True)
    print(f"stages by labels: early < {third}, middle < {2 * third}, late after")
    print(HEADER)
    for key in sorted(gaps, key=lambda k: (k.split()[0], k.split()[1] == "all", k)):
        print(gaps[key].line(key))
    return gaps


def main(argv: list[str]) -> None:
    args = parse(argv)
    sets = labeled_sets(args)
    print(
        f"{args.seeds} seeds per set, labels up to {args.max_share:.0%} of the set. gap: mean |promised -\n"
        "held| per batch (the study's calibration gap); signed: promised - held (positive: over-promised);\n"
        "over: share of batches promised more than they held"
    )
    print(f"similarity pages: SIMILARITY_CAP = {args.similarity_cap!r}")
    saved, sm.SIMILARITY_CAP = sm.SIMILARITY_CAP, args.similarity_cap
    try:
        summary = judge_all(sets, args)
    finally:
        sm.SIMILARITY_CAP = saved
    print("\nsummary (all rounds)")
    print(HEADER)
    for name, key, g in summary:
        print(g.line(f"{name[:10]} {key.replace(' all,', ',')}"))


def judge_all(sets: list[tuple[str, Loader]], args: argparse.Namespace) -> list[tuple[str, str, Gaps]]:
    summary: list[tuple[str, str, Gaps]] = []
    for name, load in sets:
        start = time.perf_counter()
        vectors, labels = load()
        print(f"{name}: read and described in {time.perf_counter() - start:.1f} s", flush=True)
        gaps = judge(name, vectors, labels, args)
        summary.extend((name, key, g) for key, g in gaps.items() if " all," in key)
    return summary
