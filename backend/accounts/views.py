"""Read models of a user and of an API token, as REST and GraphQL show them (never a secret: a
token shows its prefix, a user whether a password is set)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.storage.account_tables import ApiToken, UserAccount


@dataclass(frozen=True, kw_only=True)
class UserView:
    """A user and their role; disabled users can neither sign in nor use tokens."""

    name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime

    @classmethod
    def of(cls, user: UserAccount) -> UserView:
        return cls(
            name=user.name,
            role=user.role,
            active=user.active,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
        )


@dataclass(frozen=True, kw_only=True)
class TokenView:
    """An API token: its prefix tells tokens apart; the secret is never shown again."""

    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenView:
        assert token.id is not None, "a token read back from the database has an id"
        return cls(
            id=token.id,
            label=token.label,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
