"""The trends' rollup (issue 14): `trend_bucket` holds the cases accepted in each complete month and week by
operator (at acceptance), category and service type; `trend_state` says how far it is filled.

Revision ID: 0062
Revises: 0061
"""

import sqlalchemy as sa
from alembic import op

revision = "0062"
down_revision = "0092"
branch_labels = None
depends_on = None


def upgrade():
    """Create the two tables (filled by the nightly rollup, `cases.trends.refresh_buckets`)."""
    op.create_table(
        "trend_bucket",
        sa.Column("unit", sa.String(length=5), nullable=False),
        sa.Column("bucket", sa.Date(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("service_type", sa.String(length=16), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit", "bucket", "operator_id", "category", "service_type"),
    )
    op.create_table(
        "trend_state",
        sa.Column("unit", sa.String(length=5), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("unit"),
    )


def downgrade():
    """Drop them."""
    op.drop_table("trend_state")
    op.drop_table("trend_bucket")
