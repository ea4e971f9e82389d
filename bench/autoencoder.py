"""Autoencoder: retrieval quality of its latent space, and the job pipeline's cost per epoch.

(a) Quality: on the demo data set (``backend.demo``; ground truth kept apart), train and infer
    through the real job pipeline, then precision@10 of cosine neighbours against the ground
    truth, versus the same on the raw downsampled pixels (the same transform and size the network
    sees). Target: beat the pixels.
(b) Speed: one epoch over 2,000 64x64 images through the job (DataLoader, augmentation hooks,
    validation, checkpoints, progress and metrics), versus a minimal plain PyTorch loop training
    the same network on the same tensors in the same run. Target: ratio <= 1.15.

Flags make it small enough for a busy machine: ``python -m bench.autoencoder --count 300
--epochs 10 --timing-count 500``; ``--threads 1`` there, since two intra-op threads fighting other
processes for two cores run 10x slower. Full size, on a quiet machine: ``python -m bench.autoencoder``
(or ``python -m bench autoencoder``); ``--device cuda`` times a GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from backend.datasets.refs import item_refs
from backend.datasets.service import create_dataset
from backend.demo import generate_demo, read_ground_truth
from backend.jobs import queries as job_queries
from backend.jobs import submission
from backend.models import queries as model_queries
from backend.settings import Settings
from backend.storage.database import Database
from backend.storage.job_tables import Job, JobMetric, Model
from bench._common import scratch_settings


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.autoencoder", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1200, help="demo images for the quality run")
    parser.add_argument("--demo-size", type=int, default=128, help="pixels a side of the demo images")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of the quality run")
    parser.add_argument("--timing-count", type=int, default=2000, help="images of the timing run")
    parser.add_argument(
        "--timing-epochs", type=int, default=3, help="epochs per timed run (first one dropped)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each side, alternating")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (sets LABELWISE_WORKER_DEVICE)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads for both sides (0: torch's default)"
    )
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument(
        "--params", default="", help="extra training parameters as name=value,name=value (quality run)"
    )
    return parser.parse_args(argv)


def extra_params(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in filter(None, text.split(",")):
        name, _, value = pair.partition("=")
        for cast in (int, float):
            try:
                out[name] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[name] = {"true": True, "false": False}.get(value.lower(), value)
    return out


# ---- running jobs in this process ----------------------------------------------------------------


class Pipeline:
    """A migrated scratch database, a dataset of demo images and jobs run synchronously here."""

    def __init__(self, settings: Settings) -> None:
        from workers.store import JobStore

        self.settings = settings
        self.store = JobStore(settings)
        self.loop = asyncio.new_event_loop()
        self.database = Database(settings.database)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            async with self.database.session() as session:
                return await fn(session, *args, **kwargs)

        return self.loop.run_until_complete(run())

    def dataset(self, folder: Path, name: str) -> int:
        dataset, _ = self.call(create_dataset, self.settings, name, [str(folder)])
        return dataset.id

    def run(self, **submit: Any) -> Job:
        from workers.runner import run_job

        job = self.call(submission.submit_job, self.settings, None, **submit)
        state = run_job(job.id, self.settings, self.store)
        job = self.call(job_queries.get_job, job.id)
        if state != "succeeded":
            raise RuntimeError(f"job {job.id} {state}: {job.error}")
        return job

    def metrics(self, job_id: int) -> list[dict[str, float]]:
        rows: list[JobMetric] = self.call(job_queries.job_metrics, job_id)
        return [row.metrics for row in rows]

    def model(self, model_id: int) -> Model:
        return self.call(model_queries.get_model, model_id)

    def close(self) -> None:
        self.store.close()
        self.loop.run_until_complete(self.database.dispose())
        self.loop.close()


class _Reading:
    """What ``load_batch`` needs of a job context, to read pixels outside a job."""

    def __init__(self, settings: Settings) -> None:
        from backend.datasets.refs import ItemReader

        self.reader = ItemReader(settings)

    def log(self, message: str, level: str = "info") -> None:
        print(f"  ({level}) {message}")


def pixels(
    settings: Settings, refs: list, size: int, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    from workers.images import load_batch, transform_from

    return load_batch(_Reading(settings), refs, size=size, transform=transform_from(params))  # type: ignore[arg-type]


# ---- (a) quality ---------------------------------------------------------------------------------


def precision_at_k(vectors: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean share of each item's k nearest cosine neighbours (itself excluded) with its label."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    return float(np.mean(labels[nearest] == labels[:, None]))


def quality(pipe: Pipeline, root: Path, args: argparse.Namespace) -> None:
    from backend.algorithms import validate_parameters

    folder = root / "roots" / "demo" / "images"
    start = time.perf_counter()
    truth = read_ground_truth(generate_demo(folder, args.count, size=args.demo_size, seed=0))
    print(
        f"demo: {args.count} images of {args.demo_size} px in {time.perf_counter() - start:.1f} s", flush=True
    )
    dataset_id = pipe.dataset(folder, "demo")
    params = validate_parameters("autoencoder", {"epochs": args.epochs, **extra_params(args.params)})
    start = time.perf_counter()
    job = pipe.run(kind="train", dataset_id=dataset_id, algorithm="autoencoder", parameters=params)
    trained = time.perf_counter() - start
    summary = pipe.model(job.model_id).summary
    infer = pipe.run(kind="infer", model_id=job.model_id)
    directory = pipe.settings.artifact_dir / infer.outputs["dir"]
    vectors, ids = np.load(directory / "vectors.npy"), np.load(directory / "item_ids.npy")

    refs = pipe.call(item_refs, dataset_id)
    label_of = {ref.item_id: truth[Path(ref.uri).name] for ref in refs}
    labels = np.asarray([label_of[int(i)] for i in ids])
    latent = precision_at_k(vectors, labels)
    raw, raw_ids = pixels(pipe.settings, refs, params["image_height"], params)
    raw_labels = np.asarray([label_of[int(i)] for i in raw_ids])
    baseline = precision_at_k(raw.reshape(len(raw), -1), raw_labels)
    small, small_ids = pixels(pipe.settings, refs, 16, params)
    baseline16 = precision_at_k(
        small.reshape(len(small), -1), np.asarray([label_of[int(i)] for i in small_ids])
    )
    chance = float(np.mean([np.mean(labels == c) ** 2 for c in np.unique(labels)]) * len(np.unique(labels)))
    shape = "x".join(str(params[k]) for k in ("image_height", "image_width"))
    print(
        f"trained {summary['epochs_run']} epochs ({shape}, B={params['base_channels']}, d={params['depth']}, "
        f"L={params['latent_size']}) in {trained:.1f} s; "
        f"best val loss {summary.get('best_val_loss', math.nan):.5f}"
    )
    print(f"precision@10 latent space (cosine)         {latent:.3f}")
    print(f"precision@10 raw pixels {shape} (baseline) {baseline:.3f}   ratio {latent / baseline:.2f}x  "
          f"target > 1.00  {'OK' if latent > baseline else 'MISSED'}")  # fmt: skip
    print(f"precision@10 raw pixels 16x16              {baseline16:.3f}   (chance {chance:.3f})", flush=True)


# ---- (b) speed -----------------------------------------------------------------------------------


def plain_epochs(
    images: np.ndarray, rows: np.ndarray, params: dict[str, Any], epochs: int, device: str
) -> list[float]:
    """The minimal loop: the same network and tensors, Adam, MSE, shuffled batches; seconds per epoch."""
    import torch

    from workers.algorithms.autoencoder_net import Architecture, build

    model = build(Architecture.from_params(params), params["seed"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
    data = torch.from_numpy(np.ascontiguousarray(images[rows])).unsqueeze(1).to(device)
    loss_fn = torch.nn.MSELoss()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(data), device=device)
        for i in range(0, len(data), params["batch_size"]):
            batch = data[order[i : i + params["batch_size"]]]
            optimizer.zero_grad()
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def augment_seconds(images: np.ndarray, params: dict[str, Any]) -> float:
    """Seconds the default augmentations take over one epoch of batches (what the job adds when on)."""
    import torch

    from backend.algorithms import validate_parameters
    from workers.algorithms.autoencoder import Augment

    augment = Augment(validate_parameters("autoencoder", {}), len(images))
    augment.set_epoch(1)
    data = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    start = time.perf_counter()
    for i in range(0, len(data), params["batch_size"]):
        rows = torch.arange(i, min(i + params["batch_size"], len(data)))
        augment(data[rows], rows)
    return time.perf_counter() - start


def speed(pipe: Pipeline, root: Path, args: argparse.Namespace) -> None:
    from backend.algorithms import validate_parameters
    from workers.algorithms.autoencoder import split

    folder = root / "roots" / "timing" / "images"
    generate_demo(folder, args.timing_count, size=64, seed=1)
    dataset_id = pipe.dataset(folder, "timing")
    # the plain loop does not augment: switch it off in the job too, and time it on its own below
    no_augment = {
        "augment_hflip": False,
        "augment_vflip": False,
        "augment_brightness": 0,
        "augment_contrast": 0,
    }
    params = validate_parameters("autoencoder", {"epochs": args.timing_epochs, **no_augment})
    refs = pipe.call(item_refs, dataset_id)
    images, _ = pixels(pipe.settings, refs, 64, params)
    train_rows, _ = split(len(images), params["validation_fraction"], params["seed"])
    device = pipe.settings.worker_device if pipe.settings.worker_device != "auto" else "cpu"

    # Alternate the two, so a neighbour's load hits both alike; the first epoch of every run pays
    # one-off costs (allocator warm-up, loader start) and is left out.
    ours: list[float] = []
    plain: list[float] = []
    for _ in range(args.rounds):
        plain += plain_epochs(images, train_rows, params, args.timing_epochs, device)[1:]
        job = pipe.run(kind="train", dataset_id=dataset_id, algorithm="autoencoder", parameters=params)
        ours += [m["epoch_seconds"] for m in pipe.metrics(job.id)][1:]
    print(
        f"epoch over {len(train_rows)} training (+{len(images) - len(train_rows)} validation) 64x64 images, "
        f"B={params['base_channels']} d={params['depth']} L={params['latent_size']} "
        f"batch {params['batch_size']} on {device}:"
    )
    print(f"  job pipeline  median {statistics.median(ours) * 1000:9.1f} ms  min {min(ours) * 1000:9.1f} ms"
          f"   (epochs: {', '.join(f'{t:.2f}' for t in ours)} s)")  # fmt: skip
    print(f"  plain loop    median {statistics.median(plain) * 1000:9.1f} ms  min {min(plain) * 1000:9.1f} ms"
          f"   (epochs: {', '.join(f'{t:.2f}' for t in plain)} s)")  # fmt: skip
    ratio = statistics.median(ours) / statistics.median(plain)  # medians: robust to a neighbour's bursts
    augmenting = augment_seconds(images, params)
    print(f"  default augmentations, applied to one epoch's batches: {augmenting * 1000:.1f} ms")
    print(
        f"  ratio (median) {ratio:.2f}x, (min) {min(ours) / min(plain):.2f}x  "
        f"target <= 1.15  {'OK' if ratio <= 1.15 else 'MISSED'}",
        flush=True,
    )


def main(argv: list[str]) -> None:
    args = parse(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    with scratch_settings() as (settings, root):
        settings = settings.model_copy(update={"worker_device": args.device})
        pipe = Pipeline(settings)
        try:
            if not args.skip_quality:
                quality(pipe, root, args)
            if not args.skip_timing:
                speed(pipe, root, args)
        finally:
            pipe.close()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
