"""Sources carry a detector mask (file and derived rules) and a PONI geometry; datasets a display preset.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.storage.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mask_path', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('mask_rules', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('poni_path', sa.Text(), nullable=True))
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('display_scale', sa.String(length=10), nullable=False, server_default='linear')
        )
        batch_op.add_column(
            sa.Column('display_colormap', sa.String(length=20), nullable=False, server_default='gray')
        )
        batch_op.add_column(sa.Column('display_p_low', sa.Float(), nullable=False, server_default='1.0'))
        batch_op.add_column(sa.Column('display_p_high', sa.Float(), nullable=False, server_default='99.0'))
        batch_op.add_column(sa.Column('display_changed_at', backend.storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: batch mode copies and drops the table, and
    # dropping ``dataset`` would cascade to every source and item under SQLite's foreign keys.
    for column in ('display_changed_at', 'display_p_high', 'display_p_low', 'display_colormap', 'display_scale'):
        op.drop_column('dataset', column)
    for column in ('poni_path', 'mask_rules', 'mask_path'):
        op.drop_column('source', column)
