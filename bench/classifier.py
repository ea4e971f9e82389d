"""Classifier: accuracy on the demo data set from 20% of its labels, and the cost of an epoch.

(a) Quality: generate the demo data set (``backend.demo``; ground truth kept apart), label a
    seeded 20% of it with the ground truth (one tag event), train the small default network
    through the real job pipeline, infer, and report the validation accuracy and the accuracy
    on the unlabeled 80%. Target: above 0.9. Baseline in the same run: logistic regression on
    the raw downsampled pixels (the same transform and size), fitted on the same labeled items.
(b) Speed: seconds per epoch on this CPU for the small network (from the quality run's metrics)
    and for ResNet50 at 64x64 (a short run on the same labels, first epoch dropped), versus a
    plain ``model.fit`` of the same small network on the same in-memory arrays (no augmentation).

Small, for a busy machine: ``python -m bench.classifier --count 1000 --input 64 --epochs 30``.
Full size: ``python -m bench.classifier`` (or ``python -m bench classifier``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from backend.datasets.refs import item_refs
from backend.demo import DEMO_CLASSES, generate_demo, read_ground_truth
from backend.labels.classes import create_class
from backend.labels.events import TagChange, record_changes
from bench._common import scratch_settings
from bench.autoencoder import Pipeline, extra_params, pixels

TARGET = 0.9


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="demo images")
    parser.add_argument("--demo-size", type=int, default=256, help="pixels a side of the demo images")
    parser.add_argument("--labeled", type=float, default=0.2, help="share of the items labeled")
    parser.add_argument("--input", type=int, default=96, help="the small network's input size (64: ~0.88)")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of the small network")
    parser.add_argument("--resnet-epochs", type=int, default=2, help="ResNet50 epochs timed (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (sets LABELWISE_WORKER_DEVICE)")
    parser.add_argument(
        "--params", default="", help="extra training parameters as name=value,name=value (small network)"
    )
    return parser.parse_args(argv)


# Augmentations that respect the physics: a pattern rotated or flipped is the same class.
SMALL = {
    "architecture": "small_cnn",
    "batch_size": 32,
    "learning_rate": 0.002,
    "augment_rotation": 180.0,
    "augment_hflip": True,
    "augment_vflip": True,
    "validation_fraction": 0.2,
}


def label_share(pipe: Pipeline, dataset_id: int, truth: dict[int, str], share: float, seed: int) -> set[int]:
    """Create the demo classes and label a seeded ``share`` of the items with their ground truth."""
    classes = {
        name: pipe.call(create_class, dataset_id, name, color, key).id for name, color, key in DEMO_CLASSES
    }
    items = sorted(truth)
    chosen = np.random.default_rng([seed, 20]).choice(len(items), round(len(items) * share), replace=False)
    labeled = {items[i] for i in chosen}
    changes = [TagChange(i, "set", classes[truth[i]]) for i in sorted(labeled)]
    pipe.call(record_changes, dataset_id, tagger="bench", kind="import", changes=changes)
    return labeled


def pixel_baseline(settings: Any, refs: list, truth: dict[int, str], labeled: set[int], size: int) -> float:
    """Logistic regression on the raw pixels: accuracy on the unlabeled items."""
    from sklearn.linear_model import LogisticRegression

    images, ids = pixels(settings, refs, size, {})
    flat = images.reshape(len(images), -1)
    train = np.asarray([int(i) in labeled for i in ids])
    names = np.asarray([truth[int(i)] for i in ids])
    model = LogisticRegression(max_iter=2000).fit(flat[train], names[train])
    return float(np.mean(model.predict(flat[~train]) == names[~train]))


def plain_epoch_seconds(
    settings: Any, refs: list, labeled: set[int], truth: dict[int, str], p: dict
) -> float:
    """The same small network fitted with plain ``model.fit`` on in-memory arrays, with the same
    validation share, without augmentation (the job adds augmentation, its data feed, reports)."""
    import keras

    from workers.algorithms.classifier_net import build

    names = [name for name, _, _ in DEMO_CLASSES]
    chosen = [ref for ref in refs if ref.item_id in labeled]
    images, ids = pixels(settings, chosen, p["image_size"], {})
    targets = np.eye(len(names), dtype=np.float32)[[names.index(truth[int(i)]) for i in ids]]
    keras.utils.set_random_seed(0)
    model = build("small_cnn", p["image_size"], len(names))
    model.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]), loss="categorical_crossentropy")
    n_train = round(len(images) * (1 - p["validation_fraction"]))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(
            images[:n_train, ..., None],
            targets[:n_train],
            validation_data=(images[n_train:, ..., None], targets[n_train:]),
            batch_size=p["batch_size"],
            epochs=1,
            verbose=0,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main(argv: list[str]) -> None:
    args = parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["LABELWISE_WORKER_DEVICE"] = args.device
    with tempfile.TemporaryDirectory(prefix="labelwise-bench-classifier-") as tmp:
        roots = Path(tmp) / "roots"
        started = time.perf_counter()
        truth_csv = generate_demo(roots / "demo" / "images", args.count, size=args.demo_size, seed=args.seed)
        by_file = read_ground_truth(truth_csv)
        print(f"demo: {args.count} images of {args.demo_size}px in {time.perf_counter() - started:.1f} s")
        with scratch_settings(data_roots=[roots]) as (settings, _):
            settings = settings.model_copy(update={"worker_device": args.device})
            pipe = Pipeline(settings)
            try:
                run(args, pipe, settings, roots, by_file)
            finally:
                pipe.close()


def run(
    args: argparse.Namespace, pipe: Pipeline, settings: Any, roots: Path, by_file: dict[str, str]
) -> None:
    dataset_id = pipe.dataset(roots / "demo" / "images", "demo")
    refs = pipe.call(item_refs, dataset_id)
    truth = {ref.item_id: by_file[Path(ref.uri).name] for ref in refs}
    labeled = label_share(pipe, dataset_id, truth, args.labeled, args.seed)
    params = {**SMALL, "image_size": args.input, "epochs": args.epochs, "seed": args.seed}
    params.update(extra_params(args.params))
    print(f"labeled {len(labeled)} of {len(refs)} items ({args.labeled:.0%}); training {params}")

    started = time.perf_counter()
    job = pipe.run(kind="train", dataset_id=dataset_id, algorithm="classifier", parameters=params)
    train_seconds = time.perf_counter() - started
    model = pipe.model(job.model_id)
    epochs = pipe.metrics(job.id)
    infer = pipe.run(kind="infer", model_id=model.id)
    out = settings.artifact_dir / infer.outputs["dir"]
    probabilities = np.load(out / "probabilities.npy")
    item_ids = np.load(out / "item_ids.npy")
    columns = [c["name"] for c in json.loads((out / "classes.json").read_text())]
    predicted = [columns[i] for i in probabilities.argmax(axis=1)]
    unlabeled = [n for n, i in enumerate(item_ids.tolist()) if i not in labeled]
    accuracy = float(np.mean([predicted[n] == truth[int(item_ids[n])] for n in unlabeled]))
    baseline = pixel_baseline(settings, refs, truth, labeled, args.input)
    val = model.summary.get("val_accuracy", float("nan"))
    print(f"small network: {len(epochs)} epochs in {train_seconds:.1f} s (with reading the images)")
    verdict = "OK" if val > TARGET else "MISSED"
    print(f"  validation accuracy            {val:.3f}   target > {TARGET}  {verdict}")
    print(
        f"  accuracy on the unlabeled {1 - args.labeled:.0%}    {accuracy:.3f}   target > {TARGET}  "
        f"{'OK' if accuracy > TARGET else 'MISSED'}   baseline (pixels + logistic regression) "
        f"{baseline:.3f}  ratio {accuracy / max(baseline, 1e-9):.2f}x"
    )
    confusion = json.loads(
        (settings.artifact_dir / model.artifact_path / "confusion_matrix.json").read_text()
    )
    print(f"  validation confusion matrix (rows true, columns predicted) {confusion['labels']}")
    for row in confusion["matrix"]:
        print("   ", row)

    small_epoch = statistics.median(m["epoch_seconds"] for m in epochs[1:] or epochs)
    plain = plain_epoch_seconds(settings, refs, labeled, truth, params)
    print(
        f"epoch time, small network {args.input}x{args.input} ({int(model.summary['train_items'])} items, "
        f"with validation, augmented): {small_epoch:.2f} s   plain model.fit {plain:.2f} s  "
        f"ratio {small_epoch / plain:.2f}x"
    )
    if args.resnet_epochs:
        resnet = {**params, "architecture": "ResNet50", "image_size": 64, "epochs": args.resnet_epochs}
        job = pipe.run(kind="train", dataset_id=dataset_id, algorithm="classifier", parameters=resnet)
        times = [m["epoch_seconds"] for m in pipe.metrics(job.id)]
        per_epoch = statistics.median(times[1:] or times)
        print(
            f"epoch time, ResNet50 64x64 ({len(times)} epochs, first dropped): {per_epoch:.2f} s   "
            f"ratio to the small network {per_epoch / small_epoch:.1f}x"
        )
