"""The open queues sorted by date received from one partial covering index: ix_appeal_open_received.

Found by `make bench` on a newly generated million-appeal history: "queue new, page 3 sorted by receipt"
(status IN the new states ORDER BY received_at, id) took 395 ms a page. The new cases are the newest, but the
planner took them to be spread over the ten years and walked ix_appeal_received_at from the oldest case,
reading and discarding 987,000 closed ones. This index holds only the open cases (about 16,000) by
(received_at, id) with the columns the queues filter on: the same page reads 150 entries, 5 ms.

Revision ID: 0064
Revises: 0063
"""

import sqlalchemy as sa
from alembic import op

revision = "0064"
down_revision = "0063"
branch_labels = None
depends_on = None

OPEN_STATES = "('received', 'awaiting_materials', 'accepted', 'referred', 'replied', 'mediating', 'settled')"


def upgrade():
    """Create the index."""
    open_ = sa.text(f"status IN {OPEN_STATES}")
    op.create_index(
        "ix_appeal_open_received",
        "appeal",
        ["received_at", "id"],
        postgresql_include=["status", "operator_id", "category", "assignee_id"],
        postgresql_where=open_,
        sqlite_where=open_,
    )


def downgrade():
    """Drop it."""
    op.drop_index("ix_appeal_open_received", table_name="appeal")
