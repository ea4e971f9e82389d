"""`labelwise user ...`, `labelwise token create`, and `serve` refusing a public address without accounts."""

from __future__ import annotations

import asyncio

import uvicorn
from click.testing import CliRunner
from sqlalchemy import select

from backend import cli
from backend.storage.account_tables import ApiToken, UserAccount
from backend.storage.database import Database


def _no_serving(*args, **kwargs):  # uvicorn is not ours; the test must never start a real server
    raise AssertionError("serve went on to start the server")


def _with_stdin(text: str, *args: str):
    return CliRunner().invoke(cli.main, list(args), input=text, catch_exceptions=False)


def _stored(settings, column):
    async def read():
        db = Database(settings.database)
        try:
            async with db.session() as session:
                return (await session.execute(select(column))).scalars().all()
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_serve_on_a_public_address_without_accounts_refuses(run_cli, monkeypatch):
    monkeypatch.setattr(uvicorn, "run", _no_serving)
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "8765", ok=False)
    assert "refusing to serve on 0.0.0.0 without accounts" in result.output
    assert "labelwise user add" in result.output


def test_users_and_tokens_from_the_command_line(run_cli, monkeypatch, settings):
    added = _with_stdin(
        "a long enough password\n", "user", "add", "ada", "--role", "admin", "--password-stdin"
    )
    assert added.exit_code == 0 and "added admin 'ada'" in added.output
    hashes = _stored(settings, UserAccount.password_hash)
    assert hashes[0].startswith("scrypt$") and "a long enough password" not in hashes[0]
    short = _with_stdin("short\n", "user", "add", "cy", "--role", "viewer", "--password-stdin")
    assert short.exit_code != 0 and "8 to 1024 characters" in short.output
    prompted = _with_stdin("another password\nanother password\n", "user", "add", "cat", "--role", "trainer")
    assert prompted.exit_code == 0 and "another password" not in prompted.output

    run_cli("user", "add", "bob", "--role", "viewer", "--no-password")
    assert "exists" in run_cli("user", "add", "bob", "--role", "viewer", "--no-password", ok=False).output
    run_cli("user", "role", "bob", "labeler")
    listing = run_cli("user", "list").output
    assert "ada" in listing and "bob" in listing and "labeler" in listing and "cy" not in listing
    token = run_cli("token", "create", "bob", "--label", "script").stdout.strip()
    assert token.startswith("lw_")
    assert token not in _stored(settings, ApiToken.token_hash)
    assert "Bearer" in run_cli("token", "create", "bob").stderr

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: print(f"serving on {kw['host']}"))
    assert "serving on 0.0.0.0" in run_cli("serve", "--host", "0.0.0.0").output  # accounts exist now


def test_token_revoke_speaks_to_the_admin_who_runs_it(run_cli):
    """The command line acts as an admin on anyone's tokens: it said "token N revoked" alike for a
    token revoked long ago, and "no token N of yours" for one that does not exist."""
    run_cli("user", "add", "root", "--role", "admin", "--no-password")
    run_cli("user", "add", "carl", "--role", "labeler", "--no-password")
    secret = run_cli("token", "create", "carl", "--label", "cron").stdout.strip()
    token_id = run_cli("token", "list", "carl").output.split()[0]

    revoked = run_cli("token", "revoke", token_id).output
    assert f"token {token_id} of 'carl' ({secret[:8]}...) revoked" in revoked
    again = run_cli("token", "revoke", token_id).output
    assert f"token {token_id} of 'carl' ({secret[:8]}...) was already revoked on " in again
    assert "UTC" in again and " revoked;" not in again

    missing = run_cli("token", "revoke", "999999", ok=False).output
    assert "no token 999999" in missing and "of yours" not in missing
