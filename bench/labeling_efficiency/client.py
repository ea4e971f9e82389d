"""The study's calls to the server: the next-action queue, its acceptance, batch guardrail flags,
the review of suspected labels and the final auto-labeling, each one ``labelwise_client.Client``
public call (answers in the plain shapes the study reads), and the waits it times: a job with the
inference its chained training queues, and the server's own work for a dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from labelwise_client import Client

FOLLOW_UP_SECONDS = 60.0  # the server's ticker queues a chained step within seconds


@dataclass
class QueueClient:
    """A ``labelwise_client.Client`` plus the queue's calls; times every job wait."""

    client: Client
    job_wait_seconds: float = 0.0
    jobs: list[int] = field(default_factory=list)

    def close(self) -> None:
        self.client.close()

    # ---- the queue ---------------------------------------------------------------------------

    def next_actions(self, dataset_id: int, limit: int = 10) -> dict[str, Any]:
        """``suggestions`` (ranked), ``needs`` and ``stopping`` (or None)."""
        return self.client.next_actions(dataset_id, limit=limit)

    def accept(
        self,
        dataset_id: int,
        key: str,
        item_ids: list[int] | None = None,
        label_id: int | None = None,
        parameters: dict[str, Any] | None = None,
        rejected_item_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """``labeled``, ``job_ids``, ``batch_id``, ``skipped``; 409 (CONFLICT) when stale.
        ``parameters``: a training suggestion's parameters changed (as on the train form).
        ``rejected_item_ids``: the batch's items left out as not its class (the tiles clicked out
        one by one); None: the server counts every item left out."""
        answer = self.client.accept(
            dataset_id,
            key,
            item_ids=item_ids,
            label=label_id,
            rejected_item_ids=rejected_item_ids,
            parameters=parameters or None,
        )
        answer.pop("jobs")  # the study waits on ``job_ids`` itself (``wait_jobs``)
        return answer

    def batch_flags(
        self, dataset_id: int, model_id: int, item_ids: list[int], label_id: int | None
    ) -> dict[int, list[str]]:
        """The guardrail flags of a batch: item id -> reasons (what the pages show as badges)."""
        found = self.client.batch_flags(dataset_id, model_id, item_ids, label=label_id)
        return {int(flag["item_id"]): list(flag["reasons"]) for flag in found["flags"]}

    def label_suspects(self, dataset_id: int, model_id: int, limit: int = 48) -> list[dict[str, Any]]:
        """The ``limit`` most suspect labels (one page, as the review page shows them)."""
        return list(self.client.label_suspects(dataset_id, model_id, limit=limit)["suspects"])

    def review(
        self, dataset_id: int, item_id: int, action: str, label_id: int | None, model_id: int | None
    ) -> dict[str, Any]:
        return self.client.review(dataset_id, item_id, action, label=label_id, model=model_id)

    def stopping_estimate(self, dataset_id: int) -> dict[str, Any]:
        """What is left, and how accurately the classifier would label it now (its default p)."""
        return self.client.stopping_estimate(dataset_id)

    def auto_label_rest(self, dataset_id: int, estimate: dict[str, Any]) -> dict[str, Any]:
        """The final action, on exactly what the estimate showed (409 when that changed)."""
        return self.client.auto_label_rest(dataset_id, estimate)

    def wait_jobs(self, job_ids: list[int], timeout: float = 3600.0) -> list[str]:
        """Wait for each job (polling its state), and for the inference a chained training queues
        by itself (as a person waits for the "train and apply" they clicked); the errors of those
        that did not succeed."""
        start = time.perf_counter()
        errors = []
        waiting = list(job_ids)
        while waiting:
            job_id = waiting.pop(0)
            self.jobs.append(job_id)
            job = self.client.job(job_id)
            while not job.finished and time.perf_counter() - start < timeout:
                time.sleep(0.5)
                job.refresh()
            if job.state != "succeeded":
                errors.append(f"job {job_id} {job.state}: {job.data.get('error') or ''}".rstrip(": "))
            elif job.data.get("chain") and job.data.get("kind") == "train":
                follow = self._follow_up(job_id, int(job.data["model_id"]), start + timeout)
                if follow is None:
                    errors.append(f"job {job_id} succeeded but the inference it chains was not queued")
                else:
                    waiting.append(follow)
        self.job_wait_seconds += time.perf_counter() - start
        return errors

    def wait_server(self, dataset_id: int, timeout: float = 3600.0) -> int:
        """Wait while the queue says the server works for the dataset by itself (keeping models
        fresh: a retrain, its inference, a feature report; ``running_job_ids`` and
        ``server_steps_due``), as a person waits for fresh models before the next batch; the jobs
        waited for."""
        start = time.perf_counter()
        waited: set[int] = set()
        while time.perf_counter() - start < timeout:
            answer = self.next_actions(dataset_id, 1)
            running = [int(j) for j in answer.get("running_job_ids") or []]
            if not running and not answer.get("server_steps_due"):
                break
            for job_id in running:
                waited.add(job_id)
                job = self.client.job(job_id)
                while not job.finished and time.perf_counter() - start < timeout:
                    time.sleep(0.5)
                    job.refresh()
            if not running:
                time.sleep(0.5)  # the server's next round queues it
        self.jobs.extend(sorted(waited - set(self.jobs)))
        self.job_wait_seconds += time.perf_counter() - start
        return len(waited)

    def _follow_up(self, job_id: int, model_id: int, deadline: float) -> int | None:
        """The inference job the server queued after chained training ``job_id`` (None: none came)."""
        limit = min(deadline, time.perf_counter() + FOLLOW_UP_SECONDS)
        while time.perf_counter() < limit:
            jobs = self.client.jobs(model=model_id, kind="infer", limit=20)
            found = [j["id"] for j in jobs if j.get("caused_by_job_id") == job_id]
            if found:
                return int(found[0])
            time.sleep(0.5)
        return None
