"""Server-rendered HTMX pages: Jinja2 templates in ``frontend_templates/``, vendored static files.

Each area of the pages (datasets, labeling, jobs, ...) is a module with ``route_handlers = [...]``
listed in ``PAGE_MODULES``; its templates live in ``frontend_templates/<area>/`` and extend
``base.html``. Pages call the same domain services as REST and GraphQL, never the database.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "frontend_templates"
STATIC_DIR = TEMPLATE_DIR / "static"

PAGE_MODULES: list[str] = [
    "backend.pages.datasets",
    "backend.pages.label",
    "backend.pages.classes",
    "backend.pages.item_view",
    "backend.pages.item_steps",
    "backend.pages.history",
    "backend.pages.thumbs",
    "backend.pages.explorer",
    "backend.pages.jobs",
    "backend.pages.guided",
    "backend.pages.next_actions",
    "backend.pages.fresh",
    "backend.pages.review",
    "backend.pages.feature_report",
    "backend.pages.tiled",
    "backend.pages.accounts",
    "backend.pages.users",
]


def _configure(engine: JinjaTemplateEngine) -> None:
    """Jinja settings shared by every page (autoescape is on by default for .html)."""
    from backend.pages.filters import register_filters

    register_filters(engine.engine)


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_configure)


def page_handlers() -> list[Any]:
    handlers: list[Any] = [
        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False)
    ]
    for name in PAGE_MODULES:
        handlers.extend(import_module(name).route_handlers)
    return handlers


def page_plugins() -> list[Any]:
    return []
