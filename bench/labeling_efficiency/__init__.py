"""The labeling-efficiency study: a simulated expert labels a data set by doing what the product's
next-action queue suggests (through the public REST API), beside a manual one-by-one baseline;
the report says how many actions each needed.

    python -m bench labeling_efficiency                      # the demo data set (2,000 images)
    python -m bench labeling_efficiency --count 600 --size 64
    python -m bench labeling_efficiency --folder DIR --truth truth.csv   # any folder with a CSV
    python -m bench labeling_efficiency --folder DIR --truth truth.csv --limit 800  # a sample of it
    python -m bench labeling_efficiency --guardrails both    # batches with and without guardrails
    python -m bench labeling_efficiency --url http://host:8000 ...       # a running server

The ground-truth CSV has columns ``path,label`` (paths relative to the folder). Without ``--url``
the study starts its own server on a scratch data directory (embedded SQLite and in-process
worker), so it never touches a real installation. It writes ``report.json``,
``labeling_efficiency.png`` (labeled-and-correct items against actions) and ``calibration.png``
(each accepted batch's promised precision against its measured one) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.labeling_efficiency.client import QueueClient
from bench.labeling_efficiency.expert import Expert, Strategy, timed_run
from bench.labeling_efficiency.report import check_targets, plot, plot_calibration, print_report
from labelwise_client import Client


@contextmanager
def local_server(data_dir: Path, roots: list[Path]) -> Iterator[str]:
    """The real app under uvicorn on a free port, on its own data directory."""
    import uvicorn

    from backend.app import create_app
    from backend.settings import Settings
    from backend.storage import migrate

    settings = Settings(data_dir=data_dir, data_roots=":".join(str(r) for r in roots), database_url="")
    settings.ensure_dirs()
    migrate.upgrade(settings.database)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Labelwise server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def read_truth(csv_path: Path) -> dict[str, str]:
    import csv

    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise SystemExit(f"{csv_path}: a ground-truth CSV needs the columns path,label")
    return {row["path"]: row["label"] for row in rows}


def truth_by_item(client: Client, dataset_id: int, truth: dict[str, str]) -> dict[int, str]:
    """Ground truth keyed by item id (items are matched by their path in the folder)."""
    by_item = {}
    for item in client.items(dataset_id):
        if item["status"] == "ok" and item["path"] in truth:
            by_item[int(item["id"])] = truth[item["path"]]
    if not by_item:
        raise SystemExit("no item of the dataset matches a path of the ground-truth CSV")
    return by_item


def dataset_for(client: Client, name: str, folder: Path) -> int:
    if any(row["name"] == name for row in client.datasets()):
        raise SystemExit(f"dataset '{name}' exists already: the study needs a fresh one (use --name)")
    return int(client.create_dataset(name, [str(folder)])["id"])


def sample_folder(folder: Path, truth_csv: Path, limit: int, seed: int, into: Path) -> tuple[Path, Path]:
    """``limit`` images of the folder drawn at random (``seed``), copied with their truth rows."""
    import csv
    import random
    import shutil

    truth = read_truth(truth_csv)
    chosen = sorted(random.Random(seed).sample(sorted(truth), min(limit, len(truth))))
    into.mkdir(parents=True)
    for path in chosen:
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / path, into / path)
    sampled = into.parent / f"{into.name}-truth.csv"
    with sampled.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows((path, truth[path]) for path in chosen)
    return into, sampled


def study(args: argparse.Namespace, url: str, folder: Path, truth_csv: Path) -> dict[str, Any]:
    truth = read_truth(truth_csv)
    guardrails = {"on": [True], "off": [False], "both": [True, False]}[args.guardrails]
    runs = [
        ("guided" if on or len(guardrails) == 1 else "guided_without_guardrails", on) for on in guardrails
    ]
    results: dict[str, Any] = {
        "folder_items": len(truth),
        "target_fraction": args.target,
        "seed": args.seed,
        "guardrails": args.guardrails,
    }
    for mode, on in [*runs, ("manual", None)]:
        client = Client(url, tagger=f"simulated-{mode}", timeout=600.0)
        queue = QueueClient(client)
        try:
            dataset_id = dataset_for(client, f"{args.name}-{mode}", folder)
            by_item = truth_by_item(client, dataset_id, truth)
            strategy = Strategy(
                guardrails=bool(on),
                look_pages=args.look_pages,
                max_seen_error=args.max_seen_error,
                label_in_place=args.label_in_place,
                accept_shown=args.accept_shown,
                check_classes=args.check_classes,
                keep_fresh=args.keep_fresh,
                stop_accuracy=args.min_accuracy,
                max_epochs=args.max_epochs,
                max_head_epochs=args.max_head_epochs,
                max_seconds=60 * args.max_minutes if args.max_minutes else None,
            )
            expert = Expert(queue, dataset_id, by_item, strategy, target=args.target)
            results[mode] = timed_run(expert, guided=on is not None)
            results[mode]["dataset_id"] = dataset_id
            results[mode]["log"] = expert.log
        finally:
            queue.close()
    results["targets"] = check_targets(
        results["guided"], results["manual"], args.target, args.min_accuracy, args.max_actions_per_label
    )
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench labeling_efficiency", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--folder", type=Path, help="a folder of images (default: generate the demo data set)"
    )
    parser.add_argument("--truth", type=Path, help="its ground-truth CSV (path,label)")
    parser.add_argument("--count", type=int, default=2000, help="demo images to generate")
    parser.add_argument("--size", type=int, default=256, help="demo image size in pixels")
    parser.add_argument("--url", help="a running Labelwise server (default: start one on a scratch dir)")
    parser.add_argument("--name", default="efficiency", help="prefix of the datasets the study makes")
    parser.add_argument("--target", type=float, default=0.95, help="labeled fraction to reach")
    parser.add_argument("--min-accuracy", type=float, default=0.98)
    parser.add_argument("--max-actions-per-label", type=float, default=1 / 20)
    parser.add_argument(
        "--guardrails",
        choices=("on", "off", "both"),
        default="on",
        help="the expert presses 'f' on each batch (leave the flagged items out), or not, or runs both "
        "on the same data to compare the wrong labels batches write",
    )
    parser.add_argument(
        "--look-pages",
        type=int,
        default=Strategy.look_pages,
        help="pages of a batch (48 items each) the expert reads before accepting it (0: all)",
    )
    parser.add_argument(
        "--max-seen-error",
        type=float,
        default=Strategy.max_seen_error,
        help="share wrong among what was read above which the expert keeps only what it read",
    )
    parser.add_argument(
        "--no-label-in-place",
        dest="label_in_place",
        action="store_false",
        help="the expert only deselects the wrong items it reads in a batch (before the batch pages "
        "labeled a tile with its own class in one key)",
    )
    parser.add_argument(
        "--no-keep-fresh",
        dest="keep_fresh",
        action="store_false",
        help="the queue's 'keep models fresh' is passed over: every retrain and feature report a "
        "click, as before",
    )
    parser.add_argument(
        "--no-check-classes",
        dest="check_classes",
        action="store_false",
        help="pages of several classes' batches (classes shown) are passed over: the per-class "
        "batches only, as before",
    )
    parser.add_argument(
        "--no-accept-shown",
        dest="accept_shown",
        action="store_false",
        help="items to label one by one are labeled one key each even where the page shows the "
        "classifier's class (before the page offered to accept the classes shown)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        help="at most this many epochs for the feature extractor trainings the queue suggests (a slow "
        "or shared machine; the expert lowers them on the train form; classifier heads keep theirs)",
    )
    parser.add_argument(
        "--max-head-epochs",
        type=int,
        help="at most this many epochs for the classifier trainings the queue suggests (a slow or "
        "shared machine: a head's 150 default epochs, six fits with the out-of-fold ones, took "
        "four minutes on 2 loaded cores)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="end each queue-driven session after this wall time (a slow machine; reported as such)",
    )
    parser.add_argument("--limit", type=int, help="a random sample of this many images of --folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")
    parser.add_argument("--demo-seed", type=int, default=0, help="seed of the generated demo data set")
    parser.add_argument("--out", type=Path, default=Path("bench/results/labeling_efficiency"))
    args = parser.parse_args(argv)
    if (args.folder is None) != (args.truth is None):
        parser.error("--folder and --truth go together")
    if args.url and args.folder is None:
        parser.error("with --url, give --folder and --truth (a folder inside the server's data roots)")
    if args.limit is not None and (args.url or args.folder is None):
        parser.error("--limit samples a --folder for the study's own server (not with --url)")
    if args.truth is not None:
        read_truth(args.truth)  # a wrong file fails now, before any server or dataset is made

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the figures
    with tempfile.TemporaryDirectory(prefix="labelwise-efficiency-") as tmp:
        scratch = Path(tmp)
        folder, truth_csv = args.folder, args.truth
        if folder is None:
            from backend.demo import generate_demo

            folder = scratch / "roots" / "demo"
            start = time.perf_counter()
            truth_csv = generate_demo(
                folder, args.count, size=args.size, seed=args.demo_seed, ground_truth=scratch / "truth.csv"
            )
            took = time.perf_counter() - start
            print(f"(generated {args.count} demo images of {args.size} px in {took:.1f} s)")
        elif args.limit is not None:
            folder, truth_csv = sample_folder(
                folder, truth_csv, args.limit, args.seed, scratch / "roots" / f"sample-{args.limit}"
            )
        folder = folder.resolve()
        if args.url:
            results = study(args, args.url, folder, truth_csv)
        else:
            with local_server(scratch / "data", [folder.parent]) as url:
                results = study(args, url, folder, truth_csv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(results, indent=2))
    plot(results, args.out / "labeling_efficiency.png")
    plot_calibration(results, args.out / "calibration.png")
    print_report(results)
    print(f"report: {args.out / 'report.json'}  plot: {args.out / 'labeling_efficiency.png'}")
