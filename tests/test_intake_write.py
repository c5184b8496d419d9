"""How intake writes a new case: the ORM flush, used on without reloading; operators kept a minute."""

from __future__ import annotations

import datetime as dt
import io
import time

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.public import casefile
from cases import intake
from cases.models import Appeal, CaseEvent, Deadline, Operator
from tests.test_api_public import appeal_body
from tests.test_validation import valid_fields
from workflows import engine

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


def _file() -> intake.Filed:
    cleaned = intake.clean_appeal(valid_fields(), TODAY)
    filed = intake.file_appeal(cleaned, prefix="JL", received_at=RECEIVED)
    engine.perform(filed.appeal, "submit", role="consumer", at=RECEIVED)
    return filed


def test_a_new_case_is_written_by_the_orm_flush_with_its_event_and_clocks(app):
    """No hand-made INSERT: the ORM's flush (insertmanyvalues, RETURNING) writes the case (issue 10)."""
    assert not hasattr(intake, "write_new_case")
    filed = _file()
    assert filed.appeal in db.session.new
    db.session.commit()
    stored = _stored(filed.appeal.case_no)
    assert [e["action"] for e in stored["events"]] == ["submit"]
    assert sorted(d["kind"] for d in stored["deadlines"]) == ["consumer_reply", "decision"]
    assert stored["appeal"][0]["version"] == 1 and stored["appeal"][0]["status"] == "received"
    assert stored["appeal"][0]["complainant_name"] == valid_fields()["complainant_name"]


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
