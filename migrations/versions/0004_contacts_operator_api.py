"""Schema changes of the area: contacts, follow-up calls, operator portal, staff API.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    """Record the Art. 13 triage answer on a contact."""
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("complained_to_operator", sa.Boolean(), nullable=True))


def downgrade():
    """Drop the triage column."""
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("complained_to_operator")
