"""Page tests read the HTML the app renders through a parser (lxml), never through regular expressions.

A parsed page is an element tree: a test asks for an element by id, by class or by XPath and checks
its text and attributes, so attribute order, quoting and whitespace in the templates do not matter,
and an element that is missing fails loudly (``one`` wants exactly one match).
"""

from __future__ import annotations

import json

import lxml.html
from lxml.html import HtmlElement

__all__ = [
    "HtmlElement",
    "all_of",
    "attr",
    "by_id",
    "classes",
    "csrf_field",
    "fragment",
    "has_class",
    "hx_csrf_token",
    "maybe_one",
    "one",
    "parse",
    "selected",
    "table_rows",
    "text_of",
]


def parse(html: str) -> HtmlElement:
    """The page (or HTMX fragment) as an element tree."""
    assert html.strip(), "the response has no HTML"
    return lxml.html.document_fromstring(html)


def fragment(html: str) -> list[HtmlElement]:
    """An HTMX answer's top-level elements, in order; a whole page (doctype, <html>) or text before
    the first element is a failure."""
    start = html.lstrip()[:15].lower()
    assert not start.startswith(("<!doctype", "<html")), "a whole page where a fragment was expected"
    elements = lxml.html.fragments_fromstring(html, no_leading_text=True)
    assert all(isinstance(e, HtmlElement) for e in elements)
    return elements


def all_of(doc: HtmlElement, xpath: str) -> list[HtmlElement]:
    """Every element the XPath finds (relative paths start at ``doc``)."""
    found = doc.xpath(xpath)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, HtmlElement)]


def maybe_one(doc: HtmlElement, xpath: str) -> HtmlElement | None:
    """The one element the XPath finds, or None; more than one is a failure."""
    found = all_of(doc, xpath)
    assert len(found) <= 1, f"{xpath!r} matched {len(found)} elements"
    return found[0] if found else None


def one(doc: HtmlElement, xpath: str) -> HtmlElement:
    """The one element the XPath finds; none or several is a failure."""
    found = all_of(doc, xpath)
    assert len(found) == 1, f"{xpath!r} matched {len(found)} elements"
    return found[0]


def by_id(doc: HtmlElement, element_id: str) -> HtmlElement:
    """The element with this id (exactly one)."""
    return one(doc, f"//*[@id={_literal(element_id)}]")


def has_class(name: str) -> str:
    """An XPath predicate: the element's class attribute lists ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def classes(element: HtmlElement) -> set[str]:
    """The element's classes."""
    return set((element.get("class") or "").split())


def attr(element: HtmlElement, name: str) -> str:
    """An attribute the element must have."""
    value = element.get(name)
    assert value is not None, f"<{element.tag} id={element.get('id')!r}> has no {name!r} attribute"
    return value


def text_of(element: HtmlElement) -> str:
    """The element's text with its descendants', whitespace collapsed."""
    return " ".join(element.text_content().split())


def selected(doc: HtmlElement, value: object) -> bool:
    """Whether an ``<option>`` with this value is the selected one (of any ``<select>`` on the page)."""
    return bool(all_of(doc, f"//option[@value={_literal(str(value))}][@selected]"))


def table_rows(table: HtmlElement) -> dict[str, str]:
    """A two-column table (``<th>name</th><td>value</td>`` rows) as a dict of texts."""
    rows: dict[str, str] = {}
    for row in all_of(table, ".//tr[th and td]"):
        rows[text_of(row.xpath("./th")[0])] = text_of(row.xpath("./td")[0])
    return rows


def csrf_field(html: str) -> str:
    """The token of a form's hidden ``_csrf_token`` input (the first one: every form has the same)."""
    fields = all_of(parse(html), "//input[@name='_csrf_token']")
    assert fields, "the page has no CSRF field"
    return attr(fields[0], "value")


def hx_csrf_token(html: str, holder: str = "//body") -> str:
    """The token HTMX sends: the ``x-csrftoken`` in the JSON of ``hx-headers`` (on ``<body>`` unless
    ``holder``, an XPath, names another element); a hex string."""
    headers = json.loads(attr(one(parse(html), holder), "hx-headers"))
    token = headers["x-csrftoken"]
    assert isinstance(token, str) and token and all(c in "0123456789abcdef" for c in token), token
    return token


def _literal(value: str) -> str:
    """A string as an XPath literal."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"
