"""Projection and clustering jobs from the command line (`labelwise jobs submit --kind ...`)."""

from __future__ import annotations

import json

import numpy as np

from backend.cli.jobs import main
from tests.helpers.cli import cli  # noqa: F401  (the CLI runner fixture)


def _submit(cli_runner, *args: str) -> int:
    result = cli_runner.invoke(main, ["jobs", "submit", *args, "--wait"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    return int(result.output.split()[1])


def test_cli_projects_and_clusters_a_models_vectors(cli, image_dataset, database, job_settings):  # noqa: F811
    train = _submit(
        cli, "--dataset", image_dataset.name, "--algorithm", "pca",
        "--param", "n_components=4", "--param", "batch_size=8", "--param", "image_size=12",
    )  # fmt: skip
    assert train
    models = cli.invoke(main, ["jobs", "models", "--dataset", image_dataset.name])
    model_id = int(models.output.split()[0])
    _submit(cli, "--kind", "infer", "--model", str(model_id))
    project = _submit(cli, "--kind", "project", "--model", str(model_id), "--param", "dimensions=3")
    cluster = _submit(
        cli, "--kind", "cluster", "--model", str(model_id), "--param", "method=kmeans", "--param", "k=3"
    )

    outputs = job_settings.artifact_dir / "models" / str(model_id)  # where a model's task jobs write
    coords = np.load(outputs / "project" / f"job-{project}" / "coords.npy")
    clusters = np.load(outputs / "cluster" / f"job-{cluster}" / "clusters.npy")
    assert coords.shape == (40, 3) and clusters.shape == (40,)
    meta = json.loads((outputs / "cluster" / f"job-{cluster}" / "explorer.json").read_text())
    assert meta["clusters"] == 3 == len(set(clusters.tolist()))

    refused = cli.invoke(
        main, ["jobs", "submit", "--kind", "cluster", "--model", str(model_id), "--param", "k=1"]
    )
    assert refused.exit_code != 0 and "KMeans k must be at least 2" in refused.output
    missing = cli.invoke(main, ["jobs", "submit", "--kind", "project"])
    assert missing.exit_code != 0 and "--model is required for project" in missing.output
