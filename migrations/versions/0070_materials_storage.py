"""Materials in object storage (issue 13): each material names the storage its object is in.

- `material.storage`: "" for the local upload folder, else `s3://bucket/prefix` (cases/storage.py).

Revision ID: 0070
Revises: 0060
"""

import sqlalchemy as sa
from alembic import op

revision = "0070"
down_revision = "0090"
branch_labels = None
depends_on = None


def upgrade():
    """Add the column; every existing material is in the local folder."""
    with op.batch_alter_table("material") as batch:
        batch.add_column(sa.Column("storage", sa.String(length=300), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("material") as batch:
        batch.drop_column("storage")
