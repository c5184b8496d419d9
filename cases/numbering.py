"""Case numbers: readable, unique, sortable by year, e.g. JL2026-000123."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cases.db import db
from cases.models import CaseNumberSequence

SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_case_no(prefix: str, received_at_utc: dt.datetime) -> str:
    """Take the next number of the receipt's (Asia/Shanghai) year, atomically, in the current transaction."""
    year = received_at_utc.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).year
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(CaseNumberSequence).values(year=year, last=0).on_conflict_do_nothing())
    seq = db.session.execute(
        sa.update(CaseNumberSequence)
        .where(CaseNumberSequence.year == year)
        .values(last=CaseNumberSequence.last + 1)
        .returning(CaseNumberSequence.last)
    ).scalar_one()
    return f"{prefix}{year}-{seq:06d}"
