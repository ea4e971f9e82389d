"""Server-rendered HTMX pages."""


def page_handlers() -> list:
    return []


def page_plugins() -> list:
    return []
