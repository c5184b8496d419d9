"""The PostgreSQL-only code paths, in one module: each function here runs on PostgreSQL alone, and its caller
chooses between it and the portable way in one line (`if postgres.active()`), so the SQLite tests never run half
of a function, and the PostgreSQL pass of the suite runs all of these.

COPY for bulk inserts and replayed imports, arrays as one parameter, the median by percentile_cont, connections sharing one exported snapshot.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cases.db import db
from cases.models import Appeal, CaseEvent, Deadline, Referral, Settlement
from cases.rows import row_of


def active(bind: sa.Engine | sa.Connection | None = None) -> bool:
    """True when the database (the session's engine by default) is PostgreSQL."""
    return (bind or db.engine).dialect.name == "postgresql"


def count_and_median(ex: sa.Connection | sa.orm.Session, column: sa.ColumnElement) -> tuple[int, Decimal | None]:
    """(rows, the median of the column to two places), with percentile_cont."""
    n, median = ex.execute(sa.select(sa.func.count(), sa.func.percentile_cont(0.5).within_group(column))).one()
    return n, None if median is None else Decimal(str(median)).quantize(Decimal("0.01"))


def member_of(column, values: list) -> sa.ColumnElement[bool]:
    """`column = ANY(array)`: `column IN values` with one parameter however many values.

    Text values travel as one JSON array that the server unpacks: psycopg quotes each element of a text array in
    Python, which costs more than the look-up itself (figures in docs/PERFORMANCE.md, "Import").
    """
    if isinstance(column.type, sa.String):
        as_json = sa.cast(sa.bindparam(None, json.dumps(list(values))), postgresql.JSON)
        return column == sa.any_(sa.func.array(sa.select(sa.func.json_array_elements_text(as_json)).scalar_subquery()))
    return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))


def copy_rows(table: sa.Table, rows: list[dict[str, Any]], with_ids: bool = False) -> None:
    """Insert plain rows in the session's transaction with COPY.

    With `with_ids` the rows carry their primary key (taken from the table's sequence beforehand).
    """
    from psycopg.types.json import Jsonb

    columns = [c for c in table.columns if with_ids or not c.primary_key]
    defaults = {c.name: c.default.arg if c.default is not None and c.default.is_scalar else None for c in columns}
    # The rows of one call have the same keys, as a rule: those are picked in one go, the other columns take their
    # defaults; a row with other keys is read column by column.
    given = [c.name for c in columns if c.name in rows[0]]
    names = given + [c.name for c in columns if c.name not in rows[0]]
    tail = [defaults[n] for n in names[len(given) :]]
    pick = operator.itemgetter(*given, given[0])  # one item more (dropped below), so even one key gives a tuple
    json_at = [i for i, n in enumerate(names) if isinstance(table.c[n].type, sa.JSON)]
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        write = copy.write_row
        width = len(given)
        for row in rows:
            values = _picked(row, pick, tail) if len(row) == width else None
            if values is None:
                values = [row.get(n, defaults[n]) for n in names]
            for i in json_at:
                if values[i] is not None:
                    values[i] = Jsonb(values[i])
            write(values)


def _picked(row: dict[str, Any], pick: operator.itemgetter, tail: list[Any]) -> list[Any] | None:
    """A row's values when it has the usual keys (the defaults after them), else None."""
    try:
        return [*pick(row)[:-1], *tail]
    except KeyError:
        return None


def write_replayed(appeals: list[Appeal]) -> None:
    """Write appeals built and replayed in this session with COPY (PostgreSQL): the same rows the ORM would write.

    The appeals take their ids from the table's sequence (one statement for the batch), then they, their
    events, deadlines, referrals and settlements are written with COPY. The objects leave the session (they
    are not used afterwards).
    """
    db.session.expunge_all()
    table = Appeal.__table__
    ids = db.session.scalars(
        sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, table.c.id.name))).select_from(
            sa.func.generate_series(1, len(appeals))
        )
    ).all()
    children: dict[sa.Table, list[dict[str, Any]]] = {
        table: [],
        CaseEvent.__table__: [],
        Deadline.__table__: [],
        Referral.__table__: [],
        Settlement.__table__: [],
    }
    for appeal, appeal_id in zip(appeals, ids, strict=True):
        row = row_of(appeal)
        row["id"] = appeal_id
        children[table].append(row)
        groups = (
            (CaseEvent.__table__, appeal.events),
            (Deadline.__table__, appeal.deadlines),
            (Referral.__table__, appeal.referrals),
            (Settlement.__table__, appeal.settlements),
        )
        for child_table, objects in groups:
            for obj in objects:
                row = row_of(obj)
                row["appeal_id"] = appeal_id
                children[child_table].append(row)
    for child_table, rows in children.items():
        if rows:
            copy_rows(child_table, rows, with_ids=child_table is table)


@contextmanager
def shared_snapshot(n: int) -> Iterator[list[sa.Connection]]:
    """n connections reading one REPEATABLE READ snapshot of the database.

    The rollup's statements then count the same committed state, however many cases are filed meanwhile (each
    statement of a READ COMMITTED session sees its own), and they run side by side on their connections
    (pg_export_snapshot, as pg_dump's parallel jobs share theirs).
    """
    with ExitStack() as stack:
        connections = [
            stack.enter_context(db.engine.connect().execution_options(isolation_level="REPEATABLE READ"))
            for _ in range(n)
        ]
        first, others = connections[0], connections[1:]
        first.exec_driver_sql("SET TRANSACTION READ ONLY")
        snapshot = first.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        for connection in others:
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # a server-made id, not user text
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            yield connections
        finally:
            for connection in connections:
                connection.rollback()
