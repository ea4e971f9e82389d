"""REST controllers under /api/v1, described by OpenAPI."""


def rest_handlers() -> list:
    return []
