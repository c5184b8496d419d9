"""What each person sees (issue 16): one-time filing keys and receipts, the appellant's reports that settlement
terms were not carried out, and staff search by the appellant's name.

- `filing_receipt`: a filing's one-time key (hashed) with its case; for a few minutes the receipt's access code,
  sealed with the key, and until the SMS/e-mail receipt is sent, sealed with the app's secret.
- `settlement.consumer_reported_at`, `settlement.consumer_reports`: "the operator has not done this".
- `ix_appeal_complainant_name`: the staff search finds an appellant by name.

Revision ID: 0060
Revises: 0050
"""

import sqlalchemy as sa
from alembic import op

revision = "0060"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade():
    """Create the table, the columns and the index."""
    op.create_table(
        "filing_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sealed_code", sa.LargeBinary(), nullable=True),
        sa.Column("notice_code", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["appeal_id"], ["appeal.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("filing_receipt") as batch:
        batch.create_index("ix_filing_receipt_appeal_id", ["appeal_id"])
        batch.create_index("ix_filing_receipt_created_at", ["created_at"])
    with op.batch_alter_table("settlement") as batch:
        batch.add_column(sa.Column("consumer_reported_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("consumer_reports", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_appeal_complainant_name", "appeal", ["complainant_name"])


def downgrade():
    """Drop them."""
    op.drop_index("ix_appeal_complainant_name", table_name="appeal")
    with op.batch_alter_table("settlement") as batch:
        batch.drop_column("consumer_reports")
        batch.drop_column("consumer_reported_at")
    op.drop_table("filing_receipt")
