"""``JobContext``: everything the ML code of a job receives, and all it may do to report back.

How to add an algorithm (autoencoder, classifier, ...)
======================================================

1. Define it as an ``Algorithm`` in ``backend/algorithms/<name>.py`` (plain data; no ML imports
   there, and no import of the registry): key, kind
   (``feature_extractor`` or ``classifier``), title, description, the JSON schema of its training
   parameters (type, default, minimum/maximum, enum, title, description per field), a
   ``check(params) -> list[str]`` for rules between fields, ``min_items``, ``needs_labels`` and
   ``entry_point="workers.algorithms.<name>"``. Add it to ``BUILTINS`` in
   ``backend/algorithms/registry.py``.
2. Write ``workers/algorithms/<name>.py`` with two functions::

       def train(ctx: JobContext) -> None: ...
       def infer(ctx: JobContext) -> None: ...

   Import torch / keras inside this module only; the web process never imports it.

What a training run does with the context
-----------------------------------------
- ``ctx.params``: the validated parameters, defaults filled in.
- ``ctx.items``: ``ItemRef`` of every readable item of the dataset, in dataset order;
  ``ctx.labels`` maps item id -> label class ids (the label snapshot taken when the job was
  submitted; empty for algorithms that do not need labels); ``ctx.classes`` lists the classes
  ({"id", "name", "color"}) in display order.
- Pixels: ``workers.images.load_batch(ctx, refs, size=..., transform=...)`` reads, transforms
  (the same transforms as the pages) and resizes a batch; it skips unreadable items and logs them.
  ``ctx.reader.read(ref, stride=...)`` reads one item raw; ``ctx.reader.read_masked(ref,
  stride=...)`` gives its source's mask too (True: masked; leave those pixels out), and
  ``ref.source.detector.integrator(...)`` its PONI geometry (pyFAI) where it has one.
- Every step (batch): ``ctx.check_canceled()`` first. It raises ``JobCanceled`` when a user
  canceled the job or the server is stopping; let it propagate (clean up in ``finally`` if you
  must). Then ``ctx.progress(done, total, epoch=e, epochs=n)``.
- Every epoch: ``ctx.metrics(epoch, {"train_loss": .., "val_loss": .., "accuracy": ..,
  "val_accuracy": ..})``; the job page draws ``*loss`` keys on the loss plot and ``*accuracy``
  keys on the accuracy plot. Epochs count from 1.
- ``ctx.log("...")`` for anything a user would want to read later.
- Write every file into ``ctx.artifact_dir`` (a temporary directory). It is renamed into place
  only when ``train`` returns normally, so a failed or killed job never leaves a model that looks
  usable. Put the final numbers in ``ctx.summary`` (shown with the model).
- ``ctx.device`` is ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (``LABELWISE_WORKER_DEVICE``, default:
  CUDA when torch sees one). Keras users: ``"cpu"`` -> ``/CPU:0``, ``"cuda:N"`` -> ``/GPU:N``.
- Raise any exception to fail the job: its type, message and traceback are shown to the user.

What an inference run does
--------------------------
- ``ctx.model_dir``: the trained model's files (read only); ``ctx.params``: the parameters it was
  trained with; ``ctx.options``: the inference options (the algorithm's ``infer_schema``).
- Feature vectors: ``ctx.write_vectors(item_ids, vectors)`` (float32, row i belongs to item
  ``item_ids[i]``); classifiers also ``ctx.write_probabilities(item_ids, probabilities)``, columns
  in the order of ``ctx.classes``. Other outputs (reconstructions, ...) go into ``artifact_dir``.

Tasks (build-index, project) get ``ctx.input_dir``: the latest inference output of the model.
Dataset tasks (feature-report) get ``ctx.inputs``, gathered by their ``Task.prepare``. A classifier
whose schema marks a parameter ``x-feature-model`` gets that model's vectors as ``ctx.input_dir``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.datasets.refs import ItemReader, ItemRef
from backend.jobs.execution import CANCEL, GONE, JobSpec, ProgressReport, finish_job, report_progress
from backend.jobs.states import CANCELED
from backend.settings import Settings
from backend.storage.types import utcnow

if TYPE_CHECKING:
    from workers.store import JobStore

log = logging.getLogger("labelwise.worker")

MAX_LOG_LINES = 5000  # per attempt; more is noise, and rows are not free
FLUSH_EVERY = 1.0  # seconds: progress reaches the database (and the page) at most this often


class JobCanceled(Exception):
    """Raised by ``check_canceled`` when the job must stop: let it propagate."""


class JobInterrupted(JobCanceled):
    """The worker is shutting down: the job goes back to the queue and runs again later."""


class JobLost(JobCanceled):
    """The job is no longer this worker's (reaped after missed heartbeats, or retried)."""


class JobContext:
    """The handle a running job's code gets. Thread-safe for progress, metrics and log calls."""

    def __init__(
        self,
        spec: JobSpec,
        settings: Settings,
        store: JobStore,
        artifact_dir: Path,
        stopping: threading.Event | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.job_id = spec.job_id
        self.attempt = spec.attempt
        self.kind = spec.kind
        self.algorithm = spec.algorithm
        self.dataset_id = spec.dataset_id
        self.model_id = spec.model_id
        self.items: list[ItemRef] = spec.items
        self.labels: dict[int, list[int]] = spec.labels
        self.classes: list[dict[str, Any]] = spec.classes
        self.inputs: list[dict[str, Any]] = spec.inputs  # what a dataset task reads (its ``prepare``)
        if spec.kind == "train":
            self.params: dict[str, Any] = spec.parameters
            self.options: dict[str, Any] = {}
        else:
            self.params = spec.model_parameters
            self.options = spec.parameters
        root = settings.artifact_dir
        self.artifact_dir = artifact_dir
        self.model_dir: Path | None = root / spec.model_artifact if spec.model_artifact else None
        self.input_dir: Path | None = root / spec.input_dir if spec.input_dir else None
        self.summary: dict[str, Any] = {}
        self._store = store
        self._stopping = stopping or threading.Event()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one report in flight: they reach the database in order
        self._pending = ProgressReport()
        self._log_count = 0
        self._last_flush = 0.0
        self._signal = "run"
        self._active_at = utcnow()  # the code's last report or cancel check (the page's "no progress")
        self._cancel_seen: float | None = None  # monotonic: when a flush first read the cancel request
        self._reader: ItemReader | None = None
        self._device: str | None = None

    # ---- reporting ---------------------------------------------------------------------------

    def progress(self, done: int, total: int, epoch: int | None = None, epochs: int | None = None) -> None:
        """Items (or steps) done of total, and the current epoch (from 1) of ``epochs``."""
        with self._lock:
            self._active_at = utcnow()
            self._pending.done, self._pending.total = int(done), int(total)
            if epoch is not None:
                self._pending.epoch = int(epoch)
            if epochs is not None:
                self._pending.epochs = int(epochs)
        if time.monotonic() - self._last_flush >= FLUSH_EVERY:
            self.flush()

    def metrics(self, epoch: int, values: dict[str, float]) -> None:
        """One epoch's metrics; written at once so the loss plot moves with each epoch."""
        clean = {str(k): float(v) for k, v in values.items() if v is not None and np.isfinite(float(v))}
        with self._lock:
            self._active_at = utcnow()
            self._pending.metrics.append((int(epoch), clean))
        self.flush()

    def log(self, message: str, level: str = "info") -> None:
        log.log(logging.ERROR if level == "error" else logging.INFO, "job %s: %s", self.job_id, message)
        with self._lock:
            self._active_at = utcnow()
            self._log_count += 1
            if self._log_count < MAX_LOG_LINES:
                self._pending.logs.append((utcnow(), level, str(message)))
            elif self._log_count == MAX_LOG_LINES:
                self._pending.logs.append((utcnow(), "info", "(log truncated: too many lines)"))

    def check_canceled(self) -> None:
        """Raise ``JobCanceled`` if the job should stop now. Call it at every step."""
        self._active_at = utcnow()
        if self._stopping.is_set():
            raise JobInterrupted("the worker is shutting down")
        if self._signal == GONE:
            raise JobLost("this job is no longer running on this worker")
        if self._signal == CANCEL:
            raise JobCanceled("canceled on request")

    def flush(self) -> str:
        """Send what is pending (and a heartbeat); returns the job's signal (run, cancel, gone).

        The heartbeat thread flushes too. Without ``_flushing`` its older report (step 3 of 4)
        could be written after the main thread's last one, and a finished job would read 75 %.
        """
        with self._flushing:
            with self._lock:
                report, self._pending = self._pending, ProgressReport()
                report.active_at = self._active_at
                self._last_flush = time.monotonic()
            try:
                self._signal = self._store.call(report_progress, self.job_id, self.attempt, report)
            except Exception as exc:  # the database blinked: keep the work, try again next time
                log.warning("job %s: progress not saved (%s: %s)", self.job_id, type(exc).__name__, exc)
                with self._lock:
                    self._pending.logs[:0] = report.logs
                    self._pending.metrics[:0] = report.metrics
                    for name in ("done", "total", "epoch", "epochs"):
                        if getattr(self._pending, name) is None:
                            setattr(self._pending, name, getattr(report, name))
            if self._signal == CANCEL and self._cancel_seen is None:
                self._cancel_seen = time.monotonic()
            return self._signal

    def abandon_if_stuck(self, grace: float) -> bool:
        """Mark the job canceled without its code when a cancel request went unanswered ``grace`` s.

        Its code checks for a cancel at every step; one that does not for that long is stuck in a
        call (a hung file system, a device) and would hold the job "running" until its time limit.
        The thread cannot be stopped from here: it stays busy until that call returns, then finds
        the job gone and drops its results. True when the job was marked canceled now.
        """
        seen = self._cancel_seen
        if self._signal != CANCEL or seen is None or time.monotonic() - seen < grace:
            return False
        message = (
            f"canceled: no step boundary within {grace:g} s of the cancel request, so the job was marked "
            "canceled without it (stuck in one call); its results are dropped. Its worker thread stays "
            "busy until that call returns: restart the worker if it never does."
        )
        try:
            written = self._store.call(
                finish_job, self.job_id, self.attempt, CANCELED, message=message, error=None
            )
        except Exception as exc:  # the database blinked: the next heartbeat tries again
            log.warning("job %s: could not mark it canceled (%s: %s)", self.job_id, type(exc).__name__, exc)
            return False
        self._signal = GONE
        if written:
            log.error("job %s: %s", self.job_id, message)
        return bool(written)

    # ---- inputs and outputs ------------------------------------------------------------------

    @property
    def reader(self) -> ItemReader:
        if self._reader is None:
            self._reader = ItemReader(self.settings)
        return self._reader

    @property
    def device(self) -> str:
        """Where to compute: settings.worker_device, or with "auto" CUDA if torch sees one."""
        if self._device is None:
            wanted = self.settings.worker_device
            if wanted != "auto":
                self._device = wanted
            else:
                try:
                    import torch

                    self._device = "cuda" if torch.cuda.is_available() else "cpu"
                except ImportError:
                    self._device = "cpu"
        return self._device

    def write_vectors(self, item_ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Feature vectors aligned with item ids: ``vectors.npy`` (float32) + ``item_ids.npy`` (int64)."""
        ids = np.asarray(item_ids, dtype=np.int64)
        data = np.asarray(vectors, dtype=np.float32)
        if data.ndim != 2 or len(data) != len(ids):
            raise ValueError(f"vectors {data.shape} do not match {len(ids)} item ids")
        np.save(self.artifact_dir / "vectors.npy", data)
        np.save(self.artifact_dir / "item_ids.npy", ids)

    def write_probabilities(self, item_ids: np.ndarray | list[int], probabilities: np.ndarray) -> None:
        """Class probabilities (N x classes, float32) in the column order of ``ctx.classes``:
        ``probabilities.npy`` + ``item_ids.npy`` + ``classes.json`` ([{"label_id", "name"}])."""
        ids = np.asarray(item_ids, dtype=np.int64)
        data = np.asarray(probabilities, dtype=np.float32)
        if data.ndim != 2 or len(data) != len(ids) or data.shape[1] != len(self.classes):
            raise ValueError(
                f"probabilities {data.shape} do not match {len(ids)} items x {len(self.classes)} classes"
            )
        np.save(self.artifact_dir / "probabilities.npy", data)
        np.save(self.artifact_dir / "item_ids.npy", ids)
        columns = [{"label_id": int(c["id"]), "name": c["name"]} for c in self.classes]
        (self.artifact_dir / "classes.json").write_text(json.dumps(columns))
