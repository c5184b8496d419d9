"""The appeal row carries its earliest open and running due times; the open queues read them from the row.

- appeal.next_due_at: the earliest due time of the case's clocks not stopped (paused ones included), the open
  queues' default order; appeal.running_due_at: the same over the running clocks only, so a case is late when
  it is in the past. The engine keeps both (workflows.engine.set_due_times); this migration fills them from
  the clocks.
- ix_appeal_open_due (next_due_at, id) over the open cases only, with every column the open queues filter on
  included: a queue page (any filter, either order) and its count read this small index alone. It replaces
  ix_appeal_open_received (0007), which served the date order but sent every filter to the table rows.
- ix_appeal_running_due, partial over the few cases with a running clock: the overdue queue and filter.
- ix_deadline_running (0007), which served the deadline order from the clocks, is dropped: nothing reads it
  now, and each new case wrote two entries into it.

Before, every open-queue page grouped all running clocks by case and tested each case for a late clock with a
correlated subquery: at one million appeals the overdue queue took p95 181 ms, an open queue filtered by
operator 135 ms (docs/PERFORMANCE.md).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

OPEN_STATES = "('received', 'awaiting_materials', 'accepted', 'referred', 'replied', 'mediating', 'settled')"
OPEN_QUEUE_COLUMNS = ["status", "operator_id", "category", "assignee_id", "overdue", "running_due_at", "received_at"]

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Correlated subqueries, so the statement runs on SQLite too; only cases with an open clock are touched.
FILL = """
UPDATE appeal SET
  next_due_at = (SELECT min(d.due_at) FROM deadline d WHERE d.appeal_id = appeal.id AND d.stopped_at IS NULL),
  running_due_at = (SELECT min(d.due_at) FROM deadline d
                    WHERE d.appeal_id = appeal.id AND d.stopped_at IS NULL AND d.paused_at IS NULL)
WHERE id IN (SELECT appeal_id FROM deadline WHERE stopped_at IS NULL)
"""


def upgrade():
    """Add the columns, fill them from the open clocks, index them."""
    with op.batch_alter_table("appeal") as batch_op:
        batch_op.add_column(sa.Column("next_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("running_due_at", sa.DateTime(), nullable=True))
    op.execute(FILL)
    open_states = sa.text(f"status IN {OPEN_STATES}")
    op.create_index(
        "ix_appeal_open_due",
        "appeal",
        ["next_due_at", "id"],
        postgresql_include=OPEN_QUEUE_COLUMNS,
        postgresql_where=open_states,
        sqlite_where=open_states,
    )
    op.drop_index("ix_appeal_open_received", table_name="appeal")
    running = sa.text("running_due_at IS NOT NULL")
    op.create_index(
        "ix_appeal_running_due", "appeal", ["running_due_at"], postgresql_where=running, sqlite_where=running
    )
    op.drop_index("ix_deadline_running", table_name="deadline")


def downgrade():
    """Drop them (and bring back 0007's indexes)."""
    clock_running = sa.text("stopped_at IS NULL")
    op.create_index(
        "ix_deadline_running",
        "deadline",
        ["appeal_id", "due_at"],
        postgresql_where=clock_running,
        sqlite_where=clock_running,
    )
    op.drop_index("ix_appeal_running_due", table_name="appeal")
    open_states = sa.text(f"status IN {OPEN_STATES}")
    op.create_index(
        "ix_appeal_open_received", "appeal", ["received_at"], postgresql_where=open_states, sqlite_where=open_states
    )
    op.drop_index("ix_appeal_open_due", table_name="appeal")
    with op.batch_alter_table("appeal") as batch_op:
        batch_op.drop_column("running_due_at")
        batch_op.drop_column("next_due_at")
