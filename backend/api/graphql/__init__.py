"""GraphQL (Strawberry) at /graphql."""


def graphql_handlers() -> list:
    return []
