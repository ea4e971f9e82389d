"""The labeling loop from a script: look, label, train, find neighbours, export.

Run it against a server (``labelwise serve``) with a dataset to label:

    LABELWISE_URL=http://127.0.0.1:8000 LABELWISE_TOKEN=lw_... \\
        python docs/scripting_example.py --dataset my-scan --out labels.csv

It needs only ``labelwise_client`` (httpx; pandas and numpy for tables and arrays).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from labelwise_client import Client, LabelwiseError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="dataset name or id")
    parser.add_argument("--out", type=Path, default=Path("labels.csv"))
    parser.add_argument("--algorithm", default="pca", help="a feature extractor (GET /api/v1/algorithms)")
    parser.add_argument("--parameters", default="{}", help="its parameters as JSON")
    args = parser.parse_args(argv)
    dataset = int(args.dataset) if args.dataset.isdigit() else args.dataset

    with Client(timeout=30) as lw:  # LABELWISE_URL and LABELWISE_TOKEN from the environment
        try:
            items = lw.items(dataset).to_pandas()
            print(f"{len(items)} items, {items['labels'].map(bool).sum()} labeled")

            classes = {c["name"] for c in lw.classes(dataset)}
            if "interesting" not in classes:
                lw.add_class(dataset, "interesting")
            first = items.loc[items["status"] == "ok", "id"].head(2).tolist()
            event = lw.tag(dataset, first, "interesting")
            print(f"event {event['id']} labeled {event['tag_count']} items")

            job = lw.train(dataset, args.algorithm, json.loads(args.parameters), index=True)
            job.wait(progress=True, timeout=1800)  # raises LabelwiseError if a job fails
            ids, vectors = lw.vectors(job.model_id)
            print(f"model {job.model_id}: {vectors.shape[1]}-d vectors for {len(ids)} items")

            # exclude_labeled keeps the query items themselves (labeled here): leave them out
            near = lw.similar(dataset, job.model_id, first, limit=10 + len(first), exclude_labeled=True)
            unlabeled = [row["item_id"] for row in near if row["item_id"] not in first]
            print("most similar unlabeled items:", unlabeled[:10])

            print("wrote", lw.export(dataset, args.out))
        except LabelwiseError as error:
            print(f"refused: {error} (code {error.code}, status {error.status})")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
