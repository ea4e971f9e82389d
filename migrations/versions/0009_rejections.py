"""Rejections: items left out of a batch of a class stay out of that class's later batches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.storage.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rejection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('label_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('tagger', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', backend.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cleared_event_id'], ['tag_event.id'], ),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['tag_event.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['label_id'], ['label_class.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejection_cleared_event_id'), ['cleared_event_id'], unique=False)
        batch_op.create_index('ix_rejection_dataset_label', ['dataset_id', 'label_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rejection_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rejection_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejection_item_id'))
        batch_op.drop_index(batch_op.f('ix_rejection_event_id'))
        batch_op.drop_index('ix_rejection_dataset_label')
        batch_op.drop_index(batch_op.f('ix_rejection_cleared_event_id'))
    op.drop_table('rejection')
