"""Jinja filters and globals the templates share."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from backend.jobs.naming import job_title


def when(value: datetime | None) -> str:
    """A time as people read it in a log: ``2026-11-25 14:03:07 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def percent(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def register_filters(env: Environment) -> None:
    env.filters["when"] = when
    env.filters["percent"] = percent
    env.filters["job_title"] = job_title  # what a job runs: "project umap of model 5 (pca)"
    env.globals["htmx_src"] = "/static/vendor/htmx-2.0.11.min.js"
