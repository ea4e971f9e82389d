"""The Litestar controller serving the schema at ``/graphql``.

Strawberry answers requests it cannot even read (no JSON body, no query, a mutation over GET) in
plain text; here they get the GraphQL error shape with a code too, so a client parses one shape.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from litestar import MediaType, Request, Response
from strawberry.litestar import make_graphql_controller

from backend.api.errors import AccessDenied
from backend.api.graphql.context import graphql_context
from backend.api.graphql.errors import access_denied_handler, transport_error_code
from backend.api.graphql.schema import get_schema

GRAPHQL_PATH = "/graphql"


def graphql_controller() -> type:
    base = make_graphql_controller(
        get_schema(),
        path=GRAPHQL_PATH,
        graphql_ide=None,  # the IDEs load their scripts from a CDN, which Labelwise never does
        context_getter=graphql_context,
    )

    class GraphQLController(base):  # type: ignore[misc, valid-type]
        # The SDL (openapi/schema.graphql) describes this door; the OpenAPI document covers REST alone.
        include_in_schema = False
        exception_handlers = {AccessDenied: access_denied_handler}  # the guard's refusals, as GraphQL errors

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Any:
            try:
                return await self.run(request, context=context, root_value=root_value)
            except HTTPException as exc:
                error = {"message": exc.reason, "extensions": {"code": transport_error_code(exc.status_code)}}
                return Response({"errors": [error]}, status_code=exc.status_code, media_type=MediaType.JSON)

    return GraphQLController
