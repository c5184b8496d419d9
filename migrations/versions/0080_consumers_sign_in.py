"""Consumers sign in with their phone, rate the handling and choose how they are told (issue 11).

- `phone_code`: the one-time SMS code of a number (HMAC only; a sealed copy until sent).
- `consumer_session`: a verified consumer's session or API token (SHA-256 only), bound to the number.
- `rating`: the appellant's 1–5 rating of a case that ended, once a case.
- `appeal.notify_by`: sms, email or both.

Revision ID: 0080
Revises: 0060
"""

import sqlalchemy as sa
from alembic import op

revision = "0080"
down_revision = "0061"
branch_labels = None
depends_on = None


def upgrade():
    """Create the tables and the column."""
    op.create_table(
        "phone_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_code", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "consumer_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_consumer_session_phone", "consumer_session", ["phone"])
    op.create_index("ix_consumer_session_expires_at", "consumer_session", ["expires_at"])
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["appeal_id"], ["appeal.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appeal_id"),
    )
    op.create_index("ix_rating_at", "rating", ["at"])
    with op.batch_alter_table("appeal") as batch:
        batch.add_column(sa.Column("notify_by", sa.String(length=8), nullable=False, server_default="both"))


def downgrade():
    """Drop them."""
    with op.batch_alter_table("appeal") as batch:
        batch.drop_column("notify_by")
    op.drop_index("ix_rating_at", table_name="rating")
    op.drop_table("rating")
    op.drop_index("ix_consumer_session_expires_at", table_name="consumer_session")
    op.drop_index("ix_consumer_session_phone", table_name="consumer_session")
    op.drop_table("consumer_session")
    op.drop_table("phone_code")
