"""The labeling-efficiency study: a simulated expert labels a data set through the public REST API,
beside a manual one-by-one baseline, and the report says how many actions each needed.

    python -m bench labeling_efficiency                      # the demo data set (2,000 images)
    python -m bench labeling_efficiency --count 300 --size 64 --quick
    python -m bench labeling_efficiency --folder DIR --truth truth.csv   # any folder with a CSV
    python -m bench labeling_efficiency --url http://host:8000 ...       # a running server

The ground-truth CSV has columns ``path,label`` (paths relative to the folder). Without ``--url``
the study starts its own server on a scratch data directory (embedded SQLite and in-process
worker), so it never touches a real installation. It writes ``report.json`` and
``labeling_efficiency.png`` (labeled-and-correct items against actions) into ``--out``.
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

from bench.labeling_efficiency.client import LabelwiseClient
from bench.labeling_efficiency.expert import CLASSIFIER_PARAMS, Expert, Strategy, timed_run
from bench.labeling_efficiency.report import check_targets, plot, print_report

QUICK_EPOCHS = 4


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


def truth_by_item(client: LabelwiseClient, dataset_id: int, truth: dict[str, str]) -> dict[int, str]:
    """Ground truth keyed by item id (items are matched by their path in the folder)."""
    by_item = {}
    for item in client.items(dataset_id):
        if item["status"] == "ok" and item["uri"] in truth:
            by_item[item["id"]] = truth[item["uri"]]
    if not by_item:
        raise SystemExit("no item of the dataset matches a path of the ground-truth CSV")
    return by_item


def dataset_for(client: LabelwiseClient, name: str, folder: Path) -> int:
    existing = client.dataset_by_name(name)
    if existing is not None:
        raise SystemExit(f"dataset '{name}' exists already: the study needs a fresh one (use --name)")
    return int(client.create_dataset(name, [str(folder)])["id"])


def study(args: argparse.Namespace, url: str, folder: Path, truth_csv: Path) -> dict[str, Any]:
    truth = read_truth(truth_csv)
    strategy = Strategy(
        feature_params=json.loads(args.feature_params) if args.feature_params else {},
        classifier_algorithm=args.classifier_algorithm,
        classifier_params={
            **CLASSIFIER_PARAMS.get(args.classifier_algorithm, {}),
            **json.loads(args.classifier_params or "{}"),
        },
        feature_algorithm=args.feature_algorithm,
        max_classifier_rounds=args.max_classifier_rounds,
        max_review_error=args.max_review_error,
        seeds_per_class=args.seeds_per_class,
        seed=args.seed,
    )
    if args.quick:
        strategy.quick_epochs = QUICK_EPOCHS
    strategy.extractor_epochs = args.extractor_epochs
    results: dict[str, Any] = {"folder_items": len(truth), "target_fraction": args.target}
    for mode in ("guided", "manual"):
        client = LabelwiseClient(url, tagger=f"simulated-{mode}")
        try:
            dataset_id = dataset_for(client, f"{args.name}-{mode}", folder)
            by_item = truth_by_item(client, dataset_id, truth)
            expert = Expert(client, dataset_id, by_item, strategy, target=args.target)
            results[mode] = timed_run(expert, guided=mode == "guided")
            results[mode]["dataset_id"] = dataset_id
            results[mode]["log"] = expert.log
        finally:
            client.close()
    results["targets"] = check_targets(
        results["guided"], args.target, args.min_accuracy, args.max_actions_per_label
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
        "--feature-algorithm",
        default=None,
        help="one feature extractor to use (default: train what the train page suggests and follow "
        "the feature report's choice, as a user of the pages would)",
    )
    parser.add_argument("--feature-params", help="JSON parameters of the feature extractor")
    parser.add_argument("--classifier-algorithm", default="vector_classifier")
    parser.add_argument("--classifier-params", help="JSON parameters of the classifier")
    parser.add_argument("--quick", action="store_true", help="few epochs (CI)")
    parser.add_argument(
        "--extractor-epochs",
        type=int,
        help="at most this many epochs for feature extractors (a slow or shared machine)",
    )
    parser.add_argument("--max-classifier-rounds", type=int, default=Strategy.max_classifier_rounds)
    parser.add_argument(
        "--max-review-error",
        type=float,
        default=Strategy.max_review_error,
        help="share of wrong items on a probability gallery page at which the review stops",
    )
    parser.add_argument(
        "--seeds-per-class",
        type=int,
        default=Strategy.seeds_per_class,
        help="similarity pages around different items of each class before the first classifier",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the jobs the expert starts")
    parser.add_argument("--demo-seed", type=int, default=0, help="seed of the generated demo data set")
    parser.add_argument("--out", type=Path, default=Path("bench/results/labeling_efficiency"))
    args = parser.parse_args(argv)
    if (args.folder is None) != (args.truth is None):
        parser.error("--folder and --truth go together")
    if args.url and args.folder is None:
        parser.error("with --url, give --folder and --truth (a folder inside the server's data roots)")
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
        folder = folder.resolve()
        if args.url:
            results = study(args, args.url, folder, truth_csv)
        else:
            with local_server(scratch / "data", [folder.parent]) as url:
                results = study(args, url, folder, truth_csv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(results, indent=2))
    plot(results, args.out / "labeling_efficiency.png")
    print_report(results)
    print(f"report: {args.out / 'report.json'}  plot: {args.out / 'labeling_efficiency.png'}")
