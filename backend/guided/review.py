"""Suspected wrong labels, ranked: confident learning beside latent-space neighbour disagreement.

Two witnesses per labeled item, each in [0, 1], higher = more suspect:

- *confident learning*: 1 - cleanlab's self-confidence (the held-out probability of the item's
  given label), from ``label_issues.npz`` written at training time by the worker (cleanlab needs
  scikit-learn, which the web process never imports); only items the model did not train on
  have it;
- *neighbours*: the share of the item's ``k`` nearest labeled items (cosine, in the model's
  feature vectors) that carry another class.

The score is their mean where both exist, else the one there is. An item relabeled since the
model trained loses its confident-learning witness (it judged the old label).

A model judges only the labels it trained on: an item labeled or relabeled after its label
snapshot, its label now not the one it trained on (``unjudged``: ``trust.SinceTraining.relabeled``),
is no suspect of it, though it stays a
neighbour of the others. Its only witness would be the neighbours in the model's own hidden-layer
features, which group items by the class the model predicts: the very class a person just
overruled when correcting the model's guesses (decision 0011, addendum). Retraining judges them.
Items reviewed since the model became ready are passed as ``unjudged`` too: judged, still
neighbours (a confirmed label is the surest evidence about the items around it).

``rank_suspects`` and ``neighbour_disagreement`` are plain numpy, shared with ``bench/label_review.py``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.storage import npy

LABEL_ISSUES = "label_issues.npz"
CHUNK = 256
LABEL_NOISE_PRIOR = 0.05  # share of wrong labels a person writes, before any review says more
HIT_PRIOR, HIT_WEIGHT = 0.25, 4.0  # share of suspects found wrong, before reviews say more (pseudo-counts)


@dataclass
class Suspect:
    item_id: int
    label_id: int  # the current label under suspicion
    score: float
    confident_learning: float | None  # 1 - self-confidence; None when not held out
    cleanlab_issue: bool
    neighbour_disagreement: float | None
    suggested_label_id: int | None  # the neighbours' majority class, when it differs


@dataclass
class LabelIssues:
    item_ids: np.ndarray
    given_label_ids: np.ndarray
    label_quality: np.ndarray
    is_issue: np.ndarray


def load_label_issues(model_dir: Path) -> LabelIssues | None:
    path = model_dir / LABEL_ISSUES
    if not path.is_file():
        return None
    data = npy.load_archive(path)
    return LabelIssues(
        np.asarray(data["item_ids"], np.int64),
        np.asarray(data["given_label_ids"], np.int64),
        np.asarray(data["label_quality"], np.float32),
        np.asarray(data["is_issue"], bool),
    )


def neighbour_disagreement(
    labels: np.ndarray, vectors: np.ndarray, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(share of each row's k nearest other rows with another label, their majority label)."""
    labels = np.asarray(labels, np.int64)
    unit = np.asarray(vectors, np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    take = min(k, len(labels) - 1)
    share = np.zeros(len(labels), np.float32)
    majority = labels.copy()
    if take < 1:
        return share, majority
    for start in range(0, len(labels), CHUNK):
        sims = unit[start : start + CHUNK] @ unit.T
        rows = np.arange(start, min(start + CHUNK, len(labels)))
        sims[np.arange(len(rows)), rows] = -np.inf
        nearest = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        neighbour_labels = labels[nearest]
        share[rows] = (neighbour_labels != labels[rows, None]).mean(axis=1)
        for r, row_labels in zip(rows, neighbour_labels, strict=True):
            values, counts = np.unique(row_labels, return_counts=True)
            majority[r] = values[counts.argmax()]
    return share, majority


def rank_suspects(confident: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Combined score per item: the mean of the witnesses present (NaN = absent), 0 without any."""
    stacked = np.vstack([confident, neighbours]).astype(np.float64)
    present = ~np.isnan(stacked)
    total = np.where(present, stacked, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def find_suspects(
    current: dict[int, int],
    issues: LabelIssues | None,
    vector_ids: np.ndarray | None,
    vectors: np.ndarray | None,
    *,
    neighbours: int = 10,
    min_score: float = 0.5,
    unjudged: Collection[int] = (),
) -> list[Suspect]:
    """Every single-labeled item (``current``: item -> label) whose score reaches ``min_score``,
    most suspect first; ``unjudged``: items the model did not train on with their label (labeled
    since its training), never suspects, only neighbours of the others."""
    ids = np.asarray(sorted(current), np.int64)
    labels = np.asarray([current[int(i)] for i in ids], np.int64)
    confident = np.full(len(ids), np.nan)
    cleanlab_issue = np.zeros(len(ids), bool)
    if issues is not None:
        position = {int(i): r for r, i in enumerate(ids)}
        for i, given, quality, flagged in zip(
            issues.item_ids, issues.given_label_ids, issues.label_quality, issues.is_issue, strict=True
        ):
            r = position.get(int(i))
            if r is not None and labels[r] == given:  # a relabeled item: cleanlab judged the old label
                confident[r] = 1.0 - float(quality)
                cleanlab_issue[r] = bool(flagged)
    disagreement = np.full(len(ids), np.nan)
    majority = labels.copy()
    if vector_ids is not None and vectors is not None and len(ids) > 1:
        row_of = {int(i): r for r, i in enumerate(np.asarray(vector_ids, np.int64))}
        have = np.asarray([int(i) in row_of for i in ids], bool)
        if have.sum() > 1:
            rows = [row_of[int(i)] for i in ids[have]]
            share, major = neighbour_disagreement(labels[have], np.asarray(vectors)[rows], neighbours)
            disagreement[have] = share
            majority[have] = major
    scores = rank_suspects(confident, disagreement)
    order = np.argsort(-scores, kind="stable")
    out = []
    skip = frozenset(int(i) for i in unjudged)

    def rounded(value: float) -> float | None:
        return None if np.isnan(value) else round(float(value), 4)

    for r in order:
        if (scores[r] < min_score and not cleanlab_issue[r]) or int(ids[r]) in skip:
            continue
        out.append(
            Suspect(
                item_id=int(ids[r]),
                label_id=int(labels[r]),
                score=round(float(scores[r]), 4),
                confident_learning=rounded(confident[r]),
                cleanlab_issue=bool(cleanlab_issue[r]),
                neighbour_disagreement=rounded(disagreement[r]),
                suggested_label_id=int(majority[r]) if majority[r] != labels[r] else None,
            )
        )
    return out


def review_hit_rate(fixed: int, kept: int) -> float:
    """The share of reviewed suspects found wrong: the reviews done so far (``fixed`` relabeled,
    ``kept`` confirmed), pulled towards ``HIT_PRIOR`` while they are few (a Beta mean)."""
    return (fixed + HIT_PRIOR * HIT_WEIGHT) / (fixed + kept + HIT_WEIGHT)


def wrong_probability(
    suspect: Suspect, noise: float = LABEL_NOISE_PRIOR, hit_rate: float = HIT_PRIOR
) -> float:
    """How likely the suspect's label is wrong, the person's label counted as evidence too.

    A witness (the held-out model's 1 - probability of the given label, else the neighbours'
    disagreement) is the chance that the item is of another class *before* anyone labeled it;
    a person who labels wrong with probability ``noise`` makes a wrong label that much rarer:
    P(wrong | label) = d * noise / (d * noise + (1 - d) * (1 - noise)) (Bayes). The score alone
    is a rank, not a probability: summed over 20 suspects of a well-labeled set it promised 19
    wrong labels where there were none (the study on MNIST). Capped at ``hit_rate``."""
    witness = suspect.confident_learning
    if witness is None:
        witness = suspect.neighbour_disagreement
    d = min(1.0, max(0.0, float(witness if witness is not None else suspect.score)))
    wrong = d * noise
    right = (1.0 - d) * (1.0 - noise)
    bayes = wrong / (wrong + right) if wrong + right > 0 else 0.0
    # an over-confident model makes its own mistakes look certain: never more than the share of
    # suspects that reviews found wrong (``review_hit_rate``)
    return min(bayes, hit_rate)
