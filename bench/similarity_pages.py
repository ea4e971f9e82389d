"""Similarity pages one after another, their promises against what they held, with and without
what earlier pages held scaling the next ones (decision 0030: measured here, not taken).

A person who labels by similarity pages before any classifier, as the walks on real cells and
digits did: the items nearest k-means centres labeled first (the queue's first "label these"),
then, page after page, the queue's best similarity page (``next_actions.similarity_pages``, the
product's code, ranked by expected labels per action) read whole: its right tiles kept, its wrong
ones labeled in place with their own class (decision 0019) and rejected for the page's class.
The same start, the same sets, the same seeds, once with the factor from the pages accepted so
far ("scaled": per class, tiles held over tiles promised, pulled towards that ratio over every
class's pages, itself pulled towards 1; ``promise_scales``) and once without ("plain", the
product's way); each way's own
pages are judged (the runs part once a promise differs). Printed per set: pages, mean absolute
gap (promised - held) per page, mean signed gap (positive: over-promised), pages over-promised
by more than 0.10, and the labels the pages gave per action (a page: one click, a wrong tile:
one key).

``python -m bench similarity_pages [--folder DIR --truth CSV]... [--pages 12] [--seeds 3]``
(the demo rendered in memory, azimuthal descriptors; real sets as PCA of log pixels, as ``bench
guardrails`` reads them; no database, no jobs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backend.guided import next_actions
from backend.guided import suggest_math as sm
from bench.guardrails import labeled_sets

ONE_BY_ONE = 10  # next_actions.LABEL_ONE_BY_ONE: the k-means start
SCALE_PRIOR_ITEMS = 8.0  # pseudo-items at the pooled ratio a class's own pages are weighed against
POOLED_PRIOR_ITEMS = 16.0  # the pooled ratio's own pseudo-items at "held what it promised"


@dataclass(frozen=True)
class PageOutcome:
    """One page read: its class, what it promised, the tiles right and wrong."""

    label_id: int
    promised: float
    right: int
    wrong: int


def promise_scales(outcomes: list[PageOutcome]) -> Callable[[int], float]:
    """Per class, the factor on its next page's figures: tiles its pages held over tiles they
    promised, pulled towards the same ratio over every class's pages (which a class without a page
    takes), itself pulled towards 1."""
    if not outcomes:
        return lambda _label_id: 1.0
    held_all = sum(o.right for o in outcomes)
    expected_all = sum(o.promised * (o.right + o.wrong) for o in outcomes)
    pooled = (held_all + POOLED_PRIOR_ITEMS) / (expected_all + POOLED_PRIOR_ITEMS)
    scales = {}
    for label_id in {o.label_id for o in outcomes}:
        mine = [o for o in outcomes if o.label_id == label_id]
        held = sum(o.right for o in mine)
        expected = sum(o.promised * (o.right + o.wrong) for o in mine)
        scales[label_id] = (held + SCALE_PRIOR_ITEMS * pooled) / (expected + SCALE_PRIOR_ITEMS)
    return lambda label_id: scales.get(label_id, pooled)


@dataclass
class Tally:
    pages: int = 0
    absolute: float = 0.0
    signed: float = 0.0
    over: int = 0  # promised more than 0.10 above what it held
    labels: int = 0
    actions: int = 0

    def add(self, promised: float, held: float, labels: int, actions: int) -> None:
        self.pages += 1
        self.absolute += abs(promised - held)
        self.signed += promised - held
        self.over += int(promised - held > 0.10)
        self.labels += labels
        self.actions += actions

    def line(self, name: str) -> str:
        if not self.pages:
            return f"{name:<34} no page"
        return (
            f"{name:<34} {self.pages:>5} {self.absolute / self.pages:>7.3f} {self.signed / self.pages:>+8.3f}"
            f" {self.over:>5} {self.labels / max(self.actions, 1):>8.2f}"
        )


HEADER = f"{'set, way':<34} {'pages':>5} {'gap':>7} {'signed':>8} {'over':>5} {'l/action':>8}"


def run(vectors: np.ndarray, truth: np.ndarray, seed: int, pages: int, scaled: bool, tally: Tally) -> None:
    n = len(truth)
    ids = np.arange(n, dtype=np.int64)
    unit = sm.unit(vectors)
    labeled = np.zeros(n, bool)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, min(n, sm.SAMPLE), replace=False))
    labeled[sample[sm.k_means_centres(vectors[sample], ONE_BY_ONE, seed=seed)]] = True
    rejected: dict[int, set[int]] = {}
    outcomes: list[PageOutcome] = []
    for _ in range(pages):
        rows = np.flatnonzero(labeled)
        classes = set(truth[rows].tolist())
        found = next_actions.similarity_pages(
            ids,
            unit,
            ~labeled,
            (rows, truth[rows].astype(np.int64)),
            classes,
            rejected,
            None,
            None,
            promise_scales(outcomes) if scaled else None,
        )
        if not found:
            return
        page = max(found, key=lambda b: b.cut.expected_labels / b.cut.expected_actions)
        items = np.asarray(page.item_ids)
        right = truth[items] == page.label_id
        held, promised = float(right.mean()), float(page.cut.precision)
        wrong = int((~right).sum())
        tally.add(promised, held, len(items), 1 + wrong)
        labeled[items] = True  # the right ones kept, the wrong ones labeled in place
        rejected.setdefault(page.label_id, set()).update(int(i) for i in items[~right])
        outcomes.append(PageOutcome(page.label_id, promised, int(right.sum()), wrong))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench similarity_pages", description=__doc__)
    parser.add_argument("--folder", action="append", default=[], help="a real set's image folder")
    parser.add_argument("--truth", action="append", default=[], help="its path,label CSV")
    parser.add_argument("--limit", type=int, default=1000, help="items per real set at most (seeded sample)")
    parser.add_argument("--demo-count", type=int, default=600, help="demo frames (0: no demo)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per set (k-means seed)")
    parser.add_argument("--pages", type=int, default=12, help="similarity pages per run at most")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    sets = labeled_sets(args)
    print(f"{args.seeds} seeds per set, up to {args.pages} similarity pages each, no classifier")
    print(HEADER)
    for name, load in sets:
        start = time.perf_counter()
        vectors, labels = load()
        truth = np.unique(labels, return_inverse=True)[1].astype(np.int64)
        tallies = {way: Tally() for way in ("plain", "scaled")}
        for seed in range(args.seeds):
            for way, tally in tallies.items():
                run(vectors, truth, seed, args.pages, way == "scaled", tally)
        for way, tally in tallies.items():
            print(tally.line(f"{name[:22]}, {way}"))
        print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)
