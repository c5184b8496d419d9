"""Figures that stay true, staff-recorded materials and early warnings (issue 14).

- case_event.operator_id: the operator the case was against when the event happened, so a period's acceptances
  stay split by the operator and kind they had then (a later re-referral to a reseller no longer moves them).
  Filled here for the acceptances and settlements already recorded: the operator of the referral in force at
  the event, else of the case's first referral, else the case's own (a referral is the only way a case changes
  operator). ix_case_event_action_at gains it, so the breakdown reads it from the index.
- ix_appeal_breakdown gains service_type: the trends by service type read it from the index too.
- material.arrived_by and material.description: how a staff-recorded item came (post, counter) and what a
  paper item is; ix_material_received_source: 用户提交材料 counts the appellants' items (not the operators'
  evidence) from the index alone.
- ix_appeal_closed_at gains the id: 办结 counts the closing events of the period, not the cases' current
  state; the cases never reopened are read by closing time from this index, less the few reopened since.
- alert: the early warnings (异常预警), one per operator, dimension, key and week.

Revision ID: 0050
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0012"
branch_labels = None
depends_on = None

# Correlated subqueries, so the statement runs on SQLite too.
FILL_OPERATOR = """
UPDATE case_event SET operator_id = COALESCE(
  (SELECT r.operator_id FROM referral r WHERE r.appeal_id = case_event.appeal_id AND r.referred_at <= case_event.at
   ORDER BY r.referred_at DESC, r.id DESC LIMIT 1),
  (SELECT r.operator_id FROM referral r WHERE r.appeal_id = case_event.appeal_id ORDER BY r.referred_at, r.id LIMIT 1),
  (SELECT a.operator_id FROM appeal a WHERE a.id = case_event.appeal_id))
WHERE action IN ('accept', 'settle')
"""


def upgrade():
    """Add the columns and the table, fill the events' operators, widen the two indexes."""
    with op.batch_alter_table("case_event") as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_case_event_operator_id_operator", "operator", ["operator_id"], ["id"])
    op.execute(FILL_OPERATOR)
    op.drop_index("ix_case_event_action_at", table_name="case_event")
    op.create_index("ix_case_event_action_at", "case_event", ["action", "at", "appeal_id", "operator_id"])
    op.drop_index("ix_appeal_breakdown", table_name="appeal")
    op.create_index("ix_appeal_breakdown", "appeal", ["id", "operator_id", "category", "service_type"])
    with op.batch_alter_table("material") as batch_op:
        batch_op.add_column(sa.Column("arrived_by", sa.String(16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_material_received_source", "material", ["received_at", "source"])
    op.drop_index("ix_appeal_closed_at", table_name="appeal")
    op.create_index("ix_appeal_closed_at", "appeal", ["closed_at", "received_at", "id"])
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Numeric(10, 2), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"], name="fk_alert_operator_id_operator"),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["user_account.id"], name="fk_alert_acknowledged_by_id_user_account"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
        sa.UniqueConstraint("dimension", "operator_id", "key", "week_start", name="uq_alert_dimension"),
    )


def downgrade():
    """Drop them (and bring back 0008's indexes)."""
    op.drop_table("alert")
    op.drop_index("ix_appeal_closed_at", table_name="appeal")
    op.create_index("ix_appeal_closed_at", "appeal", ["closed_at", "received_at"])
    op.drop_index("ix_material_received_source", table_name="material")
    with op.batch_alter_table("material") as batch_op:
        batch_op.drop_column("description")
        batch_op.drop_column("arrived_by")
    op.drop_index("ix_appeal_breakdown", table_name="appeal")
    op.create_index("ix_appeal_breakdown", "appeal", ["id", "operator_id", "category"])
    op.drop_index("ix_case_event_action_at", table_name="case_event")
    op.create_index("ix_case_event_action_at", "case_event", ["action", "at", "appeal_id"])
    with op.batch_alter_table("case_event") as batch_op:
        batch_op.drop_constraint("fk_case_event_operator_id_operator", type_="foreignkey")
        batch_op.drop_column("operator_id")
