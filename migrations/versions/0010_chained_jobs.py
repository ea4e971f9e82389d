"""Chained jobs: a job whose next step the server queues on success without the dataset's switch.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): a rebuilt job table would cascade to its logs and metrics.
    op.add_column("job", sa.Column("chain", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("chain")
