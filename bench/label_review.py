"""Label-error review on the demo with labels flipped on purpose: does the review find them?

Demo frames are rendered in memory (``backend.demo``, ground truth known) and described by the
azimuthal descriptors (``workers.scattering``); ``--flip`` (default 5%) of the labels are moved
to another class at random. Out-of-fold probabilities of the noisy labels come from a
logistic regression in 5 folds (what the vector classifier's ``oof.npz`` holds). Then:

- the review's ranking (``backend.guided.review``: the mean of 1 - out-of-fold self-confidence
  and the share of the 10 nearest labeled neighbours with another label): precision and
  recall of its top 10% (and top ``flip`` share) against the flipped items;
- the baseline: cleanlab's own ``find_label_issues`` on the same probabilities (its own count),
  and its self-confidence ranking alone at the same cut.

``python -m bench label_review --count 400 --flip 0.05`` (about 3 minutes on 2 CPU cores).
Target: recall >= 0.8 at precision >= 0.5 in the top 10%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from backend.demo import class_sequence, render_image
from backend.guided.review import neighbour_disagreement, rank_suspects
from workers.scattering import descriptor


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.label_review", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400, help="demo frames")
    parser.add_argument("--size", type=int, default=256, help="pixels a side")
    parser.add_argument("--flip", type=float, default=0.05, help="share of labels flipped on purpose")
    parser.add_argument("--neighbours", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def flip_labels(labels: np.ndarray, share: float, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, the flipped rows): each flipped label moves to another class at random."""
    rng = np.random.default_rng([seed, 0xF11])
    rows = np.sort(rng.choice(len(labels), size=round(share * len(labels)), replace=False))
    noisy = labels.copy()
    noisy[rows] = (labels[rows] + rng.integers(1, classes, size=len(rows))) % classes
    return noisy, rows


def out_of_fold(features: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(model, features, labels, cv=folds, method="predict_proba")


def precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = len(np.intersect1d(found, truth))
    return (hits / len(found) if len(found) else 0.0), (hits / len(truth) if len(truth) else 0.0)


def main(argv: list[str]) -> None:
    from cleanlab.filter import find_label_issues

    args = parse(argv)
    names = np.asarray(class_sequence(args.count, args.seed))
    classes = sorted(set(names.tolist()))
    truth = np.asarray([classes.index(n) for n in names])
    start = time.perf_counter()
    features = np.stack(
        [descriptor(render_image(i, str(names[i]), args.size, args.seed))[0] for i in range(args.count)]
    )
    print(
        f"described {args.count} demo frames ({len(classes)} classes) in {time.perf_counter() - start:.1f} s"
    )
    noisy, flipped = flip_labels(truth, args.flip, len(classes), args.seed)
    oof = out_of_fold(features, noisy, args.seed)
    accuracy = float(np.mean(oof.argmax(1) == truth))
    print(f"flipped {len(flipped)} of {args.count} labels; out-of-fold accuracy (vs. truth) {accuracy:.3f}")

    confident = 1.0 - oof[np.arange(len(noisy)), noisy]
    scaled = (features - features.mean(0)) / np.maximum(features.std(0), 1e-6)
    disagreement, _ = neighbour_disagreement(noisy, scaled, args.neighbours)
    combined = rank_suspects(confident, disagreement)
    rows = []
    for share in (args.flip, 0.10):
        cut = round(share * args.count)
        for name, score in (
            ("review (confident learning + neighbours)", combined),
            ("self-confidence alone", confident),
            ("neighbours alone", disagreement),
        ):
            top = np.argsort(-score, kind="stable")[:cut]
            p, r = precision_recall(top, flipped)
            rows.append((f"{name}, top {share:.0%} ({cut})", p, r))
    issues = np.nonzero(find_label_issues(noisy, oof, filter_by="prune_by_noise_rate"))[0]
    p, r = precision_recall(issues, flipped)
    rows.append((f"cleanlab find_label_issues ({len(issues)} flagged)", p, r))
    print(f"{'suspects':<58} {'precision':>9} {'recall':>7}")
    for name, p, r in rows:
        print(f"{name:<58} {p:>9.3f} {r:>7.3f}")
    ours = rows[3]  # the review at the top 10%
    ok = ours[2] >= 0.8 and ours[1] >= 0.5
    print(f"target (top 10%: recall >= 0.8 at precision >= 0.5): {'OK' if ok else 'MISSED'}")
