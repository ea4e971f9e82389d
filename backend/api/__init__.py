"""The HTTP doors: REST (Litestar controllers, OpenAPI) and GraphQL (Strawberry). Thin: parse, call the domain, render."""
