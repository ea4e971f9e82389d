"""Tiled keys encrypted at rest: existing clear keys in ``source.api_key`` become Fernet tokens.

No table changes: the column keeps its type and now holds ciphertext (see
backend/storage/secrets_at_rest.py and docs/decisions/0006-tiled-hosts-and-secrets.md). The key
comes from the settings ``labelwise migrate`` passes, else from the environment, and is only
looked up when a row needs it. Downgrading writes the clear keys back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _settings():  # type: ignore[no-untyped-def]
    from backend.settings import get_settings
    from backend.storage.migrate import SETTINGS_ATTRIBUTE

    return context.config.attributes.get(SETTINGS_ATTRIBUTE) or get_settings()


def _rewrite(encrypting: bool) -> None:
    from backend.storage.secrets_at_rest import FERNET_PREFIX, decrypt_secret, encrypt_secret

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, api_key FROM source WHERE api_key IS NOT NULL")).all()
    if not rows:
        return
    settings = _settings()
    update = sa.text("UPDATE source SET api_key = :api_key WHERE id = :id")
    for source_id, stored in rows:
        # Ciphertext (of whichever key) is never encrypted again; a clear key never starts so.
        if not stored or stored.startswith(FERNET_PREFIX) == encrypting:
            continue
        value = encrypt_secret(settings, stored) if encrypting else decrypt_secret(settings, stored)
        bind.execute(update, {"api_key": value, "id": source_id})


def upgrade() -> None:
    _rewrite(encrypting=True)


def downgrade() -> None:
    _rewrite(encrypting=False)
