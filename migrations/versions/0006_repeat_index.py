"""Index on appeal.repeat_of_id: repeat look-ups and deletes no longer scan every appeal.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    """Add the index."""
    op.create_index("ix_appeal_repeat_of_id", "appeal", ["repeat_of_id"])


def downgrade():
    """Drop the index."""
    op.drop_index("ix_appeal_repeat_of_id", table_name="appeal")
