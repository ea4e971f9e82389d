"""Batch guardrails judged offline: do the flags catch the wrong items of a batch, and what do they cost?

For the demo (rendered in memory, ``backend.demo``; described by its standardised azimuthal
descriptors, what its quick extractor writes) and each real set given as ``--folder DIR --truth
CSV`` (``path,label``; ``--limit`` items at most, prepared as the models see them by
``backend.images``: log scale, 32 px, then a PCA of those pixels), no database, no jobs. For each
labeled share (``--shares``, default 2%, 5%, 10% labeled at random) and seed, the queue's batches
are formed from the labeled items, as ``backend.guided.suggest_math`` forms them:

- *similarity*: ``similarity_batches`` (with a logistic regression's probabilities as the cap);
- *probability*: ``probability_batches`` on that logistic regression (fitted on the labeled
  vectors; calibrated by its out-of-fold probabilities of them, as the queue's ``oof.npz``);
- *explorer*: a lasso of the ``--explorer-size`` items nearest a random unlabeled item in the first
  two principal components, given the class most of it truly holds (what a person would choose),
  where that class holds at least 60% of it (a person would not label a muddle at once).

Each batch is judged by ``flag_batch`` (the rules of the app) and by the rules it replaced (issue
19's baseline, kept here), with the same settings (``--mads``, ``--neighbours``; the app's
defaults). Per set and kind of batch it prints the share of wrong items in batches, the flags'
precision and recall on wrong items, the share of wrong labels a batch writes with "f" pressed
(flagged items out) and without, and the right items "f" drops per wrong item it catches.
Target (issue 19): with "f" at most half the wrong share.

``--ceiling`` asks whether any threshold could get there: per set, for a few scores of each batch
item (the rules' flag; 1 - its class's share of the weighed votes of its nearest labeled items;
1 - the regression's probability of its class; 1 - its class's share by label spreading over
every item of the set; those four summed), the area under the ROC curve for wrong items and the
lowest ratio a threshold reaches while "f" loses at most one right item per wrong one caught.
The threshold is chosen on the set's truth: a bound on what a rule on that score can do, not a
rule. It also tallies one candidate rule beside the app's, *spreading* (flagged when label
spreading gives another class the largest share; the app does not have it: it needs every item's
nearest items).

    python -m bench guardrails --limit 2500 \\
        --folder DATA/digits/images --truth DATA/digits/truth.csv \\
        --folder DATA/cellcycle/images --truth DATA/cellcycle/truth.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.demo import class_sequence, render_image
from backend.guided.guardrails import BatchFlags, flag_batch
from backend.guided.suggest_math import probability_batches, similarity_batches, unit
from backend.images.decode import read_file
from backend.images.transforms import DisplayTransform, prepare

SIZE = 32
DEMO_SIZE = 128
COMPONENTS = 50
MAX_PIXELS = 1 << 26
MIN_LASSO_SHARE = 0.6  # a lasso is labeled when most of it (by eye) is one class

Rule = Callable[..., BatchFlags]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.guardrails", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", action="append", default=[], help="a real set's image folder")
    parser.add_argument("--truth", action="append", default=[], help="its path,label CSV")
    parser.add_argument("--limit", type=int, default=2500, help="items per real set at most (seeded sample)")
    parser.add_argument("--demo-count", type=int, default=600, help="demo frames (0: no demo)")
    parser.add_argument("--shares", default="0.02,0.05,0.1", help="labeled shares, comma-separated")
    parser.add_argument("--seeds", type=int, default=3, help="draws of the labeled items per share")
    parser.add_argument("--explorer-size", type=int, default=24, help="items of an explorer lasso")
    parser.add_argument("--explorers", type=int, default=6, help="explorer lassos per draw")
    parser.add_argument("--mads", type=float, default=3.0, help="LABELWISE_GUARD_CENTROID_MADS")
    parser.add_argument("--neighbours", type=int, default=5, help="LABELWISE_GUARD_NEIGHBOURS")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also print the best any threshold on a few scores could do per set (a bound, not a rule)",
    )
    args = parser.parse_args(argv)
    if len(args.truth) != len(args.folder):
        parser.error("give one --truth per --folder")
    return args


# ---- data ----------------------------------------------------------------------------------------


def demo_set(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised azimuthal descriptors of demo frames (what the demo's quick extractor writes)."""
    from workers.scattering import descriptor

    names = class_sequence(count, 0)
    described = np.stack([descriptor(render_image(i, n, DEMO_SIZE, 0))[0] for i, n in enumerate(names)])
    scaled = (described - described.mean(axis=0)) / np.maximum(described.std(axis=0), 1e-6)
    return scaled.astype(np.float32), np.asarray(names)


def folder_set(folder: Path, truth: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the log-scaled pixels at 32 px (what the PCA extractor writes, up to scale)."""
    with truth.open(newline="") as handle:
        rows = [(r["path"], r["label"]) for r in csv.DictReader(handle)]
    if len(rows) > limit:
        keep = np.sort(np.random.default_rng(0).choice(len(rows), size=limit, replace=False))
        rows = [rows[int(i)] for i in keep]
    transform = DisplayTransform(log=True)
    images = [prepare(read_file(folder / p, max_pixels=MAX_PIXELS), SIZE, transform) for p, _ in rows]
    return pca(np.stack(images).reshape(len(rows), -1)), np.asarray([label for _, label in rows])


def pca(pixels: np.ndarray, components: int = COMPONENTS) -> np.ndarray:
    centred = pixels - pixels.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:components].T).astype(np.float32)


Loader = Callable[[], tuple[np.ndarray, np.ndarray]]


def labeled_sets(args: argparse.Namespace) -> list[tuple[str, Loader]]:
    """The sets a benchmark's ``--demo-count``, ``--folder``/``--truth`` and ``--limit`` name, each
    with a loader of (vectors, labels) called when its turn comes (a set read at a time)."""
    sets: list[tuple[str, Loader]] = []
    if args.demo_count:
        sets.append((f"demo ({args.demo_count})", lambda: demo_set(args.demo_count)))
    for folder, truth in zip(args.folder, args.truth, strict=True):
        name = Path(folder).parent.name or folder
        sets.append((name, lambda f=folder, t=truth: folder_set(Path(f), Path(t), args.limit)))
    return sets


# ---- the rules before issue 19's fix (the baseline) -----------------------------------------------


def baseline_flags(
    batch_ids: list[int],
    batch_labels: list[int | None],
    vector_ids: np.ndarray,
    vectors: np.ndarray,
    current: dict[int, frozenset[int]],
    *,
    mads: float = 3.0,
    neighbours: int = 5,
) -> BatchFlags:
    """Far: past median + mads x MAD of the batch's (class part's) distances to its centroid;
    neighbours: most of the n nearest labeled items carry another class."""
    result = BatchFlags()
    row_of = {int(i): r for r, i in enumerate(vector_ids)}
    rows = [(i, lab, row_of[i]) for i, lab in zip(batch_ids, batch_labels, strict=True)]
    u = unit(vectors[[r for _, _, r in rows]])
    groups: dict[int | None, list[int]] = {}
    for k, (_, label, _) in enumerate(rows):
        groups.setdefault(label, []).append(k)
    for members in groups.values():
        if len(members) < 5:
            continue
        centroid = u[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        distance = 1.0 - u[members] @ centroid
        median = float(np.median(distance))
        limit = median + mads * max(1.4826 * float(np.median(np.abs(distance - median))), 1e-6)
        for k, d in zip(members, distance, strict=True):
            if d > limit:
                result.flags.setdefault(rows[k][0], []).append("far")
    labeled = [i for i in current if current[i]]
    if not labeled:
        return result
    labeled_ids = np.asarray(labeled, np.int64)
    labeled_unit = unit(vectors[[row_of[i] for i in labeled]])
    sims = u @ labeled_unit.T
    for k, (item, label, _) in enumerate(rows):
        if label is None:
            continue
        take = min(neighbours, len(labeled))
        nearest = labeled_ids[np.argpartition(-sims[k], take - 1)[:take]]
        agree = sum(label in current[int(n)] for n in nearest)
        if agree * 2 < take:
            result.flags.setdefault(item, []).append("neighbours")
    return result


# ---- batches -------------------------------------------------------------------------------------


@dataclass
class Batch:
    kind: str
    item_rows: np.ndarray
    labels: list[int | None]
    probabilities: np.ndarray | None = None  # the regression's, rows as item_rows (--ceiling)


def fit_predict(
    vectors: np.ndarray, train: np.ndarray, classes: np.ndarray, rows: np.ndarray, n_classes: int
) -> np.ndarray:
    """Probabilities per class (columns 0..n-1) of ``rows`` from a logistic regression on ``train``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(vectors[train])
    model = LogisticRegression(max_iter=500, C=1.0).fit(scaler.transform(vectors[train]), classes)
    probs = np.zeros((len(rows), n_classes), np.float32)
    probs[:, model.classes_] = model.predict_proba(scaler.transform(vectors[rows]))
    return probs


def out_of_fold(vectors: np.ndarray, rows: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Each labeled item's probabilities from a regression fitted without it (3 folds): the
    held-out figures the queue calibrates probability batches with (``oof.npz``)."""
    folds = np.arange(len(rows)) % 3
    out = np.full((len(rows), n_classes), 1.0 / n_classes, np.float32)
    for fold in range(3):
        train = folds != fold
        if len(set(classes[train].tolist())) > 1:
            out[~train] = fit_predict(vectors, rows[train], classes[train], rows[~train], n_classes)
    return out


def batches_of(
    vectors: np.ndarray,
    truth: np.ndarray,
    labeled: np.ndarray,
    rng: np.random.Generator,
    args: argparse.Namespace,
) -> list[Batch]:
    n_classes = int(truth.max()) + 1
    ids = np.arange(len(vectors), dtype=np.int64)
    unlabeled = ~labeled
    rows = np.flatnonzero(labeled)
    present = sorted(set(truth[rows].tolist()))
    out: list[Batch] = []
    everything = np.arange(len(vectors))
    probs = fit_predict(vectors, rows, truth[rows], everything, n_classes) if len(present) > 1 else None
    cap = {c: probs[:, c].astype(np.float64) for c in present} if probs is not None else None
    for b in similarity_batches(
        ids, unit(vectors), unlabeled, rows, truth[rows], classes=set(present), class_probability=cap
    ):
        out.append(Batch("similarity", np.asarray(b.item_ids), [b.label_id] * len(b.item_ids)))
    if probs is not None:
        held_out = (ids[rows], out_of_fold(vectors, rows, truth[rows], n_classes), list(range(n_classes)))
        for p in probability_batches(
            ids, probs, list(range(n_classes)), unlabeled, held_out, truth[rows], classes=set(present)
        ):
            out.append(Batch("probability", np.asarray(p.item_ids), [p.label_id] * len(p.item_ids)))
    plane = pca(vectors, 2)
    free = np.flatnonzero(unlabeled)
    for _ in range(args.explorers * 5):  # lassos a person would label: most of it one class
        if sum(b.kind == "explorer" for b in out) == args.explorers:
            break
        centre = plane[int(rng.choice(free))]
        near = free[np.argsort(((plane[free] - centre) ** 2).sum(axis=1))[: args.explorer_size]]
        votes = np.bincount(truth[near])
        if votes.max() >= MIN_LASSO_SHARE * len(near):
            out.append(Batch("explorer", near, [int(votes.argmax())] * len(near)))
    if probs is not None:
        for batch in out:
            batch.probabilities = probs[batch.item_rows]
    return out


# ---- scores --------------------------------------------------------------------------------------


@dataclass
class Tally:
    items: int = 0
    wrong: int = 0
    flagged_wrong: int = 0
    flagged_right: int = 0
    reasons: dict[str, list[int]] = field(default_factory=dict)  # reason -> [wrong, right] flagged

    def add(self, batch: Batch, truth: np.ndarray, flags: BatchFlags) -> None:
        for row, label in zip(batch.item_rows, batch.labels, strict=True):
            wrong = int(truth[row]) != label
            self.items += 1
            self.wrong += wrong
            reasons = flags.flags.get(int(row))
            if reasons:
                self.flagged_wrong += wrong
                self.flagged_right += not wrong
                for reason in {_kind_of(r) for r in reasons}:
                    counts = self.reasons.setdefault(reason, [0, 0])
                    counts[0 if wrong else 1] += 1

    def line(self, name: str) -> str:
        flagged = self.flagged_wrong + self.flagged_right
        before = self.wrong / max(self.items, 1)
        after = (self.wrong - self.flagged_wrong) / max(self.items - flagged, 1)
        precision = self.flagged_wrong / flagged if flagged else float("nan")
        recall = self.flagged_wrong / self.wrong if self.wrong else float("nan")
        cost = self.flagged_right / self.flagged_wrong if self.flagged_wrong else float("inf")
        by_rule = " ".join(f"{k}:{w}/{w + r}" for k, (w, r) in sorted(self.reasons.items()))
        return (
            f"{name:<24} {self.items:>6} {before:>6.3f} {flagged:>6} {precision:>6.3f} {recall:>6.3f}"
            f" {after:>6.3f} {after / before if before else float('nan'):>6.2f} {cost:>6.2f}  {by_rule}"
        )


def _kind_of(reason: str) -> str:
    return "far" if reason.startswith("far") else "neighbours"


# ---- the ceiling: how far any threshold on a score could go -------------------------------------

SPREAD_NEIGHBOURS = 10  # the graph of label spreading: each item's nearest items (cosine)
SPREAD_ALPHA = 0.99
SPREAD_STEPS = 40


def label_spreading(vectors: np.ndarray, rows: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Class shares per item by label spreading (Zhou et al. 2004) on the graph of each item's
    nearest items, every item of the set a node; each class's labeled items weigh 1 / their
    count, as the neighbours rule's votes."""
    from scipy import sparse

    u = unit(vectors).astype(np.float32)
    n = len(u)
    k = min(SPREAD_NEIGHBOURS, n - 1)
    near = np.zeros((n, k), np.int64)
    for start in range(0, n, 1024):
        sims = u[start : start + 1024] @ u.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        near[start : start + len(sims)] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    weight = np.maximum((u[np.repeat(np.arange(n), k)] * u[near.ravel()]).sum(axis=1), 0.0) + 1e-6
    graph = sparse.csr_matrix((weight, (np.repeat(np.arange(n), k), near.ravel())), shape=(n, n))
    graph = graph.maximum(graph.T)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    normalised = scale @ graph @ scale
    seeds = np.zeros((n, n_classes))
    seeds[rows, classes] = 1.0
    seeds /= np.maximum(seeds.sum(axis=0), 1.0)
    spread = seeds.copy()
    for _ in range(SPREAD_STEPS):
        spread = SPREAD_ALPHA * (normalised @ spread) + (1 - SPREAD_ALPHA) * seeds
    return spread / np.maximum(spread.sum(axis=1, keepdims=True), 1e-12)


def neighbour_share(
    vectors: np.ndarray,
    item_rows: np.ndarray,
    labels: list[int | None],
    current: dict[int, frozenset[int]],
    n: int,
) -> np.ndarray:
    """The share of each item's class among the votes of its n nearest labeled items, each class's
    votes weighed by 1 / its labeled items (the neighbours rule's estimate)."""
    labeled = np.asarray(sorted(current), np.int64)
    counts = np.bincount([next(iter(current[int(i)])) for i in labeled])
    label_of = np.asarray([next(iter(current[int(i)])) for i in labeled])
    sims = unit(vectors[item_rows]) @ unit(vectors[labeled]).T
    sims[labeled[None, :] == np.asarray(item_rows)[:, None]] = -np.inf
    take = min(n, len(labeled))
    nearest = np.argpartition(-sims, take - 1, axis=1)[:, :take]
    out = np.zeros(len(item_rows))
    for k, label in enumerate(labels):
        votes = label_of[nearest[k]]
        weights = 1.0 / counts[votes]
        out[k] = weights[votes == label].sum() / weights.sum() if label is not None else 1.0
    return out


@dataclass
class Ceiling:
    """Scores of every judged batch item (higher: more suspect) beside whether it is wrong."""

    wrong: list[bool] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)

    def add(self, wrong: np.ndarray, scores: dict[str, np.ndarray]) -> None:
        self.wrong.extend(bool(w) for w in wrong)
        for name, values in scores.items():
            self.scores.setdefault(name, []).extend(float(v) for v in values)

    def lines(self) -> list[str]:
        y = np.asarray(self.wrong, bool)
        return [f"  {name:<30} {bound(np.asarray(x), y)}" for name, x in self.scores.items()]


def bound(score: np.ndarray, wrong: np.ndarray) -> str:
    """The area under the ROC curve of ``score`` for wrong items, and the lowest ratio (with f /
    without) any threshold reaches while "f" loses at most one right item per wrong one caught."""
    n, total = len(wrong), int(wrong.sum())
    if not total or total == n:
        return "no wrong or no right items"
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))  # flag every item >= a value
    caught = np.cumsum(wrong[order])[ends]
    lost = np.cumsum(~wrong[order])[ends]
    ratio = (total - caught) / np.maximum(n - caught - lost, 1) / (total / n)
    ok = lost <= caught
    ranks = np.empty(n)
    ranks[np.argsort(score, kind="stable")] = np.arange(n)
    auc = (ranks[wrong].sum() - total * (total - 1) / 2) / (total * (n - total))
    if not ok.any():
        return f"auc {auc:.3f}  no threshold loses <= 1 right item per catch"
    best = int(np.flatnonzero(ok)[np.argmin(ratio[ok])])
    return (
        f"auc {auc:.3f}  best ratio {ratio[best]:.2f} (recall {caught[best] / total:.2f}, "
        f"lost/1 {lost[best] / max(caught[best], 1):.2f})"
    )


def ceiling_scores(
    batch: Batch,
    flags: BatchFlags,
    vectors: np.ndarray,
    current: dict[int, frozenset[int]],
    spread: np.ndarray,
    neighbours: int,
) -> dict[str, np.ndarray]:
    rows = np.asarray(batch.item_rows)
    labels = batch.labels
    cols = np.asarray([-1 if lab is None else lab for lab in labels])
    flagged = np.asarray([int(r) in flags.flags for r in rows], float)
    votes = 1.0 - neighbour_share(vectors, rows, labels, current, neighbours)
    classifier = (
        1.0 - batch.probabilities[np.arange(len(rows)), cols]
        if batch.probabilities is not None
        else np.full(len(rows), 0.5)
    )
    spreading = 1.0 - spread[rows, cols]
    return {
        "rules now (flagged or not)": flagged,
        f"neighbour votes ({neighbours})": votes,
        "classifier 1 - p(class)": classifier,
        "label spreading": spreading,
        "the four summed": flagged + votes + classifier + spreading,
    }


def spreading_flags(batch: Batch, spread: np.ndarray) -> BatchFlags:
    """A candidate rule (``--ceiling`` only, not the app's): flagged when label spreading gives
    another class the largest share."""
    best = spread[batch.item_rows].argmax(axis=1)
    return BatchFlags(
        flags={
            int(row): ["neighbours: label spreading names another class"]
            for row, label, top in zip(batch.item_rows, batch.labels, best, strict=True)
            if label is not None and int(top) != label
        }
    )


HEADER = (
    f"{'batches, rule':<24} {'items':>6} {'wrong':>6} {'flags':>6} {'prec':>6} {'recall':>6}"
    f" {'with f':>6} {'ratio':>6} {'lost/1':>6}  wrong/flagged by rule"
)


def judge(name: str, vectors: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> dict[str, Tally]:
    classes, truth = np.unique(labels, return_inverse=True)
    counts = ", ".join(f"{c} {n}" for c, n in zip(classes, np.bincount(truth), strict=True))
    print(f"\n{name}: {len(truth)} items, {len(classes)} classes ({counts})", flush=True)
    rules: dict[str, Rule] = {"before": baseline_flags, "now": flag_batch}
    tallies: dict[str, Tally] = {}
    ceiling = Ceiling()
    ids = np.arange(len(vectors), dtype=np.int64)
    for share in (float(s) for s in args.shares.split(",")):
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, round(share * 1000)])
            labeled = np.zeros(len(truth), bool)
            labeled[rng.choice(len(truth), size=max(2, round(share * len(truth))), replace=False)] = True
            current = {int(i): frozenset({int(truth[i])}) for i in np.flatnonzero(labeled)}
            spread = None
            if args.ceiling:
                rows = np.flatnonzero(labeled)
                spread = label_spreading(vectors, rows, truth[rows], int(truth.max()) + 1)
            for batch in batches_of(vectors, truth, labeled, rng, args):
                for rule_name, rule in rules.items():
                    flags = rule(
                        [int(r) for r in batch.item_rows],
                        batch.labels,
                        ids,
                        vectors,
                        current,
                        mads=args.mads,
                        neighbours=args.neighbours,
                    )
                    for key in (f"{batch.kind}, {rule_name}", f"all, {rule_name}"):
                        tallies.setdefault(key, Tally()).add(batch, truth, flags)
                    if spread is not None and rule_name == "now" and None not in batch.labels:
                        wrong = truth[batch.item_rows] != np.asarray(batch.labels)
                        ceiling.add(
                            wrong, ceiling_scores(batch, flags, vectors, current, spread, args.neighbours)
                        )
                        for key in (f"{batch.kind}, spreading", "all, spreading"):
                            tallies.setdefault(key, Tally()).add(batch, truth, spreading_flags(batch, spread))
    print(HEADER)
    for key in sorted(tallies, key=lambda k: (k.startswith("all"), k)):
        print(tallies[key].line(key))
    if args.ceiling:
        print(
            f"{name}, ceiling (all batches): per score, the best ratio any threshold reaches at <= 1 right\n"
            "item lost per wrong caught, the threshold chosen on this set's truth (a bound, not a rule)"
        )
        print("\n".join(ceiling.lines()))
    return tallies


def main(argv: list[str]) -> None:
    args = parse(argv)
    sets = labeled_sets(args)
    print(
        f"labeled shares {args.shares}, {args.seeds} seeds each; real sets: PCA ({COMPONENTS}) of log\n"
        f"pixels at {SIZE} px; demo: standardised azimuthal descriptors. wrong: share of batch items whose\n"
        "class is wrong; flags: items flagged; prec/recall: of flags on wrong items; with f: wrong share\n"
        "written once flagged items are left out; ratio: with f / wrong (target <= 0.5); lost/1: right\n"
        "items left out per wrong item caught"
    )
    summary = []
    for name, load in sets:
        start = time.perf_counter()
        vectors, labels = load()
        print(f"{name}: read and described in {time.perf_counter() - start:.1f} s", flush=True)
        tallies = judge(name, vectors, labels, args)
        for rule in ("before", "now", "spreading"):
            if f"all, {rule}" in tallies:
                summary.append((name, rule, tallies[f"all, {rule}"]))
    print("\nsummary (all batches)")
    print(HEADER)
    for name, rule, t in summary:
        print(t.line(f"{name[:14]}, {rule}"))
