"""What every REST operation's OpenAPI entry says beyond its handler: for client generators.

Applied to each handler by ``rest_handlers``: the access answers every guarded route can give
(401 without valid credentials, 403 for a role too low), an operation id that reads as a
function name (``list_datasets``, not ``ApiV1DatasetsListDatasets``), and binary bodies typed as
bytes (``format: binary``) so generated clients hand back files, not decoded text.
"""

from __future__ import annotations

from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Operation, Reference, Schema, SecurityScheme

from backend.accounts.roles import PUBLIC, route_role

BEARER, SESSION = "bearer", "session"
SESSION_COOKIE = "labelwise_session"  # backend.api.access.SESSION_COOKIE (not imported: no cycle)
# Declared once on the app (backend/app.py); every guarded operation accepts either.
OPENAPI_SECURITY: list[dict[str, list[str]]] = [{BEARER: []}, {SESSION: []}]


class BinaryBodyOperation(Operation):
    """A 2xx answer in a non-JSON media type is bytes (``text/event-stream`` stays text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # a dataclass without __post_init__: type the bodies here
        for status, response in (self.responses or {}).items():
            if not status.startswith("2") or isinstance(response, Reference):
                continue
            for media, content in (response.content or {}).items():
                if media == "application/json" or media.startswith("text/event-stream"):
                    continue
                content.schema = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


def _access_responses(role: str) -> dict[int, ResponseSpec]:
    from backend.api.rest.schemas import Problem

    return {
        401: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description="No credentials, or a token that is revoked or mistyped (code UNAUTHENTICATED)",
            generate_examples=False,
        ),
        403: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description=f"Needs the {role} role, or refused for this caller (code FORBIDDEN)",
            generate_examples=False,
        ),
    }


def document_handler(handler: HTTPRouteHandler, taken: set[str], base: str = "") -> None:
    """Access answers, a readable unique operation id, binary bodies; ``taken`` holds ids so far,
    ``base`` is the controller's path (the handler's paths are relative to it)."""
    for path in sorted(handler.paths):
        full = "/" + "/".join(part for part in (base + "/" + path).split("/") if part)
        role = route_role(sorted(handler.http_methods)[0], full, handler.opt)
        if role == PUBLIC:
            continue
        responses = dict(handler.responses or {})
        for status, spec in _access_responses(role).items():
            if "Needs the " in (getattr(responses.get(status), "description", None) or ""):
                continue  # documented already (handlers are module objects: each app sees them again)
            if status == 403 and status in responses:  # keep what the handler says, and add the role
                spec.description = f"{responses[status].description}; or: {spec.description}"
            responses[status] = spec
        handler.responses = responses
    if handler.operation_id is None:
        name = handler.handler_name
        if name in taken:  # the controller's name tells two handlers of one name apart
            name = handler.fn.__qualname__.replace(".", "_")
        handler.operation_id = name
        taken.add(str(handler.operation_id))
    if handler.operation_class is Operation:
        handler.operation_class = BinaryBodyOperation


def openapi_security_schemes() -> dict[str, SecurityScheme | Reference]:
    """The bearer token and the session cookie, as OpenAPI security schemes."""
    return {
        BEARER: SecurityScheme(
            type="http", scheme="bearer", description="An API token: `Authorization: Bearer lw_...`"
        ),
        SESSION: SecurityScheme(
            type="apiKey",
            security_scheme_in="cookie",
            name=SESSION_COOKIE,
            description="The browser session after signing in on /signin",
        ),
    }
