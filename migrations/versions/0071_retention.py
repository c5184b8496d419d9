"""Personal data kept only as long as allowed (issue 13): legal hold, anonymisation marks, the retention runs.

- `appeal.legal_hold_reason`, `legal_hold_at`, `legal_hold_by_id`, `appeal.anonymised_at`
- `contact.anonymised_at`; `material.removed` ("retention" when the content was deleted under the policy)
- `retention_run`: each run of the retention job with its counts (cases/retention.py)

Revision ID: 0071
Revises: 0070
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0071"
down_revision = "0070"
branch_labels = None
depends_on = None


def upgrade():
    """Add the columns and the table."""
    with op.batch_alter_table("appeal") as batch:
        batch.add_column(sa.Column("legal_hold_reason", sa.String(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("legal_hold_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("legal_hold_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key("fk_appeal_legal_hold_by", "user_account", ["legal_hold_by_id"], ["id"])
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("material") as batch:
        batch.add_column(sa.Column("removed", sa.String(length=16), nullable=False, server_default=""))
    op.create_table(
        "retention_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("cutoff", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("counts", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("retention_run")
    with op.batch_alter_table("material") as batch:
        batch.drop_column("removed")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("appeal") as batch:
        batch.drop_constraint("fk_appeal_legal_hold_by", type_="foreignkey")
        batch.drop_column("anonymised_at")
        batch.drop_column("legal_hold_by_id")
        batch.drop_column("legal_hold_at")
        batch.drop_column("legal_hold_reason")
