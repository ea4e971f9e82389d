"""The Litestar controller serving the schema at ``/graphql``.

Strawberry answers requests it cannot even read (no JSON body, no query, a mutation over GET) in
plain text; here they get the GraphQL error shape with a code too, so a client parses one shape.

An operation refused whole for access (no data at all, every error FORBIDDEN or UNAUTHENTICATED:
a mutation above the caller's role) answers HTTP 403 or 401 rather than 200, as REST does; a
response with any data (some fields refused, others answered) stays a 200 with ``errors``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from cross_web import HTTPException
from litestar import MediaType, Request, Response
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from backend.api.errors import AccessDenied
from backend.api.graphql.context import graphql_context
from backend.api.graphql.errors import access_denied_handler, transport_error_code
from backend.api.graphql.schema import get_schema

GRAPHQL_PATH = "/graphql"


ACCESS_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}


def refused_status(response_data: Any) -> int | None:
    """401 or 403 when the operation got no data and was refused for access alone, else None."""
    if not isinstance(response_data, dict) or response_data.get("data") is not None:
        return None
    errors = response_data.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    if not errors or not codes or not codes <= set(ACCESS_STATUS):
        return None
    return min(ACCESS_STATUS[str(code)] for code in codes)  # 401 first: credentials before roles


def graphql_controller() -> type:
    base = make_graphql_controller(
        get_schema(),
        path=GRAPHQL_PATH,
        graphql_ide=None,  # the IDEs load their scripts from a CDN, which Labelwise never does
        context_getter=graphql_context,
        # Subscriptions (jobEvents) over websockets, graphql-transport-ws only (the older graphql-ws
        # protocol is unmaintained); a handshake from another site's page is refused (403).
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    class GraphQLController(base):  # type: ignore[misc, valid-type]
        # The SDL (openapi/schema.graphql) describes this door; the OpenAPI document covers REST alone.
        include_in_schema = False
        exception_handlers = {AccessDenied: access_denied_handler}  # the guard's refusals, as GraphQL errors

        def encode_json(self, data: object) -> str:
            # msgspec, as REST answers: a 500-item page encoded in a tenth of json.dumps's time. Text,
            # not bytes: the websocket transport sends it as a text frame.
            return msgspec.json.encode(data).decode()

        def create_response(self, response_data: Any, sub_response: Response) -> Response:
            response = super().create_response(response_data, sub_response)
            status = refused_status(response_data)
            if status is not None:
                response.status_code = status
            return response

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Any:
            try:
                return await self.run(request, context=context, root_value=root_value)
            except HTTPException as exc:
                error = {"message": exc.reason, "extensions": {"code": transport_error_code(exc.status_code)}}
                return Response({"errors": [error]}, status_code=exc.status_code, media_type=MediaType.JSON)

    return GraphQLController
