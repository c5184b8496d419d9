"""Staff queues and search at a million appeals: case-number prefixes, "my cases", two-character words.

- ix_appeal_case_no_pattern: LIKE 'JL2024-00%' (the collation is not C, so the unique index cannot serve it);
- ix_appeal_assignee_status (assignee_id, status) replaces ix_appeal_assignee_id: a mediator's open cases;
- ix_appeal_operator_category (operator_id, category, status) replaces ix_appeal_operator_id: the usual filters;
- ix_appeal_open_received: the open cases by date received (open queues sorted by date);
- ix_deadline_running (appeal_id, due_at) of the running clocks: the deadline sort, from the index alone;
- on PostgreSQL, appeal_bigrams(text) and a GIN index over the facts' character pairs, which serves the
  two-character Chinese words that the trigram index cannot (see docs/staff-console.md).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

OPEN_STATES = "('received', 'awaiting_materials', 'accepted', 'referred', 'replied', 'mediating', 'settled')"

# As cases/models.py declares them today (a migration keeps its own copy: it must not change with the models).
FACTS_BIGRAMS_FUNCTION = """
CREATE OR REPLACE FUNCTION appeal_bigrams(t text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  l text := lower(t);
  pairs text[] := '{}';
BEGIN
  FOR i IN 1 .. char_length(l) - 1 LOOP
    pairs := pairs || substr(l, i, 2);  -- GIN keeps each distinct pair once
  END LOOP;
  RETURN pairs;
END
$$"""
FACTS_BIGRAMS_INDEX = "CREATE INDEX ix_appeal_facts_bigram ON appeal USING gin (appeal_bigrams(facts))"

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    """Add the indexes (and the function on PostgreSQL)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_index(
        "ix_appeal_case_no_pattern", "appeal", ["case_no"], postgresql_ops={"case_no": "varchar_pattern_ops"}
    )
    op.create_index("ix_appeal_assignee_status", "appeal", ["assignee_id", "status"])
    op.drop_index("ix_appeal_assignee_id", table_name="appeal")
    op.create_index("ix_appeal_operator_category", "appeal", ["operator_id", "category", "status"])
    op.drop_index("ix_appeal_operator_id", table_name="appeal")
    open_states = sa.text(f"status IN {OPEN_STATES}")
    op.create_index(
        "ix_appeal_open_received", "appeal", ["received_at"], postgresql_where=open_states, sqlite_where=open_states
    )
    running = sa.text("stopped_at IS NULL")
    op.create_index(
        "ix_deadline_running", "deadline", ["appeal_id", "due_at"], postgresql_where=running, sqlite_where=running
    )
    if postgres:
        op.execute(FACTS_BIGRAMS_FUNCTION)
        op.execute(FACTS_BIGRAMS_INDEX)


def downgrade():
    """Drop them again."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_appeal_facts_bigram")
        op.execute("DROP FUNCTION appeal_bigrams(text)")
    op.drop_index("ix_deadline_running", table_name="deadline")
    op.drop_index("ix_appeal_open_received", table_name="appeal")
    op.create_index("ix_appeal_operator_id", "appeal", ["operator_id"])
    op.drop_index("ix_appeal_operator_category", table_name="appeal")
    op.create_index("ix_appeal_assignee_id", "appeal", ["assignee_id"])
    op.drop_index("ix_appeal_assignee_status", table_name="appeal")
    op.drop_index("ix_appeal_case_no_pattern", table_name="appeal")
