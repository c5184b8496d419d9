"""The urgent cases' index (issue 14's rollup at a million appeals): the timeliness of urgent clocks is counted from
the few urgent cases instead of joining every clock of the period to its appeal.

Revision ID: 0063
Revises: 0062
"""

import sqlalchemy as sa
from alembic import op

revision = "0063"
down_revision = "0062"
branch_labels = None
depends_on = None


def upgrade():
    """A partial index of the urgent cases' ids."""
    op.create_index(
        "ix_appeal_urgent", "appeal", ["id"], postgresql_where=sa.text("urgent"), sqlite_where=sa.text("urgent")
    )


def downgrade():
    """Drop it."""
    op.drop_index("ix_appeal_urgent", table_name="appeal")
