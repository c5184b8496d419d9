"""Schema changes of the area: staff console (search, duplicates, assignment).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    """Index the facts for word search: pg_trgm GIN on PostgreSQL, a plain index on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_appeal_facts_trgm",
            "appeal",
            ["facts"],
            postgresql_using="gin",
            postgresql_ops={"facts": "gin_trgm_ops"},
        )
    else:
        op.create_index("ix_appeal_facts_trgm", "appeal", ["facts"])


def downgrade():
    """Drop the facts index (the extension stays; other databases objects may use it)."""
    op.drop_index("ix_appeal_facts_trgm", table_name="appeal")
