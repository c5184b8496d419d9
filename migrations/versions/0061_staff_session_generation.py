"""Staff sessions (issue 16): `user_account.session_generation`, raised to end every web session of an account
(sign out everywhere, a password changed or reset, an account deactivated).

Revision ID: 0061
Revises: 0060
"""

import sqlalchemy as sa
from alembic import op

revision = "0061"
down_revision = "0060"
branch_labels = None
depends_on = None


def upgrade():
    """Add the column (every existing account starts at 0)."""
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    """Drop it."""
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("session_generation")
