"""Users, roles, API tokens and sign-in sessions: the rules, over the account tables.

``Caller`` is who a request acts as. With no account in the database Labelwise runs as one local
user (the embedded default, allowed only on a loopback address, see ``local.py``); once one account
exists every request must sign in or bear a token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.accounts.names import clean_tagger
from backend.accounts.passwords import DUMMY_HASH, check_strength, hash_password, verify_password
from backend.accounts.roles import ADMIN, check_role
from backend.accounts.tokens import display_prefix, new_secret, secret_hash
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.storage.account_tables import ApiToken, SignInSession, UserAccount
from backend.storage.types import utcnow

SESSION_LIFETIME = timedelta(days=14)
SESSION_PREFIX = "lws_"


@dataclass(frozen=True)
class Caller:
    """Who a request acts as. ``local``: no accounts exist, the single local user of the embedded default."""

    name: str
    role: str
    user_id: int | None = None
    via: str = "local"  # "local" | "session" | "token"

    @property
    def local(self) -> bool:
        return self.via == "local"


def _clean_name(name: str) -> str:
    return clean_tagger(name)  # one rule for names: a user name is a tagger id


_epoch = [0]  # bumped when this process adds a user: a server in local mode notices at once


def accounts_epoch() -> int:
    return _epoch[0]


async def accounts_exist(session: AsyncSession) -> bool:
    return (await session.execute(select(col(UserAccount.id)).limit(1))).first() is not None


async def add_user(session: AsyncSession, name: str, role: str, password: str | None = None) -> UserAccount:
    """A new user; without a password the user can only use API tokens."""
    name, role = _clean_name(name), check_role(role)
    hashed = None if password is None else await asyncio.to_thread(hash_password, check_strength(password))
    user = UserAccount(name=name, role=role, password_hash=hashed)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"a user named '{name}' exists") from exc
    await session.refresh(user)
    _epoch[0] += 1
    return user


async def list_users(session: AsyncSession) -> list[UserAccount]:
    return list((await session.execute(select(UserAccount).order_by(col(UserAccount.name)))).scalars())


async def get_user(session: AsyncSession, name: str) -> UserAccount:
    user = (
        await session.execute(select(UserAccount).where(col(UserAccount.name) == name))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named '{name}'")
    return user


async def _keep_an_admin(session: AsyncSession, user: UserAccount) -> None:
    """Refuse to take away the last active admin: nobody could manage accounts any more."""
    if user.role != ADMIN or not user.active:
        return
    admins = (
        await session.execute(
            select(col(UserAccount.id)).where(col(UserAccount.role) == ADMIN, col(UserAccount.active))
        )
    ).all()
    if len(admins) <= 1:
        raise Conflict("this is the last admin; make another admin first")


async def set_role(session: AsyncSession, name: str, role: str) -> UserAccount:
    user = await get_user(session, name)
    role = check_role(role)
    if role != ADMIN:
        await _keep_an_admin(session, user)
    user.role = role
    await session.commit()
    return user


async def set_active(session: AsyncSession, name: str, active: bool) -> UserAccount:
    """Disable a user (every session ends, every token is refused, at the next request) or enable
    them again. Their tokens are kept, not revoked: enabling brings them back; revoke a leaked one."""
    user = await get_user(session, name)
    if not active:
        await _keep_an_admin(session, user)
        table = SignInSession.__table__  # type: ignore[attr-defined]
        await session.execute(table.delete().where(table.c.user_id == user.id))
    user.active = active
    await session.commit()
    return user


async def set_password(session: AsyncSession, name: str, password: str) -> None:
    user = await get_user(session, name)
    user.password_hash = await asyncio.to_thread(hash_password, check_strength(password))
    # A new password ends every browser session of the old one.
    await session.execute(SignInSession.__table__.delete().where(col(SignInSession.user_id) == user.id))  # type: ignore[attr-defined]
    await session.commit()


async def authenticate(session: AsyncSession, name: str, password: str) -> UserAccount | None:
    """The user if the password is right, else None; the same work either way (no name probing)."""
    user = (
        await session.execute(select(UserAccount).where(col(UserAccount.name) == name))
    ).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.active else None
    ok = await asyncio.to_thread(verify_password, password, stored or DUMMY_HASH)
    return user if ok and stored else None


def _caller(user: UserAccount, via: str) -> Caller:
    return Caller(name=user.name, role=user.role, user_id=user.id, via=via)


# -- browser sessions -------------------------------------------------------------------------


async def start_session(session: AsyncSession, user: UserAccount) -> str:
    """A new sign-in session; returns the cookie value (stored only as its hash)."""
    secret = new_secret(SESSION_PREFIX)
    assert user.id is not None
    session.add(
        SignInSession(
            user_id=user.id, session_hash=secret_hash(secret), expires_at=utcnow() + SESSION_LIFETIME
        )
    )
    await session.commit()
    return secret


async def end_session(session: AsyncSession, secret: str) -> None:
    table = SignInSession.__table__  # type: ignore[attr-defined]
    await session.execute(table.delete().where(table.c.session_hash == secret_hash(secret)))
    await session.commit()


async def caller_for_session(session: AsyncSession, secret: str) -> Caller | None:
    row = (
        await session.execute(
            select(UserAccount, col(SignInSession.expires_at))
            .join(SignInSession, col(SignInSession.user_id) == col(UserAccount.id))
            .where(col(SignInSession.session_hash) == secret_hash(secret))
        )
    ).first()
    if row is None or not row[0].active or row[1] <= utcnow():
        return None
    return _caller(row[0], "session")


# -- API tokens -------------------------------------------------------------------------------


async def create_token(session: AsyncSession, user_id: int, label: str = "") -> tuple[ApiToken, str]:
    """A new token for the user; the secret is returned once and never stored."""
    label = label.strip()
    if len(label) > 100:
        raise Invalid("a token label has at most 100 characters")
    secret = new_secret()
    token = ApiToken(
        user_id=user_id, label=label, token_hash=secret_hash(secret), prefix=display_prefix(secret)
    )
    session.add(token)
    await session.commit()
    await session.refresh(token)
    return token, secret


async def list_tokens(session: AsyncSession, user_id: int) -> list[ApiToken]:
    query = select(ApiToken).where(col(ApiToken.user_id) == user_id).order_by(col(ApiToken.id))
    return list((await session.execute(query)).scalars())


async def user_tokens(session: AsyncSession, name: str | None = None) -> list[tuple[ApiToken, str]]:
    """(token, its user's name) for one user or everyone, for admins (prefixes only, no secrets)."""
    query = select(ApiToken, col(UserAccount.name)).join(
        UserAccount, col(UserAccount.id) == col(ApiToken.user_id)
    )
    if name is not None:
        query = query.where(col(UserAccount.id) == (await get_user(session, name)).id)
    rows = (await session.execute(query.order_by(col(UserAccount.name), col(ApiToken.id)))).all()
    return [(token, user_name) for token, user_name in rows]


async def revoke_token(session: AsyncSession, caller: Caller, token_id: int) -> ApiToken:
    """A user revokes their own tokens; an admin anyone's. Revoking twice is harmless.

    Not found reads "of yours" for a user only (another's token is not even found); an admin
    (the command line is one) may revoke any token, so theirs says the token does not exist."""
    token = await session.get(ApiToken, token_id)
    if token is None or (token.user_id != caller.user_id and caller.role != ADMIN):
        raise NotFound(f"no token {token_id}" if caller.role == ADMIN else f"no token {token_id} of yours")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.commit()
    return token


async def token_revoked_at(session: AsyncSession, token_id: int) -> datetime | None:
    """When a token was revoked (None: not revoked, or no such token)."""
    return await session.scalar(select(col(ApiToken.revoked_at)).where(col(ApiToken.id) == token_id))


async def token_owner(session: AsyncSession, token: ApiToken) -> str:
    """The name of the user a token belongs to."""
    owner = await session.get(UserAccount, token.user_id)
    return owner.name if owner is not None else ""


async def caller_for_token(session: AsyncSession, secret: str) -> Caller | None:
    row = (
        await session.execute(
            select(UserAccount, col(ApiToken.id), col(ApiToken.last_used_at))
            .join(ApiToken, col(ApiToken.user_id) == col(UserAccount.id))
            .where(col(ApiToken.token_hash) == secret_hash(secret), col(ApiToken.revoked_at).is_(None))
        )
    ).first()
    if row is None or not row[0].active:
        return None
    user, token_id, last_used = row
    now = utcnow()
    if last_used is None or now - last_used > timedelta(minutes=5):  # not a write per request
        await session.execute(update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now))
        await session.commit()
    return _caller(user, "token")


def require_signed_in(caller: Caller | None) -> Caller:
    if caller is None or caller.user_id is None:
        raise Forbidden("this needs a signed-in account (Labelwise runs without accounts)")
    return caller
