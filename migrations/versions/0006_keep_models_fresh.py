"""Keep models fresh: a per-dataset switch and growth fraction; jobs record the job that caused them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch mode: SQLite's batch mode rebuilds the table, and dropping the old
    # dataset or job table would cascade to their sources, items, logs and metrics.
    op.add_column(
        "dataset", sa.Column("keep_models_fresh", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("dataset", sa.Column("fresh_growth", sa.Float(), nullable=False, server_default="0.2"))
    op.add_column(
        "dataset", sa.Column("fresh_since", backend.storage.types.UTCDateTime(timezone=True), nullable=True)
    )
    # A plain id (no foreign key: adding one would rebuild the table on SQLite); informational.
    op.add_column("job", sa.Column("caused_by_job_id", sa.Integer(), nullable=True))
    op.add_column("job", sa.Column("followed_up", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("followed_up")
        batch_op.drop_column("caused_by_job_id")
    with op.batch_alter_table("dataset", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("fresh_since")
        batch_op.drop_column("fresh_growth")
        batch_op.drop_column("keep_models_fresh")
