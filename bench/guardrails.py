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
    ids = np.arange(len(vectors), dtype=np.int64)
    for share in (float(s) for s in args.shares.split(",")):
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, round(share * 1000)])
            labeled = np.zeros(len(truth), bool)
            labeled[rng.choice(len(truth), size=max(2, round(share * len(truth))), replace=False)] = True
            current = {int(i): frozenset({int(truth[i])}) for i in np.flatnonzero(labeled)}
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
    print(HEADER)
    for key in sorted(tallies, key=lambda k: (k.startswith("all"), k)):
        print(tallies[key].line(key))
    return tallies


def main(argv: list[str]) -> None:
    args = parse(argv)
    sets: list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = []
    if args.demo_count:
        sets.append((f"demo ({args.demo_count})", lambda: demo_set(args.demo_count)))
    for folder, truth in zip(args.folder, args.truth, strict=True):
        name = Path(folder).parent.name or folder
        sets.append((name, lambda f=folder, t=truth: folder_set(Path(f), Path(t), args.limit)))
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
        for rule in ("before", "now"):
            t = tallies[f"all, {rule}"]
            summary.append((name, rule, t))
    print("\nsummary (all batches)")
    print(HEADER)
    for name, rule, t in summary:
        print(t.line(f"{name[:14]}, {rule}"))
