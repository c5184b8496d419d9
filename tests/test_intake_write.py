"""How intake writes a new case: one INSERT statement on PostgreSQL, the same rows as the ORM; operators kept a minute."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.public import casefile
from cases import intake, numbering
from cases.models import Appeal, CaseEvent, CaseNumberSequence, Deadline, Operator
from tests.conftest import on_postgres
from tests.test_api_public import appeal_body
from tests.test_validation import valid_fields
from workflows import engine, filing

TODAY = dt.date(2026, 11, 20)
RECEIVED = dt.datetime(2026, 11, 20, 1, 30)  # 09:30 in Shanghai
SKIP = {"id", "appeal_id", "case_no", "access_code_hash", "updated_at"}  # what two filings never share


def _stored(case_no: str) -> dict:
    """The rows of a case as the database has them, without what differs between two filings."""

    def plain(table: sa.Table, where) -> list[dict]:
        rows = db.session.execute(sa.select(table).where(where).order_by(table.c.id)).mappings()
        return [{k: v for k, v in row.items() if k not in SKIP} for row in rows]

    appeal_id = db.session.scalar(sa.select(Appeal.id).where(Appeal.case_no == case_no))
    return {
        "appeal": plain(Appeal.__table__, Appeal.id == appeal_id),
        "events": plain(CaseEvent.__table__, CaseEvent.appeal_id == appeal_id),
        "deadlines": plain(Deadline.__table__, Deadline.appeal_id == appeal_id),
    }


def _file(write: bool) -> intake.Filed:
    cleaned = intake.clean_appeal(valid_fields(), TODAY)
    filed = intake.file_appeal(cleaned, prefix="JL", received_at=RECEIVED)
    engine.perform(filed.appeal, "submit", role="consumer", at=RECEIVED)
    if write:
        intake.write_new_case(filed.appeal)
    return filed


def test_a_new_case_is_stored_exactly_as_the_orm_flush_stores_it(app):
    written = _file(write=True)
    if on_postgres:  # written already, with its ids; nothing left for the flush
        assert written.appeal.id is not None and sa.inspect(written.appeal).persistent
        assert all(sa.inspect(obj).persistent for obj in [*written.appeal.events, *written.appeal.deadlines])
        assert not db.session.new and not db.session.dirty
    db.session.commit()
    flushed = _file(write=False)
    db.session.commit()
    assert written.appeal.id != flushed.appeal.id
    ours, orms = _stored(written.appeal.case_no), _stored(flushed.appeal.case_no)
    assert ours == orms
    assert [e["action"] for e in ours["events"]] == ["submit"]
    assert sorted(d["kind"] for d in ours["deadlines"]) == ["consumer_reply", "decision"]
    assert ours["appeal"][0]["version"] == 1 and ours["appeal"][0]["status"] == "received"


def test_the_written_case_is_used_on_in_its_transaction_without_reloading(app):
    """The portal stores the files right after the case is written; the answer reads the clocks."""
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="bill.pdf", content_type="application/pdf")
    filed = casefile.submit_appeal(intake.clean_appeal(valid_fields(), TODAY), [pdf], received_at=RECEIVED)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        due = filed.appeal.deadline("decision").due_at
        status, number = filed.appeal.status, filed.appeal.case_no
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []  # no reload of what was just written
    assert number.startswith("JL2026-")
    assert status == "received" and due > RECEIVED
    db.session.commit()
    db.session.expire_all()
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == filed.appeal.case_no))
    assert [m.original_name for m in appeal.materials] == ["bill.pdf"]
    assert [e.action for e in appeal.events] == ["submit"] and len(appeal.deadlines) == 2


@pytest.mark.skipif(not on_postgres, reason="the single INSERT is PostgreSQL's; SQLite keeps the ORM flush")
def test_the_written_case_is_in_the_session_as_if_loaded_and_a_rollback_undoes_it(app):
    filed = _file(write=True)
    objects = [filed.appeal, *filed.appeal.events, *filed.appeal.deadlines]
    assert all(sa.inspect(obj).persistent for obj in objects)
    assert not db.session.new and not db.session.dirty  # nothing left for the commit's flush to write
    assert db.session.get(Appeal, filed.appeal.id) is filed.appeal  # in the identity map, no query
    db.session.rollback()
    assert all(sa.inspect(obj).expired for obj in objects)  # nothing of it is trusted any more
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == 0


def _statements_of(fn) -> list[tuple[str, bool]]:
    """What fn sends: each SQL statement with whether its connection was in autocommit, and 'COMMIT's."""
    sent: list[tuple[str, bool]] = []

    def statement(conn, cursor, text, *args):
        sent.append((" ".join(text.split())[:40], cursor.connection.autocommit))

    def commit(conn):
        sent.append(("COMMIT", False))

    sa.event.listen(db.engine, "before_cursor_execute", statement)
    sa.event.listen(db.engine, "commit", commit)
    try:
        fn()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", statement)
        sa.event.remove(db.engine, "commit", commit)
    return sent


@pytest.mark.skipif(not on_postgres, reason="the single INSERT is PostgreSQL's; SQLite keeps the ORM flush")
def test_a_case_filed_through_the_api_is_one_statement_in_its_own_transaction(app, client):
    """Number, appeal, submit event and clocks in one INSERT in autocommit: no BEGIN, no nextval, no COMMIT."""
    first = client.post(
        "/api/v1/appeals", json=appeal_body(phone="13800138001")
    )  # reads the operator, makes the year's sequence
    answers = []
    sent = _statements_of(lambda: answers.append(client.post("/api/v1/appeals", json=appeal_body())))
    assert answers[0].status_code == 201, answers[0].json
    assert [(text[:30], autocommit) for text, autocommit in sent] == [("WITH c0 AS (INSERT INTO appeal", True)]
    head, number = first.json["case_no"].split("-")
    assert answers[0].json["case_no"] == f"{head}-{int(number) + 1:06d}"
    stored = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == answers[0].json["case_no"]))
    assert [e.action for e in stored.events] == ["submit"] and len(stored.deadlines) == 2


@pytest.mark.skipif(not on_postgres, reason="the per-year sequences exist on PostgreSQL only")
def test_a_case_filed_alone_makes_its_years_sequence_and_continues_the_years_counter(app):
    """The year's first case (no sequence yet): made, after the counter row, and the INSERT tried again."""
    db.session.add(CaseNumberSequence(year=2026, last=41))
    db.session.commit()
    cleaned = intake.clean_appeal(valid_fields(), TODAY)
    filed = filing.file_case(cleaned, channel="online", role="consumer", received_at=RECEIVED, alone=True)
    assert filed.appeal.case_no == "JL2026-000042"
    with db.engine.connect() as other:  # committed already, before the session's own commit
        assert other.scalar(sa.select(Appeal.case_no).where(Appeal.id == filed.appeal.id)) == "JL2026-000042"
    db.session.commit()
    again = filing.file_case(cleaned, channel="online", role="consumer", received_at=RECEIVED, alone=True)
    assert again.appeal.case_no == "JL2026-000043"


@pytest.mark.skipif(not on_postgres, reason="the per-year sequences exist on PostgreSQL only")
def test_the_number_taken_by_the_insert_is_formatted_as_in_python_past_a_million(app):
    cleaned = intake.clean_appeal(valid_fields(), TODAY)
    numbering.make_sequence(2026)
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT setval('case_no_2026', 999998)"))
        conn.commit()
    numbers = [
        filing.file_case(cleaned, channel="online", role="consumer", received_at=RECEIVED, alone=True).appeal.case_no
        for _ in range(2)
    ]
    assert numbers == [numbering.format_case_no("JL", 2026, 999999), numbering.format_case_no("JL", 2026, 1000000)]
    assert numbers == ["JL2026-999999", "JL2026-1000000"]


def test_a_case_filed_alone_is_the_same_case_and_brings_no_files(app):
    cleaned = intake.clean_appeal(valid_fields(), TODAY)
    alone = filing.file_case(cleaned, channel="online", role="consumer", received_at=RECEIVED, alone=True)
    db.session.commit()
    usual = filing.file_case(cleaned, channel="online", role="consumer", received_at=RECEIVED)
    db.session.commit()
    assert _stored(alone.appeal.case_no) == _stored(usual.appeal.case_no)
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="bill.pdf", content_type="application/pdf")
    with pytest.raises(ValueError):
        filing.file_case(cleaned, channel="online", role="consumer", files=[pdf], alone=True)


def test_the_operator_is_read_from_the_database_once_a_minute_per_process(app, client):
    selects = []

    def count(conn, cursor, statement, *args):
        if "FROM operator" in statement:
            selects.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        for n in range(3):
            resp = client.post("/api/v1/appeals", json=appeal_body(phone=f"1380013800{n}"))
            assert resp.status_code == 201, resp.json
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(selects) == 1
    filed = db.session.scalars(sa.select(Appeal).order_by(Appeal.id)).all()
    assert [a.operator.code for a in filed] == ["cmcc_jl"] * 3


def test_an_operator_deactivated_in_the_database_is_refused_once_the_minute_is_over(app, client, monkeypatch):
    assert client.post("/api/v1/appeals", json=appeal_body()).status_code == 201
    db.session.execute(sa.update(Operator).where(Operator.code == "cmcc_jl").values(active=False))
    db.session.commit()
    later = time.monotonic() + intake.OPERATOR_CACHE_SECONDS + 1
    monkeypatch.setattr(intake.time, "monotonic", lambda: later)
    refused = client.post("/api/v1/appeals", json=appeal_body(phone="13900139000"))
    assert refused.status_code == 422 and "operator" in refused.json["errors"]
