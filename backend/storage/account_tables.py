"""Accounts: users with a role, their API tokens and their browser sign-in sessions.

Only hashes of secrets are stored: a password as an scrypt hash, a token or a session cookie as the
SHA-256 of its random value, so a copy of the database signs nobody in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Text
from sqlmodel import Field, SQLModel

from backend.storage.types import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _user_fk() -> Any:
    return Field(sa_column_args=[ForeignKey("user_account.id", ondelete="CASCADE")], index=True)


class UserAccount(SQLModel, table=True):
    """A person (or a service) who signs in; ``role`` is one of viewer, labeler, trainer, admin."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(max_length=20)
    password_hash: str | None = Field(default=None, sa_type=Text)  # None: signs in by token only
    active: bool = True
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A bearer token for GraphQL and REST clients; acts with its user's role until revoked."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()
    label: str = Field(default="", max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)  # the first characters, so a user can tell tokens apart
    created_at: datetime = _ts()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInSession(SQLModel, table=True):
    """A browser's signed-in session (the cookie holds the random value, this row its hash)."""

    __tablename__ = "signin_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()
    session_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=UTCDateTime)
