"""Case numbers: readable, unique, sortable by year, e.g. JL2026-000123.

On PostgreSQL the counter is taken in a short transaction of its own, like a
sequence: concurrent intakes never wait on each other's row lock for the whole
of their transaction (a rolled-back intake leaves a gap, as a sequence would).
SQLite serialises writers anyway, so there the counter shares the caller's
transaction and leaves no gaps.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cases.db import db
from cases.models import CaseNumberSequence

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _take(conn_or_session, year: int, insert) -> int:
    conn_or_session.execute(insert(CaseNumberSequence).values(year=year, last=0).on_conflict_do_nothing())
    return conn_or_session.execute(
        sa.update(CaseNumberSequence)
        .where(CaseNumberSequence.year == year)
        .values(last=CaseNumberSequence.last + 1)
        .returning(CaseNumberSequence.last)
    ).scalar_one()


def next_case_no(prefix: str, received_at_utc: dt.datetime) -> str:
    """Take the next number of the receipt's (Asia/Shanghai) year, atomically."""
    year = received_at_utc.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).year
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            seq = _take(conn, year, postgresql.insert)
    else:
        seq = _take(db.session, year, sqlite.insert)
    return f"{prefix}{year}-{seq:06d}"
