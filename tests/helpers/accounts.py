"""Accounts for tests: one user per role, each with an API token (tokens skip the slow password hash)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.accounts import service
from backend.accounts.roles import ROLES


@dataclass
class Account:
    name: str
    role: str
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


PASSWORD = "correct horse battery"


@pytest.fixture
async def accounts(session) -> dict[str, Account]:
    """A viewer, a labeler, a trainer and an admin; only the admin has a password (hashing is slow)."""
    made: dict[str, Account] = {}
    for role in ROLES:
        name = f"{role}-user"
        user = await service.add_user(session, name, role, PASSWORD if role == "admin" else None)
        assert user.id is not None
        _row, secret = await service.create_token(session, user.id, "tests")
        made[role] = Account(name=name, role=role, token=secret, password=PASSWORD)
    return made


async def csrf_headers(client) -> dict[str, str]:
    """The pages' CSRF token, as HTMX sends it (the sign-in page is public and sets the cookie)."""
    from backend.pages.csrf import CSRF_COOKIE, CSRF_HEADER

    await client.get("/signin")
    return {CSRF_HEADER: client.cookies.get(CSRF_COOKIE)}
