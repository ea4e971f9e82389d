"""Jobs: when the job's code last reported (its heartbeat comes from a thread of its own).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.storage.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): a rebuilt job table would cascade to its logs and metrics.
    op.add_column("job", sa.Column("progress_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("progress_at")
