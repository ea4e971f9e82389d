"""``Client``: the labeling loop from a script or notebook, one call per task, over REST only.

Every call is a request to ``/api/v1`` with a timeout; every failure raises ``LabelwiseError``.
Lists are paged through for you (the server caps a page at ``max_page_size``); ids are resolved
from names where a name is natural (a dataset, a class).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from labelwise_client.errors import LabelwiseError
from labelwise_client.jobs import Job
from labelwise_client.tables import Rows

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PAGE = 500  # the server's default page cap; a lower cap is learnt from its INVALID answer
DatasetRef = int | str | dict[str, Any]
ITEM_COLUMNS = (
    "id", "source", "path", "frame", "status", "label", "labels", "label_ids",
    "tagger", "labeled_at", "event_kind", "model_id",
)  # fmt: skip
SUSPECT_COLUMNS = (
    "item_id", "label_id", "suggested_label_id", "score", "confident_learning",
    "neighbour_disagreement", "cleanlab_issue",
)  # fmt: skip
DATASET_COLUMNS = (
    "id", "name", "item_count", "labeled_count", "unreadable_count", "multi_label", "display",
    "created_at", "updated_at",
)  # fmt: skip
JOB_COLUMNS = (
    "id", "kind", "state", "algorithm", "title", "dataset_id", "model_id", "caused_by_job_id",
    "chain", "submitted_by", "created_at", "finished_at", "error",
)  # fmt: skip


class Client:
    """A Labelwise server. ``url`` and ``token`` default to ``LABELWISE_URL`` and ``LABELWISE_TOKEN``.

    ``timeout`` bounds every request (seconds); downloads get ``download_timeout``. ``tagger`` is
    sent as ``X-Labelwise-Tagger`` (heeded only while the server has no accounts: with accounts,
    the token's user is the tagger).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        tagger: str | None = None,
        timeout: float = 30.0,
        download_timeout: float = 600.0,
    ) -> None:
        url = url or os.environ.get("LABELWISE_URL")
        if not url:
            raise LabelwiseError("NO_URL", "give the server's url, or set LABELWISE_URL")
        token = token if token is not None else os.environ.get("LABELWISE_TOKEN")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if tagger:
            headers["X-Labelwise-Tagger"] = tagger
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.download_timeout = download_timeout
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=timeout)
        self._page = PAGE
        # where a request went, for the errors that got no answer (credentials in the url left out)
        self._where = str(self._http.base_url.copy_with(userinfo=b"")).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ---------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, timeout=timeout or self.timeout, **kwargs)
        except httpx.TransportError as exc:
            raise LabelwiseError.from_transport(exc, f"{method} {self._where}{path}") from exc
        if response.status_code >= 400:
            raise LabelwiseError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json() if response.content else None
        except ValueError as exc:
            raise LabelwiseError(
                "BAD_RESPONSE", f"{method} {path}: not JSON", status=response.status_code
            ) from exc

    def _download(self, path: str, **params: Any) -> bytes:
        return self._request("GET", path, params=params, timeout=self.download_timeout).content

    def _pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, total: str = "total"
    ) -> list[Any]:
        """Every entry of a paged list, page after page (a smaller server cap is respected)."""
        return list(self._paged(path, (key,), params, total)[key])

    def _paged(
        self,
        path: str,
        keys: tuple[str, ...],
        params: dict[str, Any] | None = None,
        total: str = "total",
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The first page's body with each list in ``keys`` joined over every page (the first
        ``limit`` entries of ``keys[0]`` when given): a page that also carries figures (a count,
        an estimate) keeps them, read once. A smaller server cap is learnt and respected."""
        if limit is not None and limit < 1:
            raise LabelwiseError("INVALID", f"limit must be at least 1 (got {limit})")
        first: dict[str, Any] | None = None
        joined: dict[str, list[Any]] = {key: [] for key in keys}
        while True:
            got = len(joined[keys[0]])
            _want, body = self._page_at(path, params, got, None if limit is None else limit - got)
            first = first if first is not None else body
            for key in keys:
                joined[key].extend(body.get(key) or [])
            got = len(joined[keys[0]])
            if not body[keys[0]] or got >= body[total] or (limit is not None and got >= limit):
                return {**first, **joined}

    def _page_at(
        self, path: str, params: dict[str, Any] | None, offset: int, room: int | None = None
    ) -> tuple[int, Any]:
        """``(the limit asked for, the body)`` of the page at ``offset``, at most ``room`` entries
        when given. A smaller server cap (an INVALID naming ``max_limit``) is learnt and asked again."""
        while True:
            want = self._page if room is None else min(self._page, room)
            query = {**(params or {}), "offset": offset, "limit": want}
            try:
                return want, self._json("GET", path, params=query)
            except LabelwiseError as exc:
                cap = exc.details.get("max_limit")
                if exc.code == "INVALID" and isinstance(cap, int) and 0 < cap < self._page:
                    self._page = cap
                    continue
                raise

    def _list_pages(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every entry of a list answered in pages without a total (``offset``/``limit``, a page
        shorter than asked for is the last), page after page. A server from before the list paged
        answers it whole whatever the limit: longer than asked for, or the same first entry again."""
        rows: list[Any] = []
        while True:
            want, page = self._page_at(path, params, len(rows))
            if rows and page and page[0] == rows[0]:
                return rows  # offset not heeded: the first page was the whole list
            rows.extend(page)
            if len(page) != want:
                return rows

    # ---- datasets, classes, items ------------------------------------------------------------

    def datasets(self) -> Rows:
        """Every dataset with its item, labeled and unreadable counts."""
        rows = self._json("GET", "/datasets")
        return Rows(rows, DATASET_COLUMNS)

    def create_dataset(self, name: str, sources: list[str], *, multi_label: bool = False) -> dict[str, Any]:
        """A dataset of folders (under the server's data roots) or Tiled URLs, scanned at once."""
        body = {"name": name, "sources": sources, "multi_label": multi_label}
        return dict(self._json("POST", "/datasets", json=body, timeout=self.download_timeout)["dataset"])

    def dataset_id(self, dataset: DatasetRef) -> int:
        """An id from an id, a dataset dict, or a name (an unknown name raises NOT_FOUND)."""
        if isinstance(dataset, dict):
            return int(dataset["id"])
        if isinstance(dataset, int):
            return dataset
        for row in self._json("GET", "/datasets"):
            if row["name"] == dataset:
                return int(row["id"])
        raise LabelwiseError("NOT_FOUND", f"no dataset is named '{dataset}'", status=404)

    def classes(self, dataset: DatasetRef) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/datasets/{self.dataset_id(dataset)}/classes"))

    def add_class(self, dataset: DatasetRef, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, **fields}
        return dict(self._json("POST", f"/datasets/{self.dataset_id(dataset)}/classes", json=body))

    def class_id(self, dataset: DatasetRef, label: int | str) -> int:
        """A class id from an id or a class name of the dataset."""
        if isinstance(label, int):
            return label
        for row in self.classes(dataset):
            if row["name"] == label:
                return int(row["id"])
        raise LabelwiseError("NOT_FOUND", f"the dataset has no class named '{label}'", status=404)

    def _class_ids(self, dataset_id: int, labels: Iterable[int | str]) -> list[int]:
        """Class ids from ids or class names, the classes read once (an unknown name: NOT_FOUND)."""
        wanted = list(labels)
        if all(isinstance(label, int) for label in wanted):
            return [int(label) for label in wanted]
        names = {row["name"]: int(row["id"]) for row in self.classes(dataset_id)}
        missing = sorted({label for label in wanted if isinstance(label, str) and label not in names})
        if missing:
            raise LabelwiseError("NOT_FOUND", f"the dataset has no class named '{missing[0]}'", status=404)
        return [label if isinstance(label, int) else names[label] for label in wanted]

    def items(self, dataset: DatasetRef, *, filter: str = "all") -> Rows:
        """Every item with its labels by name and who set them, how (event kind) and with which model.

        ``filter``: all, labeled, unlabeled or unreadable. A few reads whatever the size: the JSON
        export (one object per item in position order: labels, latest tagger and time), the pages
        of unreadable items (their status), and the event pages (kind and model of each action).
        """
        if filter not in ("all", "labeled", "unlabeled", "unreadable"):
            raise LabelwiseError(
                "INVALID", f"unknown filter '{filter}' (all, labeled, unlabeled, unreadable)"
            )
        dataset_id = self.dataset_id(dataset)
        base = f"/datasets/{dataset_id}"
        class_ids = {c["name"]: c["id"] for c in self.classes(dataset_id)}
        unreadable = {
            item["id"]: item["status"]
            for item in self._pages(f"{base}/items", "items", {"filter": "unreadable"})
        }
        text = self._download(
            f"{base}/export", format="csv", unlabeled=str(filter != "labeled").lower()
        ).decode()
        actions = {
            (event["tagger"], _utc(event["created_at"])): (event["kind"], event["model_id"])
            for event in self._pages(f"{base}/events", "events")
        }
        rows: list[dict[str, Any]] = []
        row: dict[str, Any] = {}
        # One CSV row per (item, label) in item position order: an item's rows are consecutive.
        for item_id, source, uri, frame, label, tagger, labeled_at in _csv_rows(text):
            number = int(item_id)
            if row.get("id") != number:
                row = {
                    "id": number, "source": source, "path": uri, "frame": int(frame or 0),
                    "status": unreadable.get(number, "ok"), "label": None, "labels": [], "label_ids": [],
                    "tagger": None, "labeled_at": None, "event_kind": None, "model_id": None,
                }  # fmt: skip
                rows.append(row)
            if not label:
                continue
            row["labels"].append(label)
            if label in class_ids:
                row["label_ids"].append(class_ids[label])
            when = _utc(labeled_at)
            if when is not None and (row["labeled_at"] is None or when > row["labeled_at"]):
                row["tagger"], row["labeled_at"] = tagger, when
        for row in rows:
            if row["labels"]:
                row["label"] = "|".join(row["labels"])
                row["event_kind"], row["model_id"] = actions.get(
                    (row["tagger"], row["labeled_at"]), (None, None)
                )
        if filter == "unlabeled":
            rows = [r for r in rows if not r["labels"]]
        elif filter == "unreadable":
            rows = [r for r in rows if r["id"] in unreadable]
        return Rows(rows, ITEM_COLUMNS)

    def labels(
        self, dataset: DatasetRef, *, as_of: datetime | str | None = None, tagger: str | None = None
    ) -> Rows:
        """Labels per labeled item: current, as they stood at ``as_of`` (no zone: UTC), or by one tagger;
        every labeled item, read page after page."""
        dataset_id = self.dataset_id(dataset)
        params: dict[str, Any] = {}
        if as_of is not None:
            params["as_of"] = _time(as_of)
        if tagger is not None:
            params["tagger"] = tagger
        names = {c["id"]: c["name"] for c in self.classes(dataset_id)}
        rows = [
            {"item_id": r["item_id"], "labels": [names.get(i, str(i)) for i in r["label_ids"]], **r}
            for r in self._list_pages(f"/datasets/{dataset_id}/labels", params)
        ]
        return Rows(rows, ("item_id", "labels", "label_ids"))

    # ---- labeling ----------------------------------------------------------------------------

    def tag(
        self,
        dataset: DatasetRef,
        items: Iterable[int],
        label: int | str | None,
        *,
        op: str = "set",
        kind: str = "manual",
    ) -> dict[str, Any]:
        """One labeling action on many items (``label`` by id or class name; None clears); the event.

        ``kind`` is manual, import or review: model-made events (similarity, probability) come only
        from the server's batch endpoints, which record the model they used (``similar`` etc.).
        """
        dataset_id = self.dataset_id(dataset)
        body = {
            "item_ids": [int(i) for i in items],
            "label_id": None if label is None else self.class_id(dataset_id, label),
            "op": op,
            "kind": kind,
        }
        return dict(self._json("POST", f"/datasets/{dataset_id}/tags", json=body))

    def undo(self, event: int | dict[str, Any]) -> dict[str, Any]:
        """Undo an event (by id or as returned by ``tag``) with a new ``undo`` event."""
        event_id = event["id"] if isinstance(event, dict) else event
        return dict(self._json("POST", f"/events/{event_id}/undo"))

    def events(
        self,
        dataset: DatasetRef,
        *,
        tagger: str | None = None,
        kind: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Rows:
        """Tag events, newest first, every one paged through; of a ``tagger``, a ``kind`` (manual,
        similarity, probability, undo, ...) and from ``since`` up to ``until`` where given."""
        params = _given(tagger=tagger, kind=kind, since=_time(since), until=_time(until))
        rows = self._pages(f"/datasets/{self.dataset_id(dataset)}/events", "events", params)
        return Rows(rows, ("id", "tagger", "created_at", "kind", "model_id", "tag_count", "undoes_event_id"))

    # ---- jobs and models ---------------------------------------------------------------------

    def algorithms(self, kind: str | None = None) -> list[dict[str, Any]]:
        return list(self._json("GET", "/algorithms", params={"kind": kind} if kind else None))

    def models(
        self, dataset: DatasetRef | None = None, *, kind: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """Models, newest first; of a dataset, a ``kind`` (feature_extractor, classifier) and a
        ``state`` where given."""
        dataset_id = self.dataset_id(dataset) if dataset is not None else None
        params = _given(dataset_id=dataset_id, kind=kind, state=state)
        return list(self._json("GET", "/models", params=params))

    def job(self, job_id: int) -> Job:
        return Job(self, self._json("GET", f"/jobs/{job_id}"))

    def jobs(
        self,
        dataset: DatasetRef | None = None,
        *,
        model: int | None = None,
        kind: str | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> Rows:
        """Jobs, newest first (``GET /jobs``), as the server lists them (``caused_by_job_id``: the
        job a follow-up follows), of a dataset, a ``model``, a ``kind`` (train, infer, ...) and a
        ``state`` where given; every one paged through, or the first ``limit``. ``job(id)`` gives
        a ``Job`` to wait on."""
        params: dict[str, Any] = {}
        if dataset is not None:
            params["dataset_id"] = self.dataset_id(dataset)
        if model is not None:
            params["model_id"] = model
        if kind is not None:
            params["kind"] = kind
        if state is not None:
            params["state"] = state
        return Rows(self._paged("/jobs", ("jobs",), params, "total", limit)["jobs"], JOB_COLUMNS)

    def submit(self, kind: str, **body: Any) -> Job:
        """Any job kind, as ``POST /jobs`` takes it (``dataset_id``, ``model_id``, ``parameters``...)."""
        return Job(self, self._json("POST", "/jobs", json={"kind": kind, **body}))

    def train(
        self,
        dataset: DatasetRef,
        algorithm: str,
        parameters: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        infer: bool = True,
        index: bool = False,
    ) -> Job:
        """Submit training; ``wait()`` then also runs inference (``infer``) and the similarity index
        (``index``) on the dataset. Where the server ran that step itself (a dataset that keeps
        models fresh: ``wait()`` follows the server's steps first), its job stands for the step and
        nothing is submitted twice."""
        dataset_id = self.dataset_id(dataset)
        body = {
            "dataset_id": dataset_id,
            "algorithm": algorithm,
            "parameters": parameters or {},
            "name": name,
        }
        job = self.submit("train", **body)

        def inference(done: Job) -> Job:
            model = int(done.model_id or 0)
            return job.server_step("infer", model) or self.infer(model, dataset_id)

        def index_build(done: Job) -> Job:
            model = int(done.model_id or 0)
            return job.server_step("build-index", model) or self.build_index(model, dataset_id)

        if infer:
            job.follow_ups.append(inference)
        if infer and index:
            job.follow_ups.append(index_build)
        return job

    def infer(
        self, model: int, dataset: DatasetRef | None = None, parameters: dict[str, Any] | None = None
    ) -> Job:
        dataset_id = self.dataset_id(dataset) if dataset is not None else None
        return self.submit("infer", model_id=model, dataset_id=dataset_id, parameters=parameters or {})

    def build_index(self, model: int, dataset: DatasetRef | None = None) -> Job:
        dataset_id = self.dataset_id(dataset) if dataset is not None else None
        return self.submit("build-index", model_id=model, dataset_id=dataset_id)

    # ---- guided labeling: the queue, probability batches, stopping, review, revoke -------------

    def next_actions(self, dataset: DatasetRef, *, limit: int = 10) -> dict[str, Any]:
        """What to do next (``GET .../next-actions``): ``suggestions`` ranked by expected labels
        per action (each with its ``key``, ``kind``, ``item_ids``, ``label_id``, ``model_id``,
        ``params``), ``needs``, ``stopping`` (the stopping estimate, or None),
        ``running_job_ids`` and ``server_steps_due`` (the server is still keeping models fresh)."""
        params = {"limit": limit}
        return dict(self._json("GET", f"/datasets/{self.dataset_id(dataset)}/next-actions", params=params))

    def accept(
        self,
        dataset: DatasetRef,
        suggestion: str | dict[str, Any],
        *,
        item_ids: Iterable[int] | None = None,
        label: int | str | None = None,
        rejected_item_ids: Iterable[int] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Carry out a suggestion (by ``key`` or as ``next_actions`` listed it): ``labeled``,
        ``skipped``, ``batch_id``, ``job_ids`` and ``jobs``, a ``Job`` for each of ``job_ids``.

        ``item_ids``: the members kept (None: all); ``rejected_item_ids``: the members left out
        that are not of the class, recorded as rejected for it (None: every member left out is);
        ``label``: another class for the batch; ``parameters``: changes to a training
        suggestion's parameters. CONFLICT (409) when the suggestion went stale: ask again."""
        dataset_id = self.dataset_id(dataset)
        body: dict[str, Any] = {
            "key": suggestion["key"] if isinstance(suggestion, dict) else suggestion,
            "item_ids": None if item_ids is None else [int(i) for i in item_ids],
            "label_id": None if label is None else self.class_id(dataset_id, label),
        }
        if rejected_item_ids is not None:
            body["rejected_item_ids"] = [int(i) for i in rejected_item_ids]
        if parameters is not None:
            body["parameters"] = parameters
        answer = dict(self._json("POST", f"/datasets/{dataset_id}/next-actions/accept", json=body))
        answer["jobs"] = [self.job(int(job_id)) for job_id in answer["job_ids"]]
        return answer

    def probability_candidates(
        self,
        dataset: DatasetRef,
        model: int,
        threshold: float,
        *,
        label: int | str | None = None,
        overwrite: bool = False,
        confirm_over: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The preview of a probability batch (``GET .../probability``): ``count``, ``fitness``,
        ``estimate``, ``needs_confirmation``, ``confirm_over``, ``flagged_count``, and as ``Rows``
        the ``items`` (item_id, label_id, probability; most probable first) and their guardrail
        ``flags`` (item_id, reasons). Every candidate is paged through, or the first ``limit``.
        ``seen_event_id`` (the newest label event the first page saw): pass it to ``apply_probability``.

        ``label``: one class (id or name); None: each item's most probable class. ``overwrite``:
        count labeled items too."""
        dataset_id = self.dataset_id(dataset)
        params: dict[str, Any] = {"model_id": model, "threshold": threshold, "overwrite": overwrite}
        if label is not None:
            params["label_id"] = self.class_id(dataset_id, label)
        if confirm_over is not None:
            params["confirm_over"] = confirm_over
        page = self._paged(f"/datasets/{dataset_id}/probability", ("items", "flags"), params, "count", limit)
        page["items"] = Rows(page["items"], ("item_id", "label_id", "probability"))
        page["flags"] = Rows(page["flags"], ("item_id", "reasons"))
        return page

    def apply_probability(
        self,
        dataset: DatasetRef,
        model: int,
        threshold: float,
        *,
        label: int | str | None = None,
        all_classes: bool = False,
        overwrite: bool = False,
        left_out_item_ids: Iterable[int] = (),
        rejected_item_ids: Iterable[int] = (),
        exclude_flagged: bool = False,
        override_unfit: bool = False,
        confirm: bool = False,
        expected_count: int | None = None,
        confirm_over: int | None = None,
        seen_event_id: int | None = None,
    ) -> dict[str, Any]:
        """Label every item at or above ``threshold`` as one event of kind probability
        (``POST .../probability/apply``): ``labeled``, the ``event`` (None: nothing passed) and
        ``left_out_not_in_batch`` / ``rejected_not_in_batch`` (how many ``left_out_item_ids`` /
        ``rejected_item_ids`` the batch did not hold: nothing left out, no rejection recorded).

        One ``label`` (id or name) or ``all_classes`` (each item's most probable class).
        ``left_out_item_ids``: out of this batch only; ``rejected_item_ids``: out, and recorded as
        not of their class (not offered in its later batches). CONFLICT (409, nothing labeled,
        ``details["reason"]`` says why) when the model is unfit without ``override_unfit``, the
        batch is over ``confirm_over`` (the server's setting by default) without ``confirm``, or
        no longer has ``expected_count`` items: confirm the count ``probability_candidates`` gave.
        ``seen_event_id``: the one ``probability_candidates`` gave; items changed since you looked
        (after it: by someone else, or in another tab) are left out, counted in ``skipped_changed``."""
        dataset_id = self.dataset_id(dataset)
        body = {
            "model_id": model,
            "threshold": threshold,
            "label_id": None if label is None else self.class_id(dataset_id, label),
            "all_classes": all_classes,
            "overwrite": overwrite,
            "left_out_item_ids": [int(i) for i in left_out_item_ids],
            "rejected_item_ids": [int(i) for i in rejected_item_ids],
            "exclude_flagged": exclude_flagged,
            "override_unfit": override_unfit,
            "confirm": confirm,
            "expected_count": expected_count,
            "confirm_over": confirm_over,
            "seen_event_id": seen_event_id,
        }
        return dict(self._json("POST", f"/datasets/{dataset_id}/probability/apply", json=body))

    def stopping_estimate(
        self, dataset: DatasetRef, *, threshold: float | None = None, model: int | None = None
    ) -> dict[str, Any]:
        """How many items are left and how accurately a classifier would label them now or with
        more labels (``GET .../stopping-estimate``): ``auto_label_count``, ``expected_accuracy``,
        ``with_more_labels``, ``reason``, and ``model_id``, ``threshold`` and ``seen_event_id``
        for ``auto_label_rest``. Defaults: threshold 0.9, the newest fit classifier."""
        params: dict[str, Any] = {}
        if threshold is not None:
            params["threshold"] = threshold
        if model is not None:
            params["model_id"] = model
        url = f"/datasets/{self.dataset_id(dataset)}/stopping-estimate"
        return dict(self._json("GET", url, params=params))

    def auto_label_rest(
        self,
        dataset: DatasetRef,
        estimate: dict[str, Any] | None = None,
        *,
        model: int | None = None,
        threshold: float | None = None,
        expected_count: int | None = None,
        seen_event_id: int | None = None,
        override_unfit: bool = False,
    ) -> dict[str, Any]:
        """Label every unlabeled item at or above the threshold with its top class, as one event
        (``POST .../auto-label-rest``): ``labeled``, ``event``, ``expected_accuracy``.

        Give the ``estimate`` (``stopping_estimate``'s answer) to label exactly what it showed:
        its model, threshold, ``auto_label_count`` and ``seen_event_id``; keywords override it.
        CONFLICT (409) when the batch changed since the estimate (its count, or items changed since
        you looked: by someone else, or in another tab): look at the estimate again."""
        shown = estimate or {}
        model = model if model is not None else shown.get("model_id")
        threshold = threshold if threshold is not None else shown.get("threshold")
        if model is None or threshold is None:
            raise LabelwiseError("INVALID", "give an estimate with a model, or model and threshold")
        body = {
            "model_id": model,
            "threshold": threshold,
            "expected_count": expected_count if expected_count is not None else shown.get("auto_label_count"),
            "seen_event_id": seen_event_id if seen_event_id is not None else shown.get("seen_event_id"),
            "override_unfit": override_unfit,
        }
        url = f"/datasets/{self.dataset_id(dataset)}/auto-label-rest"
        return dict(self._json("POST", url, json=body))

    def batch_flags(
        self,
        dataset: DatasetRef,
        model: int,
        items: Iterable[int],
        *,
        label: int | str | None = None,
        labels: Iterable[int | str] | None = None,
    ) -> dict[str, Any]:
        """The guardrail flags of any batch (``POST .../batch-flags``; what the pages show as
        badges): ``flags`` as ``Rows`` (item_id, reasons; only the items flagged), ``rule`` and
        ``distance_limit``. The batch would give its ``items`` one ``label`` or, in ``labels``,
        one class per item (ids or names); neither: only the distance rule applies. ``model``:
        the model whose vectors place the items."""
        dataset_id = self.dataset_id(dataset)
        body: dict[str, Any] = {
            "model_id": model,
            "item_ids": [int(i) for i in items],
            "label_id": None if label is None else self.class_id(dataset_id, label),
        }
        if labels is not None:
            body["label_ids"] = self._class_ids(dataset_id, labels)
        found = dict(self._json("POST", f"/datasets/{dataset_id}/batch-flags", json=body))
        found["flags"] = Rows(found["flags"], ("item_id", "reasons"))
        return found

    def label_suspects(self, dataset: DatasetRef, model: int, *, limit: int | None = None) -> dict[str, Any]:
        """Suspected wrong labels by a classifier (``GET .../label-suspects``): ``suspects`` as
        ``Rows`` (item_id, label_id, suggested_label_id, score, ...; most suspect first; every one
        paged through, or the first ``limit``), ``total``, ``sources``, ``fitness`` and
        ``labeled_since_training`` (labels newer than the model, none of them suspects)."""
        url = f"/datasets/{self.dataset_id(dataset)}/label-suspects"
        page = self._paged(url, ("suspects",), {"model_id": model}, "total", limit)
        page["suspects"] = Rows(page["suspects"], SUSPECT_COLUMNS)
        return page

    def review(
        self,
        dataset: DatasetRef,
        item_id: int,
        action: str,
        *,
        label: int | str | None = None,
        model: int | None = None,
    ) -> dict[str, Any]:
        """Answer a suspect (``POST .../review``): ``keep`` its label or ``relabel`` it with
        ``label`` (id or name); ``model``: the classifier whose suspicion this answers. The
        event (kind review); the item is no suspect of that model any more."""
        dataset_id = self.dataset_id(dataset)
        body = {
            "item_id": int(item_id),
            "action": action,
            "label_id": None if label is None else self.class_id(dataset_id, label),
            "model_id": model,
        }
        return dict(self._json("POST", f"/datasets/{dataset_id}/review", json=body))

    def revoke(
        self,
        dataset: DatasetRef,
        *,
        model: int | None = None,
        kind: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Take back every label ``model`` made here, or those of one event ``kind`` (probability,
        similarity, ...) made between ``since`` and ``until`` (no zone: UTC), as one undo event
        (``POST .../revoke``): ``revoked``, ``skipped`` (items changed since, by someone else or in
        another tab: left), ``event`` (undo it to put them back), ``event_ids``, ``event_count``.
        CONFLICT when none is left."""
        body = {
            "model_id": model,
            "kind": kind,
            "since": _time(since),
            "until": _time(until),
        }
        return dict(self._json("POST", f"/datasets/{self.dataset_id(dataset)}/revoke", json=body))

    # ---- results -----------------------------------------------------------------------------

    def vectors(self, model: int, dataset: DatasetRef | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, vectors) of the model's latest inference, row by row aligned; needs numpy."""
        import numpy as np

        params = {"dataset_id": self.dataset_id(dataset)} if dataset is not None else {}
        vectors = np.load(io.BytesIO(self._download(f"/models/{model}/vectors", format="npy", **params)))
        ids = np.load(io.BytesIO(self._download(f"/models/{model}/item-ids", **params)))
        return ids, vectors

    def probabilities(self, model: int, dataset: DatasetRef | None = None) -> pd.DataFrame:
        """Class probabilities of a classifier's latest inference: one row per item id, one column
        per class name; needs pandas. Another kind of model is refused as ``/probability`` refuses
        it (NOT_FOUND, reason ``no_probabilities``, "not a classifier"), not by a file name."""
        import numpy as np
        import pandas as pd

        kind = self._json("GET", f"/models/{int(model)}")["kind"]  # NOT_FOUND for an unknown model
        if kind != "classifier":
            raise LabelwiseError(
                "NOT_FOUND",
                f"model {model} wrote no class probabilities (it is a {kind}, not a classifier): "
                "choose a classifier model",
                status=404,
                details={"reason": "no_probabilities"},
            )
        params: dict[str, Any] = {"model_id": model, "kind": "infer", "state": "succeeded", "limit": 1}
        if dataset is not None:
            params["dataset_id"] = self.dataset_id(dataset)
        jobs = self._json("GET", "/jobs", params=params)["jobs"]
        if not jobs:
            raise LabelwiseError(
                "NOT_FOUND", f"model {model} has no finished inference: run infer first", status=404
            )
        base = f"/jobs/{jobs[0]['id']}/outputs"
        probabilities = np.load(io.BytesIO(self._download(f"{base}/probabilities.npy")))
        ids = np.load(io.BytesIO(self._download(f"{base}/item_ids.npy")))
        classes = json.loads(self._download(f"{base}/classes.json"))
        frame = pd.DataFrame(probabilities, columns=[c["name"] for c in classes])
        frame.index = pd.Index(ids, name="item_id")
        return frame

    def similar(
        self,
        dataset: DatasetRef,
        model: int,
        items: Iterable[int],
        *,
        limit: int = 48,
        mode: str = "mean",
        exclude_labeled: bool = False,
    ) -> Rows:
        """The ``limit`` items most similar to the query items (cosine), best first; a ``limit``
        over the server's page cap is read page after page.

        ``exclude_labeled`` leaves out labeled items but keeps the query items, labeled or not
        (the server's ranking does): drop them yourself for the unlabeled neighbours alone."""
        query = [int(i) for i in items]
        if not query:
            raise LabelwiseError("INVALID", "similar() needs at least one query item")
        params = {
            "model_id": model,
            "item_id": query,
            "mode": mode,
            "exclude_labeled": exclude_labeled,
        }
        url = f"/datasets/{self.dataset_id(dataset)}/similar"
        return Rows(self._paged(url, ("items",), params, "total", limit)["items"], ("item_id", "similarity"))

    def export(
        self,
        dataset: DatasetRef,
        path: str | Path,
        *,
        format: str = "csv",
        as_of: datetime | str | None = None,
        tagger: str | None = None,
        unlabeled: bool = True,
    ) -> Path:
        """Stream the labels export (csv, parquet, json or zip) to ``path``; returns it.
        ``unlabeled=False`` leaves unlabeled items out (csv, parquet, json)."""
        params: dict[str, Any] = {"format": format, **_given(as_of=_time(as_of), tagger=tagger)}
        if not unlabeled:
            params["unlabeled"] = False
        target = Path(path)
        url = f"/datasets/{self.dataset_id(dataset)}/export"
        partial = target.with_name(target.name + ".part")
        try:
            with self._http.stream("GET", url, params=params, timeout=self.download_timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise LabelwiseError.from_response(response)
                with partial.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise LabelwiseError.from_transport(exc, f"GET {self._where}{url}") from exc
        partial.replace(target)  # a broken download never leaves a file that looks whole
        return target

    def import_labels(
        self, dataset: DatasetRef, path: str | Path, *, create_classes: bool = False
    ) -> dict[str, Any]:
        """Import a labels CSV (``POST .../import``; ``item_id`` or ``uri`` with ``frame`` and
        ``source`` where needed, and ``label``: an ``export`` reads back) as one import event:
        ``event_id``, ``rows``, ``accepted``, ``refused`` (line and reason of each row left out),
        ``unknown_classes``, ``unknown_items``, ``created_classes`` (with ``create_classes``) and
        ``unlabeled`` (items that had labels and that a row with an empty label unlabeled)."""
        source = Path(path)
        url = f"/datasets/{self.dataset_id(dataset)}/import"
        params = {"create_classes": create_classes, "filename": source.name}
        body, headers = source.read_bytes(), {"Content-Type": "text/csv"}
        timeout = self.download_timeout  # a large file takes a while to store
        return dict(self._json("POST", url, params=params, content=body, headers=headers, timeout=timeout))

    def image(self, item_id: int) -> bytes:
        """The item rendered as PNG."""
        return self._download(f"/items/{item_id}/image")


FORMULA_STARTS = frozenset("=+-@\t\r")  # a CSV cell starting so got a leading ' on export


def _csv_rows(text: str) -> Iterable[list[str]]:
    """The export CSV's rows after its header, with the spreadsheet guard (a leading ') taken off."""
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    if "'" not in text:  # nothing guarded (the usual case): the rows as they are
        yield from reader
        return
    for cells in reader:
        yield [c[1:] if len(c) > 1 and c[0] == "'" and c[1] in FORMULA_STARTS else c for c in cells]


@functools.lru_cache(maxsize=4096)  # one time per event: an export repeats each many times
def _utc(text: str | None) -> datetime | None:
    """An ISO time as an aware UTC datetime (stored times without a zone are UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _given(**params: Any) -> dict[str, Any]:
    """The query parameters that are set (None: not sent, the server's default)."""
    return {name: value for name, value in params.items() if value is not None}


def _time(moment: datetime | str | None) -> str | None:
    """A time as the server reads it (ISO 8601; no zone: UTC)."""
    return moment.isoformat() if isinstance(moment, datetime) else moment
