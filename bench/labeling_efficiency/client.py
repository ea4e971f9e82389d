"""A small client of Labelwise's public REST API: all the simulated expert may use.

Every call is an HTTP request to ``/api/v1``; nothing reaches into the server's modules. Job
waits are timed so the report can say how long the expert sat waiting for training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

FINISHED = ("succeeded", "failed", "canceled")


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        super().__init__(
            f"{response.request.method} {response.request.url.path} -> {response.status_code} {message}"
        )
        self.status = response.status_code


@dataclass
class LabelwiseClient:
    base_url: str
    tagger: str = "simulated-expert"
    timeout: float = 600.0
    job_wait_seconds: float = 0.0
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.base_url.rstrip("/") + "/api/v1",
            headers={"X-Labelwise-Tagger": self.tagger},
            timeout=self.timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json() if response.content else None

    # ---- datasets, items, classes, labels ----------------------------------------------------

    def dataset_by_name(self, name: str) -> dict[str, Any] | None:
        return next((d for d in self._call("GET", "/datasets") if d["name"] == name), None)

    def create_dataset(self, name: str, folders: list[str]) -> dict[str, Any]:
        return self._call("POST", "/datasets", json={"name": name, "sources": folders})["dataset"]

    def items(self, dataset_id: int, *, filter: str = "all", page: int = 500) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            body = self._call(
                "GET",
                f"/datasets/{dataset_id}/items",
                params={"filter": filter, "offset": len(out), "limit": page},
            )
            out.extend(body["items"])
            if len(out) >= body["total"] or not body["items"]:
                return out

    def first_unlabeled(self, dataset_id: int, count: int = 1) -> list[dict[str, Any]]:
        params = {"filter": "unlabeled", "limit": count}
        return self._call("GET", f"/datasets/{dataset_id}/items", params=params)["items"]

    def classes(self, dataset_id: int) -> list[dict[str, Any]]:
        return self._call("GET", f"/datasets/{dataset_id}/classes")

    def create_class(self, dataset_id: int, name: str) -> dict[str, Any]:
        return self._call("POST", f"/datasets/{dataset_id}/classes", json={"name": name})

    def tag(self, dataset_id: int, item_ids: list[int], label_id: int | None, kind: str = "manual") -> dict:
        body = {"item_ids": item_ids, "label_id": label_id, "op": "set", "kind": kind}
        return self._call("POST", f"/datasets/{dataset_id}/tags", json=body)

    def labels(self, dataset_id: int) -> dict[int, list[int]]:
        rows = self._call("GET", f"/datasets/{dataset_id}/labels")
        return {row["item_id"]: row["label_ids"] for row in rows}

    def algorithms(self) -> dict[str, dict[str, Any]]:
        """Registered algorithms by key, each with its ``parameters_schema``."""
        return {a["key"]: a for a in self._call("GET", "/algorithms")}

    def run_job(self, **body: Any) -> dict[str, Any]:
        """Submit a job and wait for it; the wait is added to ``job_wait_seconds``."""
        return self._wait(self._call("POST", "/jobs", json=body), body.get("kind"))

    def training_suggestion(self, dataset_id: int) -> dict[str, Any]:
        """What the train page suggests: ``algorithm``, ``reason``, ``untrained`` (best first)."""
        return self._call("GET", f"/datasets/{dataset_id}/training-suggestion")

    def feature_report(self, dataset_id: int) -> dict[str, Any]:
        return self._call("GET", f"/datasets/{dataset_id}/feature-report")

    def run_feature_report(self, dataset_id: int) -> dict[str, Any]:
        """Run the feature report (as its button does), wait for it, and return it."""
        self._wait(self._call("POST", f"/datasets/{dataset_id}/feature-report", json={}), "feature-report")
        return self.feature_report(dataset_id)

    def _wait(self, job: dict[str, Any], kind: str | None) -> dict[str, Any]:
        start = time.perf_counter()
        while job["state"] not in FINISHED:
            time.sleep(0.2)
            job = self._call("GET", f"/jobs/{job['id']}")
        self.job_wait_seconds += time.perf_counter() - start
        self.jobs.append(job)
        if job["state"] != "succeeded":
            raise RuntimeError(f"job {job['id']} ({kind}) {job['state']}: {job.get('error')}")
        return job

    # ---- guided labeling ---------------------------------------------------------------------

    def similar(
        self, dataset_id: int, model_id: int, item_ids: list[int], limit: int, mode: str = "mean"
    ) -> list[dict]:
        params: dict[str, Any] = {
            "model_id": model_id,
            "item_id": item_ids,
            "mode": mode,
            "exclude_labeled": True,
            "limit": limit,
        }
        return self._call("GET", f"/datasets/{dataset_id}/similar", params=params)["items"]

    def label_similar(
        self, dataset_id: int, model_id: int, query: list[int], item_ids: list[int], label_id: int, shown: int
    ) -> dict[str, Any]:
        body = {
            "model_id": model_id,
            "query_item_ids": query,
            "item_ids": item_ids,
            "label_id": label_id,
            "shown": shown,
        }
        return self._call("POST", f"/datasets/{dataset_id}/similar/label", json=body)

    def probability_candidates(
        self, dataset_id: int, model_id: int, threshold: float, page: int = 500
    ) -> list[dict[str, Any]]:
        """The whole gallery of unlabeled items whose arg-max class passes ``threshold``."""
        out: list[dict[str, Any]] = []
        while True:
            params = {"model_id": model_id, "threshold": threshold, "offset": len(out), "limit": page}
            body = self._call("GET", f"/datasets/{dataset_id}/probability", params=params)
            out.extend(body["items"])
            if len(out) >= body["count"] or not body["items"]:
                return out

    def apply_probability(
        self, dataset_id: int, model_id: int, threshold: float, label_id: int | None = None
    ) -> dict[str, Any]:
        """One class above the threshold, or (no ``label_id``) every item's arg-max class."""
        # The expert has read the gallery (``clean_prefix``) before applying: it confirms the batch
        # and takes the model as it is, so the study measures the loop, not the gate.
        body: dict[str, Any] = {
            "model_id": model_id,
            "threshold": threshold,
            "overwrite": False,
            "confirm": True,
            "override_unfit": True,
        }
        body.update({"label_id": label_id} if label_id is not None else {"all_classes": True})
        return self._call("POST", f"/datasets/{dataset_id}/probability/apply", json=body)
