"""The HTTP doors: REST (Litestar, OpenAPI) and GraphQL (Strawberry).

Thin: parse, call the domain, render.
"""
