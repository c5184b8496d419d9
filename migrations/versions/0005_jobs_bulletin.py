"""Schema changes of the area: jobs, notifications, statistics, bulletin, import.

The tables themselves (outbox_job, notification, bulletin_revision, baseline,
subscriber_count) come with 0001. The statistics add two indexes: appeals by
closing time (for the median days from receipt to closure) and clocks by kind
and stopping time (for the timeliness shares).

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    """Index appeals by closing time and clocks by kind and stopping time."""
    op.create_index("ix_appeal_closed_at", "appeal", ["closed_at", "received_at"])
    op.create_index("ix_deadline_kind_stopped", "deadline", ["kind", "stopped_at", "met"])


def downgrade():
    """Drop the indexes."""
    op.drop_index("ix_deadline_kind_stopped", table_name="deadline")
    op.drop_index("ix_appeal_closed_at", table_name="appeal")
