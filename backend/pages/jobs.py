"""Job and model pages (Data Clinic / MLCoach): train form, jobs table, live job page, models.

A running job's page polls ``/jobs/{id}/live`` every 2 s (HTMX); the fragment it gets back carries
the polling attribute only while the job is active, so polling stops by itself when it ends. The
loss and accuracy plots are inline SVG drawn here from the per-epoch metrics: no script library.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.disclosure import public_error
from backend.algorithms import get_algorithm, list_algorithms
from backend.algorithms.forms import form_fields, parse_text_params
from backend.algorithms.validation import check_against
from backend.api.access import shows_internals
from backend.datasets.service import get_dataset
from backend.errors import Invalid, LabelwiseError, NotFound
from backend.feature_report.report import latest_report
from backend.feature_report.service import suggest_training
from backend.jobs import artifacts, control, states, submission
from backend.jobs import queries as job_queries
from backend.jobs.next_step import job_next_step, model_next_step
from backend.jobs.presence import no_worker_note
from backend.jobs.runtime import enqueue_for, worker_presence
from backend.jobs.views import ModelView
from backend.labels.revoke import labels_still_models
from backend.models import queries as model_queries
from backend.pages.common import PAGE_EXCEPTION_HANDLERS, render, tagger_of
from backend.settings import Settings
from backend.storage import npy
from backend.storage.job_tables import Job, JobLog, JobMetric, Model

POLL = "every 2s"
PARAM_PREFIX = "params."  # form field names: params.<name>, apart from the model's name etc.
COLORS = ("#2f6fed", "#e8710a", "#12a150", "#c0392b", "#8e44ad", "#7f8c8d")
RECONSTRUCTION_PX = 96
StateFilter = Annotated[str | None, QueryParameter(name="state")]  # "state" is a reserved name

# ---- plots ---------------------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    color: str
    points: list[tuple[float, float]]  # in SVG coordinates
    last: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass
class Plot:
    """What ``jobs/_plot.html`` draws: coordinates already placed in the SVG's box."""

    key: str
    title: str
    series: list[Series]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int = 460
    height: int = 220
    left: int = 56
    right: int = 12
    top: int = 12
    bottom: int = 30
    markers: bool = field(default=True)

    @property
    def x_end(self) -> int:
        return self.width - self.right

    @property
    def y_end(self) -> int:
        return self.height - self.bottom


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values spanning [low, high]."""
    span = high - low
    step = 10 ** math.floor(math.log10(span / count)) if span > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def build_plot(key: str, title: str, metrics: list[JobMetric], suffix: str) -> Plot | None:
    """A line per metric whose name ends with ``suffix`` (train_loss, val_loss, ...), by epoch."""
    names = sorted({k for m in metrics for k in m.metrics if k.endswith(suffix)})
    if not names:
        return None
    plot = Plot(key=key, title=title, series=[], x_ticks=[], y_ticks=[])
    values = [(m.epoch, m.metrics[n]) for m in metrics for n in names if n in m.metrics]
    epochs = [e for e, _ in values]
    x_low, x_high = min(epochs), max(epochs)
    if x_low == x_high:
        x_low, x_high = x_low - 1, x_high + 1
    y_low, y_high = min(v for _, v in values), max(v for _, v in values)
    pad = (y_high - y_low) * 0.05 or abs(y_high) * 0.05 or 1.0
    y_low, y_high = y_low - pad, y_high + pad

    def x_of(epoch: float) -> float:
        return plot.left + (epoch - x_low) / (x_high - x_low) * (plot.x_end - plot.left)

    def y_of(value: float) -> float:
        return plot.y_end - (value - y_low) / (y_high - y_low) * (plot.y_end - plot.top)

    for i, name in enumerate(names):
        points = [(m.epoch, m.metrics[name]) for m in metrics if name in m.metrics]
        plot.series.append(
            Series(name, COLORS[i % len(COLORS)], [(x_of(e), y_of(v)) for e, v in points], points[-1][1])
        )
    plot.markers = len(metrics) <= 60
    x_ticks = [t for t in _ticks(x_low, x_high) if float(t).is_integer()] or [x_low, x_high]
    plot.x_ticks = [(x_of(t), str(int(t))) for t in x_ticks]
    plot.y_ticks = [(y_of(t), _label(t)) for t in _ticks(y_low, y_high)]
    return plot


# ---- forms ---------------------------------------------------------------------------------------


def _param_texts(form: dict[str, str]) -> dict[str, str]:
    return {k[len(PARAM_PREFIX) :]: v for k, v in form.items() if k.startswith(PARAM_PREFIX)}


def _field_errors(problems: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """Problems by field name (shown next to the input) and those of the whole form."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        name, message = problem.get("field"), str(problem.get("message"))
        if name:
            by_field[name] = f"{by_field[name]}; {message}" if name in by_field else message
        else:
            general.append(message)
    return by_field, general


def check_form(schema: dict[str, Any], texts: dict[str, str], rules: Any = None) -> tuple[dict, list]:
    """Typed parameters and every problem: text that is no number, then the schema's own checks."""
    params, problems = parse_text_params(schema, texts, checkboxes=True)
    try:
        params = check_against(schema, params, None if problems else rules)
    except Invalid as exc:
        bad = {p["field"] for p in problems}
        problems += [p for p in exc.details.get("errors", []) if p["field"] not in bad or p["field"] is None]
    return params, problems


async def _form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str)}


# ---- helpers -------------------------------------------------------------------------------------


_model_dir, _job_dir = artifacts.model_dir, artifacts.job_dir


def _confusion(*directories: Path | None) -> dict[str, Any] | None:
    """``confusion_matrix.json`` ({"labels", "matrix"}) with each row's share per cell, if written."""
    for directory in directories:
        path = directory / artifacts.CONFUSION_MATRIX if directory else None
        if path is None or not path.is_file():
            continue
        data = json.loads(path.read_text())
        rows = []
        for name, counts in zip(data["labels"], data["matrix"], strict=False):
            total = sum(counts) or 1
            rows.append({"label": name, "cells": [(c, c / total) for c in counts], "total": sum(counts)})
        return {"labels": data["labels"], "rows": rows}
    return None


SHOWN_APART = {"confusion"}  # summary keys with a section of their own on the model page
NOT_MEASURED = "\u2013"  # an en dash, as the fitness line shows a recall without held-out items
LIST_SHOWN = 8  # values of a list shown one by one; a longer list shows its length and range


def metric_rows(summary: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A model's summary as (name, value) rows: nested figures (the classifier's held-out
    ``quality``) one row each, "quality · accuracy", instead of a Python dict in one cell."""
    rows: list[tuple[str, str]] = []
    for key, value in summary.items():
        if key in SHOWN_APART:
            continue
        name = f"{prefix}{key}"  # as REST and GraphQL name it
        if isinstance(value, dict):
            rows.extend(metric_rows(value, f"{name} · "))
        else:
            rows.append((name, _metric_text(value)))
    return rows


def _metric_text(value: Any) -> str:
    if value is None:
        return NOT_MEASURED
    if isinstance(value, bool | str | int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, list | tuple):
        if len(value) <= LIST_SHOWN:
            return ", ".join(_metric_text(v) for v in value)
        numbers = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
        span = f" from {_metric_text(min(numbers))} to {_metric_text(max(numbers))}" if numbers else ""
        return f"{len(value)} values{span}"
    return str(value)


async def _latest_inference(session: AsyncSession, model: Model) -> Job | None:
    try:
        return await model_queries.latest_inference(session, model.id)  # type: ignore[arg-type]
    except NotFound:
        return None


def _reconstructions(job: Job | None, settings: Settings) -> list[dict[str, int]]:
    directory = _job_dir(job, settings) if job else None
    if directory is None or not (directory / artifacts.RECONSTRUCTIONS).is_file():
        return []
    ids = npy.load(directory / artifacts.RECONSTRUCTION_ITEM_IDS)
    return [{"index": i, "item_id": int(item)} for i, item in enumerate(ids)]


async def _live(
    session: AsyncSession, settings: Settings, job_id: int, viewer_of: Settings | None = None
) -> dict[str, Any]:
    """What ``jobs/_live.html`` needs: the job, its plots and the tail of its log.

    ``viewer_of``: the caller is a viewer: a one-line error, no traceback, log lines without server
    paths (decision 0007). The rows are detached copies, so nothing is written back.
    """
    job = await job_queries.get_job(session, job_id)
    log = await job_queries.job_log_tail(session, job_id)
    if viewer_of is not None:
        job = Job(**{**job.model_dump(), "error": public_error(job.error, viewer_of), "traceback": None})
        log = [
            JobLog(**{**line.model_dump(), "message": public_error(line.message, viewer_of) or ""})
            for line in log
        ]
    metrics = await job_queries.job_metrics(session, job_id)
    plots = [
        build_plot("loss", "Loss", metrics, "loss"),
        build_plot("accuracy", "Accuracy", metrics, "accuracy"),
    ]
    return {
        "job": job,
        "active": job.state in states.ACTIVE,
        "poll": POLL,
        "plots": [p for p in plots if p is not None],
        "log": log,
        "duration": job_queries.job_duration(job),
        "quiet_minutes": _quiet_minutes(job),
        "dataset_name": (await get_dataset(session, job.dataset_id)).name,
        "next_step": await job_next_step(session, settings, job),  # keep models fresh: always one button
    }


QUIET_AFTER_SECONDS = 300  # a running job's code silent this long gets a line on its page


def _quiet_minutes(job: Job) -> int | None:
    """Whole minutes since a running job's code last reported, from ``QUIET_AFTER_SECONDS`` on."""
    quiet = job_queries.quiet_seconds(job)
    return int(quiet // 60) if quiet is not None and quiet >= QUIET_AFTER_SECONDS else None


async def _live_for(request: Request, session: AsyncSession, job_id: int) -> dict[str, Any]:
    settings = request.app.state.settings
    context = await _live(session, settings, job_id, _viewer_of(request))
    workers = await worker_presence(request.app.state)
    return {
        **context,
        "cancel_grace": settings.cancel_grace_seconds,
        "no_worker": no_worker_note(context["job"], workers, settings),
    }


def _viewer_of(request: Request) -> Settings | None:
    return None if shows_internals(request) else request.app.state.settings


def _optional_id(text: str | None) -> int | None:
    """A filter's id from a query string, where "" (the "any" option) means no filter."""
    if not text:
        return None
    if not text.isdigit():
        raise Invalid(f"not a dataset id: {text!r}")
    return int(text)


# ---- pages ---------------------------------------------------------------------------------------


class JobPages(Controller):
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/jobs")
    async def jobs(
        self,
        request: Request,
        session: AsyncSession,
        job_state: StateFilter = None,
        dataset_id: FromQuery[str | None] = None,
    ) -> Template:
        """Every job, newest first, filtered by state and dataset; refreshes itself while any is active."""
        context = await self._table(request, session, job_state or None, _optional_id(dataset_id))
        return render(request, "jobs/list.html", nav="jobs", states=states.STATES, **context)

    @get("/jobs/rows")
    async def job_rows(
        self,
        request: Request,
        session: AsyncSession,
        job_state: StateFilter = None,
        dataset_id: FromQuery[int | None] = None,
    ) -> Template:
        return render(
            request, "jobs/_table.html", **await self._table(request, session, job_state or None, dataset_id)
        )

    async def _table(
        self, request: Request, session: AsyncSession, state: str | None, dataset_id: int | None
    ) -> dict[str, Any]:
        page = await job_queries.list_jobs(session, state=state, dataset_id=dataset_id, limit=200)
        settings = request.app.state.settings
        workers = await worker_presence(request.app.state)
        # queued jobs that no worker will pick up (Redis broker, no `labelwise worker` running)
        no_worker = {j.id: note for j in page.jobs if (note := no_worker_note(j, workers, settings))}
        names = await job_queries.dataset_names(session)
        query = "&".join(
            f"{k}={v}" for k, v in (("state", state), ("dataset_id", dataset_id)) if v is not None
        )
        return {
            "page": page,
            "names": names,
            "state": state,
            "dataset_id": dataset_id,
            "query": query,
            "active": any(j.state in states.ACTIVE for j in page.jobs),
            "poll": POLL,
            "no_worker": no_worker,
            # one note above the table (the same for every such job), not one per row
            "no_worker_note": next(iter(no_worker.values()), None),
        }

    @get("/jobs/{job_id:int}")
    async def job(self, request: Request, session: AsyncSession, job_id: FromPath[int]) -> Template:
        """A job: state, progress, live loss and accuracy plots, log, error, cancel and retry."""
        context = await _live_for(request, session, job_id)
        model = (
            await model_queries.get_model(session, context["job"].model_id)
            if context["job"].model_id
            else None
        )
        return render(request, "jobs/job.html", nav="jobs", model=model, **context)

    @get("/jobs/{job_id:int}/live")
    async def job_live(self, request: Request, session: AsyncSession, job_id: FromPath[int]) -> Template:
        """The part of the job page that changes; polled while the job is active."""
        return render(request, "jobs/_live.html", **await _live_for(request, session, job_id))

    @post("/jobs/{job_id:int}/cancel")
    async def cancel(
        self, request: Request, session: AsyncSession, job_id: FromPath[int]
    ) -> Template | Redirect:
        await control.cancel_job(session, job_id, by=tagger_of(request))
        return await self._after_action(request, session, job_id)

    @post("/jobs/{job_id:int}/retry")
    async def retry(
        self, request: Request, session: AsyncSession, settings: Settings, job_id: FromPath[int]
    ) -> Template | Redirect:
        enqueue = enqueue_for(request.app.state)
        await control.retry_job(session, settings, enqueue, job_id, by=tagger_of(request))
        return await self._after_action(request, session, job_id)

    async def _after_action(
        self, request: Request, session: AsyncSession, job_id: int
    ) -> Template | Redirect:
        if request.headers.get("hx-request") == "true":
            return render(request, "jobs/_live.html", **await _live_for(request, session, job_id))
        return Redirect(f"/jobs/{job_id}", status_code=HTTP_303_SEE_OTHER)

    @get("/jobs/{job_id:int}/reconstructions/{index:int}", media_type="image/png")
    async def reconstruction(
        self, session: AsyncSession, settings: Settings, job_id: FromPath[int], index: FromPath[int]
    ) -> Response[bytes]:
        """One reconstruction an inference wrote, as a PNG the size of the originals beside it."""
        from PIL import Image

        directory = _job_dir(await job_queries.get_job(session, job_id), settings)
        path = directory / artifacts.RECONSTRUCTIONS if directory else None
        if path is None or not path.is_file():
            raise NotFound(f"job {job_id} wrote no reconstructions")
        images = npy.load(path, mmap_mode="r")
        if not 0 <= index < len(images):
            raise NotFound(f"job {job_id} has no reconstruction {index}")
        pixels = (np.clip(np.nan_to_num(images[index]), 0.0, 1.0) * 255).astype(np.uint8)
        image = Image.fromarray(pixels).resize(
            (RECONSTRUCTION_PX, RECONSTRUCTION_PX), Image.Resampling.NEAREST
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    # ---- models ----------------------------------------------------------------------------------

    @get("/models")
    async def models(
        self, request: Request, session: AsyncSession, dataset_id: FromQuery[int | None] = None
    ) -> Template:
        models = await model_queries.list_models(session, dataset_id=dataset_id)
        names = await job_queries.dataset_names(session)
        shown = [dataset_id] if dataset_id is not None else sorted({m.dataset_id for m in models})
        reports = [await latest_report(session, d) for d in shown]
        return render(
            request,
            "jobs/models.html",
            nav="models",
            models=models,
            names=names,
            dataset_id=dataset_id,
            reports=reports,
        )

    @get("/models/{model_id:int}")
    async def model(
        self, request: Request, session: AsyncSession, settings: Settings, model_id: FromPath[int]
    ) -> Template:
        """A model: parameters, what it learned from, metrics, files, reconstructions, confusion."""
        return render(request, "jobs/model.html", **await self._model_context(session, settings, model_id))

    async def _model_context(
        self, session: AsyncSession, settings: Settings, model_id: int, **extra: Any
    ) -> dict[str, Any]:
        model = await model_queries.get_model(session, model_id)
        view = ModelView.of(model, settings)  # what REST and GraphQL show of it too
        algorithm = get_algorithm(model.algorithm)
        model_dir = _model_dir(model, settings)
        inference = await _latest_inference(session, model) if model_dir else None
        jobs = (await job_queries.list_jobs(session, model_id=model_id, limit=50)).jobs
        params = model.parameters
        transform = {
            "log": str(bool(params.get("log_transform", False))).lower(),
            "p_low": params.get("percentile_low", 1.0),
            "p_high": params.get("percentile_high", 99.0),
        }
        context: dict[str, Any] = {
            "nav": "models",
            "model": model,
            "algorithm": algorithm,
            "dataset_name": (await get_dataset(session, model.dataset_id)).name,
            "files": view.files,
            "jobs": jobs,
            "train_job": await model_queries.train_job_of(session, model_id),
            "inference": inference,
            "reconstructions": _reconstructions(inference, settings),
            "transform": transform,
            "size": RECONSTRUCTION_PX,
            "confusion": _confusion(model_dir, _job_dir(inference, settings) if inference else None),
            "fitness": view.fitness,
            "metrics": metric_rows(model.summary or {}),
            "infer_fields": form_fields(algorithm.infer_schema),
            # keep models fresh: always one button
            "next_step": await model_next_step(session, settings, model),
            "labels_left": await labels_still_models(session, model_id=model_id),  # none: no revoke link
            "dataset_names": await job_queries.dataset_names(session),
            "values": {},
            "errors": {},
            "general_errors": [],
        }
        context.update(extra)
        return context

    @post("/models/{model_id:int}")
    async def infer(
        self, request: Request, session: AsyncSession, settings: Settings, model_id: FromPath[int]
    ) -> Template | Redirect | Response[Any]:
        """Run the model on its dataset; invalid options are shown on the model page, nothing queued.

        The form posts to the model page's own address: without JavaScript an invalid form is
        drawn again there with its errors (it landed on /models/N/infer, an address with no page)."""
        return await self._infer(request, session, settings, model_id)

    @post("/models/{model_id:int}/infer")
    async def infer_at_old_address(
        self, request: Request, session: AsyncSession, settings: Settings, model_id: FromPath[int]
    ) -> Template | Redirect | Response[Any]:
        """Where the form posted before: kept for pages still open and scripts that post there."""
        return await self._infer(request, session, settings, model_id)

    async def _infer(
        self, request: Request, session: AsyncSession, settings: Settings, model_id: int
    ) -> Template | Redirect | Response[Any]:
        model = await model_queries.get_model(session, model_id)
        texts = _param_texts(await _form_of(request))
        options, problems = check_form(get_algorithm(model.algorithm).infer_schema, texts)
        if not problems:
            try:
                job = await submission.submit_job(
                    session, settings, enqueue_for(request.app.state), kind="infer", model_id=model_id,
                    parameters=options, submitted_by=tagger_of(request),
                )  # fmt: skip
                if request.headers.get("hx-request") == "true":
                    return Response("", headers={"HX-Redirect": f"/jobs/{job.id}"})
                return Redirect(f"/jobs/{job.id}", status_code=HTTP_303_SEE_OTHER)
            except LabelwiseError as exc:
                problems = exc.details.get("errors") or [{"field": None, "message": exc.message}]
        errors, general = _field_errors(problems)
        context = await self._model_context(
            session, settings, model_id, values=texts, errors=errors, general_errors=general
        )
        page = render(request, "jobs/model.html", status_code=400, **context)
        # The form posts through htmx and is swapped in place: the address stays the model page's
        # (said again here), so a reload shows the page instead of posting the form a second time.
        page.headers["HX-Replace-Url"] = f"/models/{model_id}"
        return page

    # ---- training --------------------------------------------------------------------------------

    @get("/datasets/{dataset_id:int}/train")
    async def train_form(
        self,
        request: Request,
        session: AsyncSession,
        dataset_id: FromPath[int],
        algorithm: FromQuery[str | None] = None,
    ) -> Template:
        """Pick an algorithm; its parameter form is drawn from its JSON schema."""
        return await self._train_page(request, session, dataset_id, algorithm)

    @post("/datasets/{dataset_id:int}/train")
    async def train(
        self, request: Request, session: AsyncSession, settings: Settings, dataset_id: FromPath[int]
    ) -> Template | Redirect:
        """Check the form; every problem goes back next to its field and nothing is queued."""
        form = await _form_of(request)
        key = form.get("algorithm", "")
        algorithm = get_algorithm(key)
        texts = _param_texts(form)
        params, problems = check_form(algorithm.schema, texts, algorithm.check)
        if not problems:
            try:
                job = await submission.submit_job(
                    session, settings, enqueue_for(request.app.state), kind="train", dataset_id=dataset_id,
                    algorithm=key, parameters=params, name=form.get("name"), submitted_by=tagger_of(request),
                )  # fmt: skip
                return Redirect(f"/jobs/{job.id}", status_code=HTTP_303_SEE_OTHER)
            except LabelwiseError as exc:
                problems = exc.details.get("errors") or [{"field": None, "message": exc.message}]
        return await self._train_page(
            request, session, dataset_id, key, values=texts, name=form.get("name", ""), problems=problems
        )

    async def _train_page(
        self,
        request: Request,
        session: AsyncSession,
        dataset_id: int,
        key: str | None,
        *,
        values: dict[str, str] | None = None,
        name: str = "",
        problems: list[dict[str, Any]] | None = None,
    ) -> Template:
        dataset = await get_dataset(session, dataset_id)
        algorithms = list_algorithms()
        if not algorithms:
            raise NotFound("no algorithm is registered")
        suggestion = await suggest_training(session, dataset_id)
        first = suggestion.form_default or algorithms[0].key
        algorithm = get_algorithm(key) if key else get_algorithm(first)
        errors, general = _field_errors(problems or [])
        return render(
            request,
            "jobs/train.html",
            status_code=400 if problems else 200,
            nav="datasets",
            dataset=dataset,
            algorithms=algorithms,
            algorithm=algorithm,
            fields=form_fields(algorithm.schema),
            values=values,
            submitted=values is not None,
            name=name,
            errors=errors,
            general_errors=general,
            recent=(await job_queries.list_jobs(session, dataset_id=dataset_id, limit=10)).jobs,
            suggestion=suggestion,
        )


route_handlers = [JobPages]
