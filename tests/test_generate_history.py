"""The history generator (scripts/generate_history.py): a few thousand appeals whose rows agree with the lifecycle."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import reference
from tests.conftest import DB_URL, _empty_tables, on_postgres
from workflows import lifecycle

pytestmark = pytest.mark.skipif(not on_postgres, reason="the generator writes set-based PostgreSQL SQL")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

NOW = dt.datetime(2026, 6, 1)
APPEALS = 3000


@pytest.fixture(scope="module")
def generated(_app_and_schema):
    """The test database filled with a generated history of APPEALS appeals ending at NOW."""
    import generate_history
    import psycopg

    with _app_and_schema.app_context():
        _empty_tables()
        reference.ensure_reference_data()
        db.session.remove()
    with psycopg.connect(DB_URL.replace("+psycopg", "")) as conn:
        counts = generate_history.fill(conn, APPEALS, seed=7, now=NOW, progress=lambda line: None)
    with _app_and_schema.app_context():
        yield counts
        db.session.remove()


def rows(sql: str) -> list:
    return list(db.session.execute(sa.text(sql)))


def test_each_appeal_is_in_the_state_its_last_event_leads_to(generated):
    assert generated["appeal"] == APPEALS
    assert (
        rows(
            """SELECT a.case_no FROM appeal a
           WHERE a.status IS DISTINCT FROM (SELECT e.to_state FROM case_event e WHERE e.appeal_id = a.id
                                             ORDER BY e.id DESC LIMIT 1)"""
        )
        == []
    )


def test_every_event_is_a_transition_of_the_lifecycle_table_from_the_state_before_it(generated):
    steps = rows(
        """SELECT action, from_state, to_state, lag(to_state) OVER (PARTITION BY appeal_id ORDER BY id) AS before,
                  at >= lag(at, 1, at) OVER (PARTITION BY appeal_id ORDER BY id) AS in_order
           FROM case_event"""
    )
    assert len(steps) > 3 * APPEALS
    for action, from_state, to_state, before, in_order in steps:
        assert from_state == before, (action, from_state, before)
        t = lifecycle.transition_for(action, from_state or "new")
        assert t is not None and t.target == to_state, (action, from_state, to_state)
        assert in_order


def test_closed_cases_have_closed_at_and_open_ones_running_clocks(generated):
    by_state = dict(rows("SELECT status, count(*) FROM appeal GROUP BY status"))
    assert set(by_state) == set(lifecycle.STATES)  # every state occurs
    open_cases = sum(n for s, n in by_state.items() if s in lifecycle.OPEN_STATES)
    assert 0.01 * APPEALS <= open_cases <= 0.03 * APPEALS  # most cases are long closed
    assert (
        rows("SELECT id FROM appeal WHERE (status IN ('closed', 'rejected', 'withdrawn')) <> (closed_at IS NOT NULL)")
        == []
    )
    # settle stops the clocks; every other open state has one running (or paused while materials are awaited)
    assert (
        rows(
            """SELECT a.case_no FROM appeal a WHERE a.status NOT IN ('closed', 'rejected', 'withdrawn', 'settled')
           AND NOT EXISTS (SELECT 1 FROM deadline d WHERE d.appeal_id = a.id AND d.stopped_at IS NULL)"""
        )
        == []
    )
    assert (
        rows(
            """SELECT a.case_no FROM appeal a WHERE a.status = 'awaiting_materials'
           AND EXISTS (SELECT 1 FROM deadline d WHERE d.appeal_id = a.id AND d.stopped_at IS NULL
                       AND d.paused_at IS NULL)"""
        )
        == []
    )
    assert (
        rows(
            "SELECT d.id FROM deadline d JOIN appeal a ON a.id = d.appeal_id"
            " WHERE a.status IN ('closed', 'rejected', 'withdrawn') AND d.stopped_at IS NULL"
        )
        == []
    )
    # the overdue flag says exactly whether a running clock is past due; some are
    late = (
        "EXISTS (SELECT 1 FROM deadline d WHERE d.appeal_id = a.id AND d.stopped_at IS NULL"
        " AND d.paused_at IS NULL AND d.due_at < :now)"
    )
    mismatched = db.session.execute(sa.text(f"SELECT count(*) FROM appeal a WHERE a.overdue <> {late}"), {"now": NOW})
    assert mismatched.scalar() == 0
    assert 0 < db.session.scalar(sa.text("SELECT count(*) FROM appeal WHERE overdue")) < open_cases
    # the due times on the row are those of the clocks, as the engine keeps them
    kept = """SELECT count(*) FROM appeal a WHERE
        a.next_due_at IS DISTINCT FROM (SELECT min(due_at) FROM deadline d
                                        WHERE d.appeal_id = a.id AND d.stopped_at IS NULL)
        OR a.running_due_at IS DISTINCT FROM (SELECT min(due_at) FROM deadline d
                                              WHERE d.appeal_id = a.id AND d.stopped_at IS NULL AND d.paused_at IS NULL)"""
    assert db.session.scalar(sa.text(kept)) == 0
    assert db.session.scalar(sa.text("SELECT count(*) FROM appeal WHERE running_due_at IS NOT NULL")) > 0


def test_case_numbers_phones_and_id_numbers_look_real(generated):
    numbers = [r[0] for r in rows("SELECT case_no FROM appeal")]
    assert all(re.fullmatch(r"JL20\d\d-\d{6}", n) for n in numbers) and len(set(numbers)) == APPEALS
    counters = dict(rows("SELECT year, last FROM case_number_sequence"))
    for year, last in counters.items():
        assert f"JL{year}-{last:06d}" in numbers and f"JL{year}-{last + 1:06d}" not in numbers
    assert len(counters) in (10, 11)  # ten years back from NOW
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for (id_number,) in rows("SELECT id_number FROM appeal LIMIT 200"):
        assert (
            "10X98765432"[sum(int(c) * w for c, w in zip(id_number[:17], weights, strict=True)) % 11] == id_number[17]
        )
    distinct = db.session.scalar(sa.text("SELECT count(DISTINCT phone) FROM appeal"))
    assert 0.9 * APPEALS < distinct < APPEALS  # a few appellants come back


def test_the_history_has_its_materials_contacts_calls_referrals_and_settlements(generated):
    assert generated["material"] > APPEALS and generated["contact"] > APPEALS
    assert (
        rows("SELECT count(*) FROM referral r JOIN appeal a ON a.id = r.appeal_id WHERE r.active")[0][0]
        == rows("SELECT count(DISTINCT appeal_id) FROM case_event WHERE action = 'refer'")[0][0]
    )
    assert (
        rows("SELECT count(*) FROM settlement")[0][0]
        == rows("SELECT count(*) FROM case_event WHERE action = 'settle'")[0][0]
    )
    calls = rows("SELECT count(*), count(appeal_id) FROM contact WHERE channel = 'callback'")[0]
    assert calls[0] == calls[1] > 0
    assert {r[0] for r in rows("SELECT DISTINCT channel FROM contact")} == {"phone_consultation", "visit", "callback"}
    # the words of the facts recur as in real complaints: a common word in many, a long phrase in few
    share = lambda word: db.session.scalar(  # noqa: E731
        sa.text("SELECT avg((facts LIKE :w)::int) FROM appeal"), {"w": f"%{word}%"}
    )
    assert 0.03 < share("信号") < 0.3 and 0.1 < share("扣费") < 0.5 and share("光猫频繁掉线") < share("信号") / 2
