"""The Litestar application: wires settings, storage, REST, GraphQL and pages together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from backend.api.dependencies import provide_session, provide_settings, provide_thumbnails
from backend.api.errors import exception_handlers
from backend.images.thumbnails import ThumbnailCache
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


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """Build the app. A database passed in is borrowed (tests); otherwise the app owns one."""
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
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        lifespan=[lifespan],
        plugins=_plugins(),
        request_max_body_size=settings.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="Labelwise",
            version=VERSION,
            description="ML-assisted labeling of scientific image data sets.",
            path="/api/schema",
            # JSON only: the HTML viewers load their scripts from a CDN, which we never do.
            render_plugins=[JsonRenderPlugin()],
        ),
    )
    app.state.settings = settings
    app.state.database = db
    app.state.thumbnails = ThumbnailCache(settings.cache_dir)
    app.state.shutdown_hooks = []
    return app
