"""An API token's scopes (issue 12): `referrals:read`, `referrals:write`; none recorded means every one.

Revision ID: 0092
Revises: 0091
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0092"
down_revision = "0091"
branch_labels = None
depends_on = None


def upgrade():
    """Add the column."""
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade():
    """Drop it."""
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("scopes")
