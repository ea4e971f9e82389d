"""Hostile requests at the HTTP layer (issue 22): huge forms, cross-site writes, NUL bytes, a
database that is down, and the security headers on every answer (docs/decisions/0005)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts import service
from backend.api.security_headers import SECURITY_HEADERS
from backend.settings import Settings
from tests.helpers.rest import API, ClientFactory, create_dataset

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend_templates"


async def test_a_form_with_millions_of_fields_is_refused_before_it_is_parsed(client) -> None:
    """The 63 MB, 21-million-field sign-in form that froze the server for 49 s: refused from its
    Content-Length alone (413), before any field is parsed or anyone is authenticated."""
    body = b"a=&" * 21_000_000  # 63 MB
    response = await client.post(
        "/signin", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413, response.text[:200]
    assert "form" in response.text


async def test_a_small_form_with_too_many_fields_is_refused(client_with: ClientFactory) -> None:
    """Within the byte limit, the field count still bounds the parser's work."""
    async with client_with(max_form_fields=50) as client:
        many = "&".join(f"f{i}=1" for i in range(51))
        response = await client.post(
            "/signin", content=many, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 413 and "too many fields" in response.text
        few = "name=nobody&password=wrong&" + "&".join(f"f{i}=1" for i in range(40))
        response = await client.post(
            "/signin", content=few, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 403  # parsed, and then the CSRF check answered as before


async def test_a_cross_site_text_plain_post_cannot_create_an_admin(client, session: AsyncSession) -> None:
    """The loopback mode without accounts makes every local request admin: a foreign page's
    ``<form enctype="text/plain">`` carrying JSON must not reach POST /users."""
    # <form enctype=text/plain> sends name=value: the '=' is hidden inside the password string.
    forged = '{"name": "mallory", "role": "admin", "password": "correct horse=battery"}'
    response = await client.post(f"{API}/users", content=forged, headers={"content-type": "text/plain"})
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]["message"]
    for form_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = await client.post(f"{API}/users", content=forged, headers={"content-type": form_type})
        assert response.status_code == 415, response.text
    graphql = await client.post(
        "/graphql", content='{"query": "{ datasets { id } }"}', headers={"content-type": "text/plain"}
    )
    assert graphql.status_code == 415
    assert not await service.accounts_exist(session)


async def test_a_browser_write_from_another_origin_is_refused(client, session: AsyncSession) -> None:
    """JSON with a CORS preflight, or a write without a body: the browser names the foreign origin."""
    user = {"name": "mallory", "role": "admin", "password": "correct horse battery"}
    response = await client.post(f"{API}/users", json=user, headers={"origin": "http://evil.example"})
    assert response.status_code == 403 and "CSRF" in response.text
    response = await client.post(f"{API}/users", json=user, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert not await service.accounts_exist(session)
    same = await client.post(f"{API}/users", json=user, headers={"origin": "http://testserver.local"})
    assert same.status_code == 201, same.text  # the app's own pages (same origin) still write


async def test_uploads_keep_their_documented_media_type(client, folder: Path) -> None:
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    url = f"{API}/datasets/{dataset['id']}/import"
    csv = await client.post(url, content=b"item_id,label\n", headers={"content-type": "text/csv"})
    assert csv.status_code == 200, csv.text
    plain = await client.post(url, content=b"item_id,label\n", headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "text/csv" in plain.text


async def test_a_nul_byte_in_a_name_or_query_is_a_clear_400(client, folder: Path) -> None:
    dataset = (await create_dataset(client, folder, count=2))["dataset"]
    answers = [
        await client.post(f"{API}/datasets", json={"name": "a\u0000b", "sources": [str(folder)]}),
        await client.post(f"{API}/datasets", json={"name": "ok", "sources": [f"{folder}\u0000/x"]}),
        await client.post(f"{API}/datasets/{dataset['id']}/classes", json={"name": "c\u0000"}),
        await client.get(f"{API}/datasets/{dataset['id']}/items", params={"label": "a\x00"}),
        await client.get(f"/datasets/{dataset['id']}/label", params={"label": "\x00"}),
        await client.get(f"{API}/datasets/{dataset['id']}/labels", params={"tagger": "t\x00"}),
        await client.post(
            "/graphql",
            json={"query": "query($n: String!) { datasets(name: $n) { id } }", "variables": {"n": "\u0000"}},
        ),
    ]
    escape = "\\u0000"  # GraphQL's own escape, inside the query text
    literal = f'mutation {{ createClass(datasetId: {dataset["id"]}, name: "c{escape}") {{ id }} }}'
    answers.append(await client.post("/graphql", json={"query": literal}))
    for response in answers:
        assert response.status_code == 400, (response.request.url, response.text)
        assert "NUL" in response.text
    escaped = await client.post(f"{API}/datasets/{dataset['id']}/classes", json={"name": "back\\u0000slash"})
    assert escaped.status_code == 201, escaped.text  # a backslash and 'u0000' as text are fine


async def test_deeply_nested_json_is_bad_input(client) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    json_type = {"content-type": "application/json"}
    response = await client.post(f"{API}/datasets", content=deep, headers=json_type)
    assert response.status_code == 400, response.text


async def test_every_answer_carries_the_security_headers(client) -> None:
    for url in ("/datasets", f"{API}/datasets", "/static/app/labelwise.js", "/no-such-page", "/signin"):
        response = await client.get(url)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (url, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]


def test_no_template_holds_inline_script_or_event_handlers() -> None:
    """The CSP forbids inline script: pages keep their code in /static (JSON data blocks are data)."""
    # Regexes over the template *sources* on purpose: Jinja is not HTML (tags inside attributes,
    # blocks), and a pattern that over-matches only errs on the strict side.
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    found = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        found += [f"{template.name}: {m.group(0)}" for m in inline_script.finditer(text)]
        found += [f"{template.name}: {m.group(0)}" for m in handler.finditer(text)]
        found += [f"{template.name}: javascript: URL" for _ in re.finditer(r"javascript:", text, re.I)]
    assert found == []


async def test_postgres_down_answers_503_and_pages_get_a_page(settings: Settings, tmp_path: Path) -> None:
    """A refused connection (PostgreSQL stopped) is the documented 503, not a 500 with a traceback;
    a page gets an HTML page, the API its JSON error, GraphQL its error shape."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    down = settings.model_copy(
        update={"data_dir": tmp_path, "database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/gone"}
    )
    async with AsyncTestClient(app=create_app(down, run_jobs=False)) as client:
        page = await client.get("/datasets")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "database is unavailable" in page.text and "<html" in page.text.lower()
        api = await client.get(f"{API}/datasets")
        assert api.status_code == 503 and api.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        graphql = await client.post("/graphql", json={"query": "{ datasets { id } }"})
        assert graphql.status_code == 503
        assert graphql.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
