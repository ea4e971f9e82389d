"""`labelwise user ...` and `labelwise token ...`: accounts from the command line (the first admin too)."""

from __future__ import annotations

import sys
from typing import Any

import click

from backend.cli.common import _migrate, _run
from backend.settings import Settings, get_settings


def _password(password_stdin: bool, no_password: bool) -> str | None:
    if no_password:
        return None
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("user")
def user() -> None:
    """Add users, list them, change their role or password, disable or enable them."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["viewer", "labeler", "trainer", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="No password: the user works with API tokens only.")
def user_add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add user NAME with a role (the first user turns accounts on)."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    password = _password(password_stdin, no_password)

    async def work(session: Any, settings: Settings) -> Any:
        return await service.add_user(session, name, role, password)

    created = _run(work, settings)
    click.echo(f"added {created.role} '{created.name}'")


@user.command("list")
def user_list() -> None:
    """List users and their roles."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    users = _run(lambda session, settings: service.list_users(session), settings)
    if not users:
        click.echo("no users: Labelwise runs as the single local user (on 127.0.0.1 only)")
    for row in users:
        state = "" if row.active else "  (disabled)"
        click.echo(f"{row.name:<30} {row.role:<8}{state}")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "labeler", "trainer", "admin"]))
def user_role(name: str, role: str) -> None:
    """Give user NAME another role."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    _run(lambda session, settings: service.set_role(session, name, role), settings)
    click.echo(f"'{name}' is now a {role}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def user_password(name: str, password_stdin: bool) -> None:
    """Set user NAME's password (signs their browsers out)."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    password = _password(password_stdin, False)
    assert password is not None
    _run(lambda session, settings: service.set_password(session, name, password), settings)
    click.echo(f"password of '{name}' changed")


def _set_active(name: str, active: bool) -> None:
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    _run(lambda session, settings: service.set_active(session, name, active), settings)


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable user NAME: their browsers are signed out and their tokens refused, at once."""
    _set_active(name, False)
    click.echo(f"'{name}' is disabled (tokens kept but refused; `labelwise user enable` undoes it)")


@user.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable user NAME again (their unrevoked tokens work again)."""
    _set_active(name, True)
    click.echo(f"'{name}' is enabled")


@click.group("token")
def token() -> None:
    """API tokens for GraphQL and REST clients."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for (shown in token lists).")
def token_create(name: str, label: str) -> None:
    """Create an API token for user NAME and print it once (only its hash is stored)."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)

    async def work(session: Any, settings: Settings) -> str:
        account = await service.get_user(session, name)
        assert account.id is not None
        _row, secret = await service.create_token(session, account.id, label)
        return secret

    secret = _run(work, settings)
    click.echo(secret)
    click.echo("(shown once: keep it; send it as 'Authorization: Bearer <token>')", err=True)


@token.command("list")
@click.argument("name", required=False)
def token_list(name: str | None) -> None:
    """List the API tokens of user NAME, or of every user (prefixes only: secrets are not stored)."""
    from backend.accounts import service

    settings = get_settings()
    _migrate(settings)
    rows = _run(lambda session, settings: service.user_tokens(session, name), settings)
    if not rows:
        click.echo("no tokens")
    for row, user_name in rows:
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never"
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id:>6}  {user_name:<24} {row.prefix}...  {state:<8} last used {used}  {row.label}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke API token TOKEN_ID (see `labelwise token list`); it is refused from the next request."""
    from backend.accounts import service
    from backend.accounts.roles import ADMIN

    settings = get_settings()
    _migrate(settings)
    shell = service.Caller(name="command line", role=ADMIN)  # who runs the CLI owns the database

    async def work(session: Any, settings: Settings) -> tuple[Any, str, bool]:
        already = await service.token_revoked_at(session, token_id) is not None
        token = await service.revoke_token(session, shell, token_id)
        return token, await service.token_owner(session, token), already

    token, owner, already = _run(work, settings)
    # An admin's words: whose token it was, and whether this revoked it or it already was.
    what = f"token {token_id} of '{owner}' ({token.prefix}...)"
    if already:
        click.echo(f"{what} was already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC")
    else:
        click.echo(f"{what} revoked; it is refused from the next request")


def add_account_commands(main: click.Group) -> None:
    main.add_command(user)
    main.add_command(token)
