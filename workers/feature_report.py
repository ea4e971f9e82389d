"""Worker side of "feature-report": how well each feature model's vectors separate the labels.

Two cross-validated scores per model, on the same stratified folds: kNN accuracy with cosine
similarity (what similarity pages rank by) and linear-probe accuracy (a standardised logistic
regression: what a classifier head on the vectors can do), overall and per class. A model's score
is the mean of the two accuracies over the labeled items as they come (each item counts the same:
what a batch or a page gains is its items, and most items are of the frequent classes); the
balanced accuracies (each class the same) and the per-class figures are reported beside it, so a
rare class a model cannot find still shows (decision 0022). The result is the job's summary
(``report``) and report.json.

Each model is scored twice: its vectors without and with the absolute-intensity descriptors
(``workers.intensity``) appended. The descriptors are computed once per scored item, from the raw
pixels, and concatenated to every model's saved vectors here (a model whose inference appended
them already is scored with its own block, and without it by dropping the block). The other
variant than the vectors hold is chosen where it scores at least ``INTENSITY_MARGIN`` better and
its lead is more than chance (``clear_lead``), as a model replaces the train page's first choice
only then (``choose``): the model's score is its chosen variant's, and ``infer_intensity`` says
how to run the best model's inference so that the pages' vectors are that variant.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from backend.algorithms import offers_intensity, suggestion_rank
from backend.feature_report.report import infer_intensity
from backend.storage import npy
from workers.algorithms.classifier_data import fold_of
from workers.context import JobContext
from workers.intensity import INTENSITY_JSON, NAMES, intensity_of, standardise

INTENSITY_MARGIN = 0.01  # the descriptors must earn their place: ties and noise keep the vectors plain
INTENSITY_WEIGHT = 0.5  # as the extractors' default ``intensity_weight``
FIGURES = ("knn_accuracy", "linear_accuracy", "knn_balanced", "linear_balanced")
# how many standard errors of its discordant predictions a model's lead over the features in use
# must exceed before the report chooses it: 10 diverse labels scored as 4 items made a 100%
# against 75% "lead" that sent the first similarity page of the digits to the wrong features
# (one-sided 95%, as the stopping estimate's bound; z = 2 kept the cell cycle's encoder through a
# 96-item similarity page that held 0.27 of its class, decision 0023; 1.645 did worse at stop 30,
# before a lead was weighed against the features in use, decision 0009 addendum)
LEAD_Z = 1.645


def _labeled(ctx: JobContext) -> tuple[dict[int, int], list[str]]:
    """Single-label items -> class id, dropping classes too small to cross-validate; notes."""
    notes = []
    single = {item: ids[0] for item, ids in ctx.labels.items() if len(ids) == 1}
    if len(single) < len(ctx.labels):
        notes.append(f"{len(ctx.labels) - len(single)} items with several labels left out")
    counts = Counter(single.values())
    names = {c["id"]: c["name"] for c in ctx.classes}
    small = sorted(names.get(c, str(c)) for c, n in counts.items() if n < 2)
    if small:
        notes.append(f"classes with one labeled item left out: {', '.join(small)}")
    return {item: c for item, c in single.items() if counts[c] >= 2}, notes


def _sample(items: np.ndarray, labels: np.ndarray, most: int, seed: int) -> np.ndarray:
    """Row indices of a stratified sample of at most ``most`` rows (all when fewer)."""
    if len(items) <= most:
        return np.arange(len(items))
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(2, round(len(rows) * most / len(items)))
        keep.extend(rng.choice(rows, min(take, len(rows)), replace=False).tolist())
    return np.asarray(sorted(keep))


def report_folds(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) of each fold: the classifier head's own stratified folds, small classes
    dealt round them, so that a class of two labeled items does not cut every model's training share
    to half (k-fold with k = the smallest class did) and the scores measure what a head trained on
    most labels does. Folds left empty (fewer items than folds) are dropped."""
    fold, _ = fold_of(labels.tolist(), folds, seed)  # every class has >= 2 items (``_labeled``)
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds) if (fold == k).any()]


def score_vectors(
    vectors: np.ndarray, labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], neighbours: int
) -> dict[str, np.ndarray]:
    """Cross-validated predictions of kNN (cosine, majority of ``neighbours``) and a linear probe."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    vectors = np.asarray(vectors, np.float64)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    classes = np.unique(labels)
    knn = np.empty(len(labels), labels.dtype)
    linear = np.empty(len(labels), labels.dtype)
    for train, test in folds:
        similarity = unit[test] @ unit[train].T
        k = min(neighbours, len(train))
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(test), len(classes)))
        index = np.searchsorted(classes, labels[train][nearest])
        weights = np.take_along_axis(similarity, nearest, axis=1) + 1e-6  # ties go to the nearer
        np.add.at(votes, (np.arange(len(test))[:, None].repeat(k, 1), index), weights)
        knn[test] = classes[votes.argmax(axis=1)]
        scaler = StandardScaler().fit(vectors[train])
        probe = LogisticRegression(max_iter=300, C=1.0)
        probe.fit(scaler.transform(vectors[train]), labels[train])
        linear[test] = probe.predict(scaler.transform(vectors[test]))
    return {"knn": knn, "linear": linear}


def _summaries(truth: np.ndarray, predicted: np.ndarray, class_ids: list[int]) -> tuple[float, float, dict]:
    per_class = {c: float((predicted[truth == c] == c).mean()) for c in class_ids}
    return float((predicted == truth).mean()), float(np.mean(list(per_class.values()))), per_class


def scores_of(
    vectors: np.ndarray,
    labels: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    neighbours: int,
    class_ids: list[int],
) -> dict[str, Any]:
    """Accuracy and balanced accuracy of kNN and the linear probe, per class too, and the score (the
    mean of the two accuracies: the share of items right, as the right predictions the lead test
    counts)."""
    predicted = score_vectors(vectors, labels, folds, neighbours)
    knn, knn_bal, knn_class = _summaries(labels, predicted["knn"], class_ids)
    lin, lin_bal, lin_class = _summaries(labels, predicted["linear"], class_ids)
    return {
        "knn_accuracy": knn,
        "linear_accuracy": lin,
        "knn_balanced": knn_bal,
        "linear_balanced": lin_bal,
        "score": (knn + lin) / 2,
        "knn_class": knn_class,
        "linear_class": lin_class,
        "right": np.concatenate([predicted["knn"] == labels, predicted["linear"] == labels]),
    }


def clear_lead(challenger: np.ndarray, incumbent: np.ndarray) -> bool:
    """Whether the challenger's right predictions (per item and scorer) beat the incumbent's by
    more than chance: a sign test on the discordant ones (one right, the other wrong), one pseudo-
    count added so that two items both right for one and wrong for the other are no proof."""
    wins = int(np.sum(challenger & ~incumbent))
    losses = int(np.sum(~challenger & incumbent))
    return wins - losses > LEAD_Z * math.sqrt(wins + losses + 1)


def choose(scored: list[dict[str, Any]], right: dict[int, np.ndarray]) -> tuple[list[dict[str, Any]], str]:
    """The models best first, and why the first: the top scorer, unless the labels cannot tell it
    from the features in use (the newest report's choice, ``in_use``; before any report the train
    page's first choice: highest suggestion rank, newest among equals), which are then kept in
    front; the second value is that note ("" when the top scorer leads clearly)."""
    if len(scored) < 2:
        return scored, ""
    in_use = next((r for r in scored if r.get("in_use")), None)
    prior = in_use or max(scored, key=lambda r: (r.get("suggestion_rank", 0), r["model_id"]))
    top = scored[0]
    if top is prior or clear_lead(right[top["model_id"]], right[prior["model_id"]]):
        return scored, ""
    why = "the features in use" if in_use is not None else "the train page's first choice"
    note = (
        f" {top['name']} scores higher ({top['score']:.0%} against {prior['score']:.0%}), but on these "
        f"labels the lead is within chance: {prior['name']}, {why}, stays until more labels tell "
        "them apart."
    )
    return [prior, *(r for r in scored if r is not prior)], note


def appended_block(directory: Path, length: int) -> int:
    """How many of an inference's last columns are the appended intensity block (0: none). Read
    from its ``intensity.json``: inferences of older code appended fewer descriptors than now."""
    path = directory / INTENSITY_JSON
    if not path.is_file():
        return 0
    appended = len(json.loads(path.read_text()).get("names", NAMES))
    return appended if length > appended else 0


def intensity_variants(
    data: np.ndarray, descriptors: np.ndarray | None, in_vectors: int
) -> dict[str, np.ndarray]:
    """The vectors without and with the intensity block. ``in_vectors``: the last this many
    columns are the block already (the model's inference appended it); 0: they are not."""
    if in_vectors:
        return {"without": data[:, :-in_vectors], "with": data}
    variants = {"without": data}
    if descriptors is not None:
        block, _ = standardise(descriptors, data, INTENSITY_WEIGHT)
        variants["with"] = np.concatenate([data, block], axis=1)
    return variants


def choose_intensity(without: dict[str, Any], with_: dict[str, Any] | None, in_vectors: bool = False) -> bool:
    """Whether the variant with the descriptors is the one to use. The variant the vectors hold
    now (without, unless an inference appended them) stays unless the other scores at least the
    margin better and its lead is more than chance (``clear_lead``: seven labeled digits once
    "chose" the descriptors and cost an inference)."""
    if with_ is None:
        return False
    current, other = (with_, without) if in_vectors else (without, with_)
    switch = other["score"] >= current["score"] + INTENSITY_MARGIN and (
        "right" not in other or clear_lead(other["right"], current["right"])
    )
    return in_vectors != switch


def _variant_figures(scores: dict[str, Any]) -> dict[str, float]:
    return {k: scores[k] for k in (*FIGURES, "score")}


def _pair(figures: dict[str, Any]) -> str:
    """kNN and linear-probe accuracy, as the explanation names them."""
    return f"kNN {figures['knn_accuracy']:.0%}, linear {figures['linear_accuracy']:.0%}"


def explain(
    models: list[dict[str, Any]],
    items: int,
    folds: int,
    kept: str = "",
    skipped: list[dict[str, Any]] | None = None,
) -> str:
    """One line: which model and why (its numbers, and the runner-up's), and whether the absolute
    intensity descriptors are part of the choice (the other variant's numbers); ``kept``: why a
    model that does not score highest is first (``choose``); ``skipped``: the models with vectors
    that could not be scored, named when none could."""
    if not models and skipped:
        reasons = "; ".join(f"{m['name']}: {m['skipped']}" for m in skipped[:5])
        return (
            f"No feature model could be scored ({reasons}): train another feature extractor and run "
            "its inference."
        )
    if not models:
        return "No feature model with vectors to compare: train a feature extractor and run its inference."
    best = models[0]
    verb = "is kept" if kept else "separates the current labels best"
    line = (
        f"{best['name']} ({best['algorithm']}) {verb}: accuracy {_pair(best)} over {folds} folds of "
        f"{items} labeled items (balanced: kNN {best['knn_balanced']:.0%}, "
        f"linear {best['linear_balanced']:.0%})"
    )
    intensity = best.get("intensity") or {}
    other = intensity.get("without") if best.get("with_intensity") else intensity.get("with")
    if best.get("with_intensity") and other:
        line += f", with absolute intensity appended (without: {_pair(other)}: brightness carries the class)"
    elif other:
        line += f", without intensity descriptors (with them: {_pair(other)})"
    if len(models) > 1:
        runner_up = models[1]
        line += f" (next: {runner_up['name']}, {_pair(runner_up)})"
    line += "." + kept
    advice = infer_intensity(best)
    if advice == "on":
        line += " Run its inference with intensity on so the pages use it."
    elif advice == "off":
        line += " Run its inference with intensity off so the pages use the better vectors."
    return line


def _descriptors(ctx: JobContext, items: np.ndarray, notes: list[str]) -> np.ndarray | None:
    """Intensity descriptors of the scored items, read once for every model (None: some could not
    be read, so the comparison is left out)."""
    by_id = {ref.item_id: ref for ref in ctx.items}
    refs = [by_id[int(i)] for i in items if int(i) in by_id]
    found = intensity_of(ctx, refs) if len(refs) == len(items) else {}
    if len(found) < len(items):
        notes.append("intensity descriptors left out: some labeled items could not be read")
        return None
    return np.stack([found[int(i)] for i in items]).astype(np.float64)


def feature_report(ctx: JobContext) -> None:
    opts = ctx.options
    by_item, notes = _labeled(ctx)
    class_ids = sorted(set(by_item.values()))
    if len(class_ids) < 2:
        raise ValueError(
            "the feature report needs labeled items of at least two classes with two items each; "
            f"the labels have {len(class_ids)} such class(es): label more first"
        )
    if not ctx.inputs:
        raise ValueError(
            "no feature model has vectors on this dataset: train one and run its inference first"
        )
    names = {c["id"]: c["name"] for c in ctx.classes}
    items = np.asarray(sorted(by_item), np.int64)
    labels = np.asarray([by_item[int(i)] for i in items], np.int64)
    keep = _sample(items, labels, opts["max_items"], opts["seed"])
    if len(keep) < len(items):
        notes.append(f"scored on a stratified sample of {len(keep)} of {len(items)} labeled items")
    items, labels = items[keep], labels[keep]
    folds = report_folds(labels, opts["folds"], opts["seed"])
    n_folds = len(folds)
    descriptors = _descriptors(ctx, items, notes)
    results = []
    right: dict[int, np.ndarray] = {}  # per model: its chosen variant's right predictions
    for done, source in enumerate(ctx.inputs):
        ctx.check_canceled()
        ctx.progress(done, len(ctx.inputs))
        directory = ctx.settings.artifact_dir / source["dir"]
        vectors = npy.load(directory / "vectors.npy", mmap_mode="r")
        row_of = {int(i): r for r, i in enumerate(npy.load(directory / "item_ids.npy"))}
        present = np.asarray([int(i) in row_of for i in items])
        if present.sum() < len(items):
            ctx.log(f"model {source['model_id']}: {len(items) - present.sum()} labeled items have no vector")
        if not present.all():
            results.append(
                {**source, "skipped": "not every labeled item has a vector: run its inference again"}
            )
            continue
        data = np.asarray(vectors[[row_of[int(i)] for i in items]], np.float32)
        if not np.isfinite(data).all():
            results.append({**source, "skipped": "its vectors hold NaN or inf"})
            continue
        if np.all(data == data[0]):  # scored, it would tie with always answering the largest class
            ctx.log(f"{source['name']}: every labeled item has the same vector: not scored")
            results.append(
                {**source, "skipped": "every labeled item has the same vector: it tells no class apart"}
            )
            continue
        in_vectors = appended_block(directory, data.shape[1])
        offered = descriptors if offers_intensity(source["algorithm"]) else None  # intensity: is them
        variants = intensity_variants(data, offered, in_vectors)
        scored_variants = {
            name: scores_of(v, labels, folds, opts["neighbours"], class_ids) for name, v in variants.items()
        }
        plain, plus = scored_variants["without"], scored_variants.get("with")
        with_intensity = choose_intensity(plain, plus, bool(in_vectors))
        chosen = plus if with_intensity and plus is not None else plain
        right[source["model_id"]] = chosen["right"]
        results.append(
            {
                **source,
                "suggestion_rank": suggestion_rank(source["algorithm"]),
                "dimensions": int(variants["with" if with_intensity else "without"].shape[1]),
                **{k: chosen[k] for k in FIGURES},
                "score": chosen["score"],
                "with_intensity": with_intensity,
                "intensity_in_vectors": bool(in_vectors),
                "intensity": {name: _variant_figures(v) for name, v in scored_variants.items()},
                "per_class": [
                    {
                        "label_id": c,
                        "name": names.get(c, str(c)),
                        "count": int((labels == c).sum()),
                        "knn": chosen["knn_class"][c],
                        "linear": chosen["linear_class"][c],
                    }
                    for c in class_ids
                ],
            }
        )
        if plus is not None:
            ctx.log(
                f"{source['name']}: score {plain['score']:.3f} without intensity, {plus['score']:.3f} with: "
                f"{'with' if with_intensity else 'without'} chosen"
            )
        ctx.log(
            f"{source['name']}: kNN {chosen['knn_accuracy']:.3f}, linear {chosen['linear_accuracy']:.3f} "
            f"(balanced {chosen['knn_balanced']:.3f}, {chosen['linear_balanced']:.3f})"
        )
    scored = sorted((r for r in results if "score" in r), key=lambda r: (-r["score"], -r["model_id"]))
    scored, kept = choose(scored, right)
    skipped = [r for r in results if "skipped" in r]
    report = {
        "labeled_items": len(items),
        "seen_labels": len(ctx.labels),
        "folds": n_folds,
        "classes": [
            {"label_id": c, "name": names.get(c, str(c)), "count": int((labels == c).sum())}
            for c in class_ids
        ],
        "models": scored + skipped,
        "best_model_id": scored[0]["model_id"] if scored else None,
        "infer_intensity": infer_intensity(scored[0] if scored else None),
        "explanation": explain(scored, len(items), n_folds, kept, skipped),
        "notes": notes,
    }
    (ctx.artifact_dir / "report.json").write_text(json.dumps(report))
    ctx.summary.update(report)
    ctx.progress(len(ctx.inputs), len(ctx.inputs))
    ctx.log(str(report["explanation"]))
