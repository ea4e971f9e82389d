"""Jobs and models: trained models, background jobs, their per-epoch metrics and logs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:24:24.251019
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.storage.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('algorithm', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('trained_on', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_at', backend.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ready_at', backend.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('algorithm', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=True),
    sa.Column('epochs', sa.Integer(), nullable=True),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('heartbeat_at', backend.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('created_at', backend.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', backend.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', backend.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_dataset_created', ['dataset_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_model_id'), ['model_id'], unique=False)
        batch_op.create_index('ix_job_state_heartbeat', ['state', 'heartbeat_at'], unique=False)

    op.create_table('job_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', backend.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_log', schema=None) as batch_op:
        batch_op.create_index('ix_job_log_job_id', ['job_id', 'id'], unique=False)

    op.create_table('job_metric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('created_at', backend.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_metric', schema=None) as batch_op:
        batch_op.create_index('ix_job_metric_job_epoch', ['job_id', 'attempt', 'epoch'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job_metric', schema=None) as batch_op:
        batch_op.drop_index('ix_job_metric_job_epoch')
    op.drop_table('job_metric')
    with op.batch_alter_table('job_log', schema=None) as batch_op:
        batch_op.drop_index('ix_job_log_job_id')
    op.drop_table('job_log')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_state_heartbeat')
        batch_op.drop_index(batch_op.f('ix_job_model_id'))
        batch_op.drop_index('ix_job_dataset_created')
    op.drop_table('job')
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_dataset_id'))
    op.drop_table('model')
