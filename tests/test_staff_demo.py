"""`flask seed --demo` also creates demo cases in different states, through the engine, only once."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from cases.demo import DEMO_CASES
from cases.models import Appeal, CaseEvent


def test_seed_demo_creates_cases_in_each_state_through_the_engine_and_only_when_there_are_none(runner):
    result = runner.invoke(args=["seed", "--demo"])
    assert result.exit_code == 0, result.output
    states = sorted(db.session.scalars(sa.select(Appeal.status)))
    assert states == sorted(case[0] for case in DEMO_CASES)
    assert {
        "received",
        "awaiting_materials",
        "accepted",
        "referred",
        "replied",
        "settled",
        "closed",
        "rejected",
    } <= set(states)
    submits = db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.action == "submit"))
    assert submits == len(DEMO_CASES)  # every case went through the engine
    again = runner.invoke(args=["seed", "--demo"])
    assert again.exit_code == 0 and "none added" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == len(DEMO_CASES)
