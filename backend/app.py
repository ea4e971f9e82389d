"""The Litestar application: wires settings, storage, REST, GraphQL and pages together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components

from backend.accounts.ratelimit import SignInLimiter
from backend.api.access import role_guard
from backend.api.dependencies import provide_session, provide_settings, provide_thumbnails
from backend.api.errors import exception_handlers
from backend.api.request_rules import RequestRulesMiddleware
from backend.api.rest.documentation import OPENAPI_SECURITY, openapi_security_schemes
from backend.api.security_headers import add_security_headers
from backend.images.thumbnails import ThumbnailCache
from backend.jobs.runtime import job_runtime_lifespan
from backend.settings import Settings, get_settings
from backend.storage.database import Database

log = logging.getLogger("labelwise")
VERSION = "0.1.0"


def _route_handlers() -> list:
    """Each door exports its handlers; importing here keeps the list in one place."""
    from backend.api.graphql import graphql_handlers
    from backend.api.rest import rest_handlers
    from backend.pages import page_handlers

    return [*rest_handlers(), *graphql_handlers(), *page_handlers()]


def _plugins() -> list:
    from backend.pages import page_plugins

    return page_plugins()


def _template_config() -> Any:
    from backend.pages import template_config

    return template_config()


def _csrf_config(settings: Settings) -> Any:
    """Pages' forms and HTMX requests carry a CSRF token; /api and /graphql are excluded."""
    from backend.pages.csrf import csrf_config

    return csrf_config(settings)


def create_app(
    settings: Settings | None = None, database: Database | None = None, *, run_jobs: bool = True
) -> Litestar:
    """Build the app. A database passed in is borrowed (tests); otherwise the app owns one.

    ``run_jobs`` installs the job runtime (the in-process worker, or the reaper watching remote
    workers); tests that never start jobs may leave it out.
    """
    settings = settings or get_settings()
    settings.ensure_dirs()
    owns_database = database is None
    db = database or Database(settings.database)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for hook in getattr(app.state, "shutdown_hooks", []):
                await hook()
            if owns_database:
                await db.dispose()

    app = Litestar(
        route_handlers=_route_handlers(),
        dependencies={
            "session": Provide(provide_session),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "thumbnails": Provide(provide_thumbnails, sync_to_thread=False),
        },
        # REST's error shape; GraphQL and the pages render their own (their handlers' exception_handlers).
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        guards=[role_guard],  # every route needs its role: backend/accounts/roles.py
        lifespan=[lifespan, job_runtime_lifespan] if run_jobs else [lifespan],
        template_config=_template_config(),
        csrf_config=_csrf_config(settings),
        plugins=_plugins(),
        # Body sizes, field counts, media types and NUL bytes, before anything parses a body.
        middleware=[RequestRulesMiddleware()],
        before_send=[add_security_headers],
        request_max_body_size=settings.max_request_bytes,
        multipart_form_part_limit=settings.max_form_fields,
        openapi_config=OpenAPIConfig(
            title="Labelwise",
            version=VERSION,
            description="ML-assisted labeling of scientific image data sets.",
            path="/api/schema",
            # JSON only: the HTML viewers load their scripts from a CDN, which we never do.
            render_plugins=[JsonRenderPlugin()],
            # For client generators: how to authenticate (backend/api/rest/documentation.py).
            components=Components(security_schemes=openapi_security_schemes()),
            security=OPENAPI_SECURITY,
        ),
    )
    app.state.settings = settings
    app.state.database = db
    app.state.thumbnails = ThumbnailCache.from_settings(settings)
    app.state.shutdown_hooks = []
    app.state.sign_in_limiter = SignInLimiter()
    return app
