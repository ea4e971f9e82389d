"""Where job outputs live under the artifact dir, and how they become visible only when whole.

A job writes into a temporary directory beside its final place and ``promote`` renames it there
at the end (same file system, so the rename is atomic). A job that fails or is killed leaves at
most a ``.tmp-*`` directory, which nothing reads and ``remove_temp_dirs`` cleans up.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from backend.errors import NotFound
from backend.jobs import states

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.storage.job_tables import Job, Model

TEMP_PREFIX = ".tmp-job"
# Files the doors read out of an output dir (the workers write them; see workers/algorithms/).
VECTORS = "vectors.npy"  # (n, d) float32 feature vectors an inference wrote
ITEM_IDS = "item_ids.npy"  # (n,) int64: the item id of each row beside it
CLUSTERS = "clusters.npy"  # (n,) int: the cluster of each item (-1: noise), a cluster job
CONFUSION_MATRIX = "confusion_matrix.json"  # {"labels", "matrix"}: rows true, columns predicted
RECONSTRUCTIONS = "reconstructions.npy"  # (n, h, w) float32 in [0, 1], autoencoder/pca inference
RECONSTRUCTION_ITEM_IDS = "reconstruction_item_ids.npy"  # the item id of each reconstruction


def final_relpath(kind: str, job_id: int, model_id: int | None) -> str:
    """Relative path of a job's outputs: a model's files, one inference run, or a task's files."""
    if kind == "train" and model_id is not None:
        return f"models/{model_id}/model"
    if model_id is not None:
        return f"models/{model_id}/{kind}/job-{job_id}"
    return f"jobs/job-{job_id}"


def make_temp_dir(root: Path, final_rel: str, job_id: int, attempt: int) -> Path:
    final = root / final_rel
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f"{TEMP_PREFIX}{job_id}-a{attempt}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    return temp


def promote(temp: Path, final: Path) -> None:
    """Move a finished temp dir into place, replacing an older result (e.g. of a failed attempt)."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(temp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, final)


def remove_temp_dirs(root: Path, final_rel: str, job_id: int) -> int:
    """Delete what dead attempts of a job left behind; returns how many dirs went."""
    parent = (root / final_rel).parent
    if not parent.is_dir():
        return 0
    removed = 0
    for path in parent.glob(f"{TEMP_PREFIX}{job_id}-a*"):
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def resolve_output(root: Path, relpath: str, name: str) -> Path:
    """A file inside an output dir by its bare name; never a path outside it."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise NotFound(f"no output named '{name}'")
    path = (root / relpath / name).resolve()
    base = (root / relpath).resolve()
    if path.parent != base or not path.is_file():
        raise NotFound(f"no output named '{name}'")
    return path


def list_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def model_dir(model: Model, settings: Settings) -> Path | None:
    """The directory of a ready model's files, if it is there."""
    if model.state != states.MODEL_READY or not model.artifact_path:
        return None
    directory = settings.artifact_dir / model.artifact_path
    return directory if directory.is_dir() else None


def job_dir(job: Job, settings: Settings) -> Path | None:
    """The output directory of a job that succeeded, if it is there."""
    if job.state != states.SUCCEEDED or not job.outputs.get("dir"):
        return None
    directory = settings.artifact_dir / job.outputs["dir"]
    return directory if directory.is_dir() else None


def model_files(model: Model, settings: Settings) -> list[str]:
    """The names of a ready model's files (none while it trains, or when it failed)."""
    directory = model_dir(model, settings)
    return list_files(directory) if directory else []


def job_output_names(job: Job) -> list[str]:
    """The names of the files a succeeded job wrote (``/jobs/{id}/outputs/{name}``), as recorded."""
    return list(job.outputs.get("files") or [])
