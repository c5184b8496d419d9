"""Instructions with a referral, the operator signing for it, and urgent cases (issue 12).

- `referral.signed_at`, `referral.signed_by_id`: the operator signed for the referral (签收).
- `referral_instruction`: the standard instructions a referral carries and when the operator confirmed each.
- `appeal.urgent`, `appeal.urgent_reason`, `appeal.urgent_at`: an urgent case (shorter clocks, first in queues).

Revision ID: 0091
Revises: 0090
"""

import sqlalchemy as sa
from alembic import op

revision = "0091"
down_revision = "0071"
branch_labels = None
depends_on = None


def upgrade():
    """Add the columns and the table."""
    with op.batch_alter_table("referral") as batch:
        batch.add_column(sa.Column("signed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("signed_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_referral_signed_by_id", "user_account", ["signed_by_id"], ["id"])
    with op.batch_alter_table("appeal") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("urgent_reason", sa.String(24), nullable=True))
        batch.add_column(sa.Column("urgent_at", sa.DateTime(), nullable=True))
    op.create_table(
        "referral_instruction",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("referral_id", sa.Integer(), sa.ForeignKey("referral.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.UniqueConstraint("referral_id", "kind"),
    )
    op.create_index("ix_referral_instruction_referral_id", "referral_instruction", ["referral_id"])


def downgrade():
    """Drop them."""
    op.drop_table("referral_instruction")
    with op.batch_alter_table("appeal") as batch:
        for name in ("urgent_at", "urgent_reason", "urgent"):
            batch.drop_column(name)
    with op.batch_alter_table("referral") as batch:
        batch.drop_constraint("fk_referral_signed_by_id", type_="foreignkey")
        batch.drop_column("signed_by_id")
        batch.drop_column("signed_at")
