"""Feature extractors on data nobody tuned for: retrieval and a linear probe, per extractor and data set.

For the demo (generated here) and each real set given as ``--folder DIR --truth CSV`` (``path,label``,
paths relative to DIR; the set is read in place through a dataset, never copied), every extractor
is trained and inferred through the real job pipeline, then scored against the truth:

- precision@10: the share of each item's 10 nearest cosine neighbours with its label (overall,
  and per label for the contrastive encoder);
- linear probe: logistic regression on standardised vectors from a stratified 10% of the labels
  (one item per class at least), accuracy on the other 90%, mean over three draws;

for raw pixels (the display transform at 32 px), PCA, the autoencoder, azimuthal features, the
intensity descriptors alone and the contrastive encoder, each without and with the absolute-
intensity descriptors (appended by ``workers.intensity``, the code the jobs run), and which of
the two the feature report would choose (``workers.feature_report``: cross-validated kNN and
linear probe with every label, on a stratified sample of ``--report-items``). Then the
contrastive job's epoch against a plain PyTorch loop of the same method (network, views, loss,
optimizer) on the same tensors.

Targets (issue 17): on the cell-cycle set the contrastive encoder at least 1.5x the best of raw
pixels and PCA in precision@10; on the digits 0.95 or more; on the demo at least the azimuthal
features' figure; epoch time ratio <= 1.15. Bounded for two shared cores::

    python -m bench features --epochs 15 \\
        --folder DATA/cellcycle/images --truth DATA/cellcycle/truth.csv --params augment_flips=true \\
        --folder DATA/digits/images --truth DATA/digits/truth.csv --params -

``--variant k=v,...`` (repeatable) scores the contrastive encoder again with those parameters on
every set, beside its defaults in the same run: how a default change is measured.
``--params`` (one per folder, ``-`` for none) sets the contrastive encoder's parameters for that
set: what a user states about the data (cells are flip-invariant; the default keeps orientation,
as digits need), not tuning.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from backend.datasets.refs import item_refs
from backend.demo import generate_demo, read_ground_truth
from bench._common import scratch_settings
from bench.autoencoder import Pipeline, _Reading, extra_params, pixels, precision_at_k

PROBE_SHARE = 0.10
PROBE_DRAWS = 3


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.features", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", action="append", default=[], help="a real set's image folder")
    parser.add_argument("--truth", action="append", default=[], help="its path,label CSV")
    parser.add_argument("--params", action="append", default=[], help="contrastive parameters per folder")
    parser.add_argument("--demo-count", type=int, default=600, help="demo images (0: no demo)")
    parser.add_argument("--demo-size", type=int, default=64, help="pixels a side of the demo images")
    parser.add_argument("--epochs", type=int, default=15, help="contrastive training epochs")
    parser.add_argument("--ae-epochs", type=int, default=10, help="autoencoder training epochs")
    parser.add_argument("--skip", action="append", default=[], help="an extractor left out (repeatable)")
    parser.add_argument("--demo-params", default="", help="contrastive parameters for the demo")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="also train the contrastive encoder with these parameters (k=v,...) on every set, "
        "scored beside its defaults in the same run (repeatable)",
    )
    parser.add_argument("--report-items", type=int, default=2000, help="items the report choice scores")
    parser.add_argument("--timing-count", type=int, default=1000, help="images of the timing run (0: skip)")
    parser.add_argument("--timing-epochs", type=int, default=3, help="epochs per timed run (first dropped)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if len(args.truth) != len(args.folder):
        parser.error("give one --truth per --folder")
    if args.params and len(args.params) != len(args.folder):
        parser.error("give one --params per --folder (- for none), or none at all")
    args.params = [("" if p == "-" else p) for p in args.params] or [""] * len(args.folder)
    return args


# ---- scores --------------------------------------------------------------------------------------


def probe_accuracy(vectors: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Logistic regression fitted on a stratified 10% (>= 1 per class), accuracy on the rest."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(1, round(len(rows) * PROBE_SHARE))
        chosen.extend(rng.choice(rows, size=min(take, len(rows) - 1) if len(rows) > 1 else 1, replace=False))
    train = np.zeros(len(labels), bool)
    train[chosen] = True
    scaler = StandardScaler().fit(vectors[train])
    model = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(vectors[train]), labels[train])
    return float(np.mean(model.predict(scaler.transform(vectors[~train])) == labels[~train]))


def by_label(vectors: np.ndarray, labels: np.ndarray, k: int = 10) -> dict[str, float]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    hits = np.mean(labels[nearest] == labels[:, None], axis=1)
    return {str(label): float(hits[labels == label].mean()) for label in np.unique(labels)}


def with_intensity(settings: Any, refs: dict, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The vectors with the intensity block appended, as ``append_intensity`` writes it (default weight)."""
    from workers.intensity import intensity_of, standardise

    found = intensity_of(_Reading(settings), [refs[int(i)] for i in ids])
    descriptors = np.stack([found[int(i)] for i in ids])
    block, _ = standardise(descriptors, vectors, weight=0.5)
    return np.concatenate([vectors, block], axis=1)


def report_choice(vectors: np.ndarray, plus: np.ndarray, labels: np.ndarray, most: int) -> dict[str, Any]:
    """The feature report's scores of both variants and its choice, on a stratified sample."""
    from workers.feature_report import _sample, choose_intensity, report_folds, scores_of

    codes = np.unique(labels, return_inverse=True)[1]
    rows = _sample(np.arange(len(codes)), codes, most, 0)
    codes = codes[rows]
    counts = np.bincount(codes)
    present = counts > 1  # the report leaves out classes with one labeled item
    rows, codes = rows[present[codes]], codes[present[codes]]
    folds = report_folds(codes, 5, 0)  # the report's folds (its default k and seed)
    class_ids = sorted(set(codes.tolist()))
    without = scores_of(vectors[rows], codes, folds, 5, class_ids)
    with_ = scores_of(plus[rows], codes, folds, 5, class_ids)
    return {"without": without["score"], "with": with_["score"], "chosen": choose_intensity(without, with_)}


# ---- one data set --------------------------------------------------------------------------------


def extractor_runs(contrastive: dict[str, Any], ae_epochs: int) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "pca": ("pca", {}),
        "autoencoder": ("autoencoder", {"epochs": ae_epochs, "image_height": 32, "image_width": 32}),
        "azimuthal": ("azimuthal", {"fit_items": 2000}),
        "intensity": ("intensity", {}),  # the descriptors alone ("+int" appends them once more)
        "contrastive": ("contrastive", contrastive),
    }


def vectors_of(pipe: Pipeline, dataset_id: int, algorithm: str, params: dict[str, Any]) -> tuple:
    from backend.algorithms import validate_parameters

    start = time.perf_counter()
    job = pipe.run(
        kind="train",
        dataset_id=dataset_id,
        algorithm=algorithm,
        parameters=validate_parameters(algorithm, params),
    )
    infer = pipe.run(kind="infer", model_id=job.model_id)
    directory = pipe.settings.artifact_dir / infer.outputs["dir"]
    seconds = time.perf_counter() - start
    return np.load(directory / "vectors.npy"), np.load(directory / "item_ids.npy"), seconds, job


def evaluate(pipe: Pipeline, name: str, folder: Path, truth: dict[str, str], args: Any, params: str) -> dict:
    dataset_id = pipe.dataset(folder, name)
    refs = pipe.call(item_refs, dataset_id)
    by_id = {ref.item_id: ref for ref in refs}
    label_of = {ref.item_id: truth.get(ref.uri, truth.get(Path(ref.uri).name)) for ref in refs}
    known = {i for i, label in label_of.items() if label is not None}
    print(f"\n{name}: {len(refs)} items, {len(known)} with a true label, "
          f"{len(set(label_of.values()) - {None})} classes", flush=True)  # fmt: skip
    raw, raw_ids = pixels(pipe.settings, refs, 32, {})
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {"raw pixels": (raw.reshape(len(raw), -1), raw_ids)}
    contrastive = {"epochs": args.epochs, **extra_params(params)}
    for label, (algorithm, run_params) in extractor_runs(contrastive, args.ae_epochs).items():
        if label in args.skip:
            continue
        vectors, ids, seconds, _ = vectors_of(pipe, dataset_id, algorithm, run_params)
        print(f"  {label:<12} trained and inferred in {seconds:6.1f} s, vectors of {vectors.shape[1]}")
        results[label] = (vectors, ids)
    for variant in [] if "contrastive" in args.skip else args.variant:
        run_params = {**contrastive, **extra_params(variant)}
        vectors, ids, seconds, _ = vectors_of(pipe, dataset_id, "contrastive", run_params)
        print(f"  contrastive {variant} trained and inferred in {seconds:6.1f} s")
        results[f"contrastive {variant}"] = (vectors, ids)
    scores: dict[str, dict[str, float]] = {}
    print(f"  {'features':<24} {'p@10':>6} {'probe':>6}   {'p@10 +int':>9} {'probe +int':>10}   "
          f"report score -int/+int: choice")  # fmt: skip
    for label, (vectors, ids) in results.items():
        keep = np.asarray([int(i) in known for i in ids], bool)
        vectors, ids = vectors[keep].astype(np.float64), ids[keep]
        vectors = vectors - vectors.mean(axis=0)  # raw pixels: cosine of deviations, as the others
        labels = np.asarray([label_of[int(i)] for i in ids])
        plus = with_intensity(pipe.settings, by_id, ids, vectors)
        row = {
            "p10": precision_at_k(vectors, labels),
            "probe": float(np.mean([probe_accuracy(vectors, labels, s) for s in range(PROBE_DRAWS)])),
            "p10_int": precision_at_k(plus, labels),
            "probe_int": float(np.mean([probe_accuracy(plus, labels, s) for s in range(PROBE_DRAWS)])),
        }
        choice = report_choice(vectors, plus, labels, args.report_items)
        row.update(report_without=choice["without"], report_with=choice["with"])
        scores[label] = row
        print(f"  {label:<24} {row['p10']:6.3f} {row['probe']:6.3f}   "
              f"{row['p10_int']:9.3f} {row['probe_int']:10.3f}   "
              f"{choice['without']:.3f}/{choice['with']:.3f}: "
              f"{'with intensity' if choice['chosen'] else 'without'}", flush=True)  # fmt: skip
        if label == "contrastive":
            per_label = by_label(plus, labels)
            text = ", ".join(f"{k} {v:.2f}" for k, v in per_label.items())
            print(f"    contrastive +int p@10 by label: {text}")
    return scores


def targets(name: str, scores: dict[str, dict[str, float]]) -> None:
    if "contrastive" not in scores:  # --skip contrastive: no target to judge
        return
    ours = max(scores["contrastive"]["p10"], scores["contrastive"]["p10_int"])
    if "cell" in name:
        base = max(scores["raw pixels"]["p10"], scores["pca"]["p10"])
        verdict = "OK" if ours >= 1.5 * base else "MISSED"
        print(f"  target: contrastive p@10 {ours:.3f} >= 1.5 x {base:.3f} (best of pixels, PCA)  {verdict}")
    elif "mnist" in name or "digit" in name:
        print(f"  target: contrastive p@10 {ours:.3f} >= 0.95  {'OK' if ours >= 0.95 else 'MISSED'}")
    elif name == "demo":
        base = scores["azimuthal"]["p10"]
        verdict = "OK" if ours >= base else "MISSED"
        print(f"  target: contrastive p@10 {ours:.3f} >= azimuthal {base:.3f}  {verdict}")


# ---- speed ---------------------------------------------------------------------------------------


def plain_epochs(images: np.ndarray, params: dict[str, Any], epochs: int, device: str) -> list[float]:
    """The minimal loop of the same method: network, views, NT-Xent, AdamW; seconds per epoch."""
    import torch

    from workers.algorithms.contrastive import batch_for
    from workers.algorithms.contrastive_net import Architecture, build, nt_xent
    from workers.algorithms.contrastive_views import Views

    model = build(Architecture.from_params(params), params["seed"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["learning_rate"])
    data = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).to(device)
    views = Views(params, len(data))
    size = batch_for(params, len(data))  # the job's batch for this many items
    times = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        views.set_epoch(epoch)
        order = torch.randperm(len(data))
        for step, i in enumerate(range(0, len(data), size)):
            rows = order[i : i + size]
            batch = data[rows.to(device)]
            projected = model(torch.cat([views(batch, rows, 0, step), views(batch, rows, 1, step)]))
            loss = nt_xent(*projected.chunk(2), params["temperature"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def speed(pipe: Pipeline, root: Path, args: argparse.Namespace) -> None:
    from backend.algorithms import validate_parameters
    from workers.algorithms.autoencoder import split
    from workers.algorithms.contrastive import batch_for

    folder = root / "roots" / "timing" / "images"
    generate_demo(folder, args.timing_count, size=64, seed=1)
    dataset_id = pipe.dataset(folder, "timing")
    params = validate_parameters("contrastive", {"epochs": args.timing_epochs})
    refs = pipe.call(item_refs, dataset_id)
    images, _ = pixels(pipe.settings, refs, params["image_size"], params)
    train_rows, _ = split(len(images), params["validation_fraction"], params["seed"])
    device = args.device
    ours: list[float] = []
    plain: list[float] = []
    for _ in range(2):  # alternate, so a neighbour's load hits both alike; first epochs dropped
        plain += plain_epochs(images[train_rows], params, args.timing_epochs, device)[1:]
        job = pipe.run(kind="train", dataset_id=dataset_id, algorithm="contrastive", parameters=params)
        ours += [m["epoch_seconds"] for m in pipe.metrics(job.id)][1:]
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"\nepoch over {len(train_rows)} training (+{len(images) - len(train_rows)} validation) images at "
          f"{params['image_size']} px, batch {batch_for(params, len(train_rows))} on {device}:")  # fmt: skip
    for side, times in (("job pipeline", ours), ("plain loop", plain)):
        listed = ", ".join(f"{t:.2f}" for t in times)
        print(f"  {side:<12} median {statistics.median(times):6.2f} s   (epochs {listed})")
    print(f"  ratio {ratio:.2f}x  target <= 1.15  {'OK' if ratio <= 1.15 else 'MISSED'}", flush=True)


def read_truth(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["path"]: row["label"] for row in csv.DictReader(handle)}


def main(argv: list[str]) -> None:
    args = parse(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    folders = [Path(f).resolve() for f in args.folder]
    with scratch_settings() as (settings, root):
        roots = os.pathsep.join([str(root / "roots"), *map(str, folders)])  # real sets are read in place
        settings = settings.model_copy(update={"worker_device": args.device, "data_roots": roots})
        pipe = Pipeline(settings)
        try:
            if args.demo_count:
                demo = root / "roots" / "demo" / "images"
                truth = read_ground_truth(generate_demo(demo, args.demo_count, size=args.demo_size, seed=0))
                targets("demo", evaluate(pipe, "demo", demo, truth, args, args.demo_params))
            for folder, truth_csv, params in zip(folders, args.truth, args.params, strict=True):
                name = folder.parent.name if folder.name == "images" else folder.name
                targets(name, evaluate(pipe, name, folder, read_truth(Path(truth_csv)), args, params))
            if args.timing_count:
                speed(pipe, root, args)
        finally:
            pipe.close()
