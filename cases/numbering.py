"""Case numbers: readable, unique, sortable by year, e.g. JL2026-000123.

On PostgreSQL each year has a sequence, `case_no_<year>`: taking a number is
one `nextval` on the intake's own connection, outside any lock, so concurrent
intakes never wait on each other (a rolled-back intake leaves a gap, as it
did with the former counter row taken in its own transaction). The sequence is
made the first time a year needs it, starting after that year's row of
`case_number_sequence` (the counter of installations from before the sequences,
and where the import records the numbers it brought in).

SQLite serialises writers anyway, so there the counter row shares the caller's
transaction and leaves no gaps.

A new case written alone (`intake.write_new_case`, the API's filing) takes its number inside its own INSERT:
`Pending` stands for the number until then, and `pending_sql` is the number in SQL, formatted as
`format_case_no` formats it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from cases import clock
from cases.db import db
from cases.models import CaseNumberSequence

_NEXTVAL = sa.text("SELECT nextval(to_regclass(:name))")  # NULL, not an error, while the year has no sequence
_NEXTVAL_DRIVER = "SELECT nextval(to_regclass(%(name)s))"  # the same in psycopg's own parameter style


def sequence_name(year: int) -> str:
    """The PostgreSQL sequence of a year's case numbers."""
    return f"case_no_{int(year)}"


def format_case_no(prefix: str, year: int, seq: int) -> str:
    """JL2026-000123: the prefix, the year and the number in six digits (more once a year passes 999,999)."""
    return f"{prefix}{year}-{seq:06d}"


@dataclass(frozen=True)
class Pending:
    """The number of a case that its own INSERT takes from the year's sequence (PostgreSQL)."""

    prefix: str
    year: int

    def params(self) -> dict[str, str]:
        """The values of `pending_sql`'s parameters."""
        return {"case_no_head": f"{self.prefix}{self.year}-", "case_no_sequence": sequence_name(self.year)}


# `format_case_no` in SQL, for `Pending` (psycopg's parameter style). The year's sequence must exist
# (`make_sequence`); a missing one fails the statement with undefined_table.
PENDING_SQL = (
    "%(case_no_head)s || (SELECT lpad(n::text, greatest(6, length(n::text)), '0') "
    "FROM nextval(%(case_no_sequence)s::regclass) AS n)"
)


def pending(prefix: str, received_at_utc: dt.datetime) -> Pending:
    """The number a case received at that moment will take in its INSERT (the receipt's local year)."""
    return Pending(prefix, clock.to_local(received_at_utc).year)


def make_sequence(year: int) -> None:
    """Make the year's sequence if it is missing (on a connection of its own: it stays, whatever the caller does)."""
    _on_own_connection(year, "SELECT 1")


def _on_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _on_own_connection(year: int, statement: str, **params) -> int | None:
    """Make the year's sequence if it is missing (starting after the year's counter row), then run `statement`.

    On a connection of its own, in autocommit: a sequence is not transactional anyway, and the caller's
    connection may not see a sequence made during its transaction (PostgreSQL caches the failed look-up).
    """
    name = sequence_name(year)
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        last = conn.scalar(sa.select(CaseNumberSequence.last).where(CaseNumberSequence.year == year)) or 0
        try:
            conn.execute(sa.text(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {int(last) + 1}"))
        except sa.exc.IntegrityError:
            pass  # another process made it at the same moment (IF NOT EXISTS does not cover that race)
        return conn.execute(sa.text(statement), {"name": name, **params}).scalar()


def _take_sequence(year: int) -> int:
    # Straight to the driver on the session's connection: a plain SELECT needs none of the ORM's execution steps.
    seq = db.session.connection().exec_driver_sql(_NEXTVAL_DRIVER, {"name": sequence_name(year)}).scalar()
    if seq is None:
        seq = _on_own_connection(year, _NEXTVAL.text)
    return int(seq)


def _take_counter(year: int) -> int:
    db.session.execute(sqlite.insert(CaseNumberSequence).values(year=year, last=0).on_conflict_do_nothing())
    return db.session.execute(
        sa.update(CaseNumberSequence)
        .where(CaseNumberSequence.year == year)
        .values(last=CaseNumberSequence.last + 1)
        .returning(CaseNumberSequence.last)
    ).scalar_one()


def next_case_no(prefix: str, received_at_utc: dt.datetime) -> str:
    """Take the next number of the receipt's (Asia/Shanghai) year, atomically."""
    year = clock.to_local(received_at_utc).year
    seq = _take_sequence(year) if _on_postgres() else _take_counter(year)
    return format_case_no(prefix, year, seq)


def move_past(year: int, last: int) -> None:
    """Make sure the year's next number is above `last` (numbers brought in by the import), in the session.

    On PostgreSQL the sequence moves at once, whatever becomes of the caller's transaction (a rolled-back
    import leaves a gap, never a duplicate).
    """
    row = db.session.get(CaseNumberSequence, year)
    if row is None:
        db.session.add(CaseNumberSequence(year=year, last=last))
    elif row.last < last:
        row.last = last
    if _on_postgres():
        # One nextval first: a setval below a number another intake has just taken would give it out twice.
        _on_own_connection(
            year,
            "SELECT CASE WHEN :last > v THEN setval(to_regclass(:name), :last) END "
            "FROM (SELECT nextval(to_regclass(:name)) AS v) AS taken",
            last=last,
        )
