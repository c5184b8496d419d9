"""The lifecycle table applied by the engine: transitions, refusals, clocks and the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases.models import Appeal, Operator, utcnow
from cases.numbering import next_case_no
from workflows import engine, lifecycle
from workflows.engine import ActionNotAllowed, InvalidFields, RoleNotAllowed, StaleCase


def new_appeal(at: dt.datetime | None = None) -> Appeal:
    at = at or utcnow()
    op = db.session.scalar(sa.select(Operator).where(Operator.code == "cmcc_jl"))
    appeal = Appeal(
        case_no=next_case_no("JL", at),
        complainant_name="张三",
        phone="13800138000",
        operator=op,
        service_type="mobile",
        service_number="13800138000",
        category="charging",
        request="退费",
        facts="多扣费",
        received_at=at,
    )
    db.session.add(appeal)
    engine.perform(appeal, "submit", role="consumer", at=at)
    db.session.commit()
    return appeal


def test_submit_starts_the_decision_and_reply_clocks(app):
    a = new_appeal(dt.datetime(2026, 9, 29, 2, 0))  # 10:00 Tuesday 29 Sep, Shanghai
    assert a.status == "received"
    decision = a.deadline("decision")
    # 30 Sep, then 1-7 Oct is the National Day holiday, 8, 9 Oct and the 调休 Saturday 10 Oct, 12 Oct
    assert decision.due_at == dt.datetime(2026, 10, 12, 15, 59, 59)
    assert a.events[0].action == "submit" and a.events[0].to_state == "received"


def test_a_refused_action_changes_nothing(app):
    a = new_appeal()
    with pytest.raises(ActionNotAllowed):
        engine.perform(a, "settle", role="mediator", data={"perform_by": "2026-12-01"})
    db.session.rollback()
    assert a.status == "received" and len(a.events) == 1


def test_a_role_outside_the_table_is_refused(app):
    a = new_appeal()
    with pytest.raises(RoleNotAllowed):
        engine.perform(a, "accept", role="operator")


def test_reject_needs_a_known_ground(app):
    a = new_appeal()
    with pytest.raises(InvalidFields) as exc:
        engine.perform(a, "reject", role="clerk", data={"ground": "art99"})
    assert "ground" in exc.value.errors


def test_stale_version_is_refused(app):
    a = new_appeal()
    with pytest.raises(StaleCase):
        engine.perform(a, "accept", role="clerk", expected_version=a.version - 1)


def test_the_full_path_to_settlement_and_close(app):
    a = new_appeal()
    for action, role, data in [
        ("accept", "clerk", {}),
        ("refer", "mediator", {}),
        ("reply", "operator", {"text": "已退费"}),
        ("mediate", "mediator", {}),
        ("settle", "mediator", {"refund_amount": "50", "perform_by": "2036-12-31"}),
        ("close", "mediator", {"note": "回访确认已履行"}),
    ]:
        engine.perform(a, action, role=role, data=data)
        db.session.commit()
    assert a.status == "closed" and a.outcome == "settled"
    assert [e.action for e in a.events] == ["submit", "accept", "refer", "reply", "mediate", "settle", "close"]
    assert a.deadline("decision").met is True
    assert a.deadline("operator_reply").met is True


def test_materials_pause_moves_the_decision_deadline(app):
    start = dt.datetime(2026, 11, 2, 2, 0)  # Monday
    a = new_appeal(start)
    due = a.deadline("decision").due_at
    engine.perform(a, "request_materials", role="clerk", data={"missing": "缴费凭证"}, at=start)
    engine.perform(a, "receive_materials", role="consumer", at=start + dt.timedelta(days=7))
    db.session.commit()
    assert a.deadline("decision").due_at > due
    assert a.status == "received"


def test_every_action_code_has_a_name():
    from cases import codes

    for t in lifecycle.TRANSITIONS:
        assert t.action in codes.ACTIONS
        assert t.target in lifecycle.STATES


def _sample(field: lifecycle.Field):
    """A valid value for an action's field, by its kind."""
    from cases import codes

    if field.kind.startswith("choice:"):
        return next(iter(codes.ALL[field.kind.split(":", 1)[1]]))
    return {"date": "2036-12-31", "money": "20", "bool": True, "operator": "cmcc_jl"}.get(field.kind, "说明")


@pytest.mark.parametrize("seed", range(6))
def test_the_row_keeps_the_earliest_due_times_of_its_clocks(app, seed):
    """Along random walks through the table (pauses, re-referrals, reopening, days passing), the due times on
    the appeal row equal those of its clocks, and the overdue queue holds the case exactly when it is late."""
    import random

    from cases import queues

    rng = random.Random(seed)
    at = dt.datetime(2026, 3, 2, 2, 0)
    a = new_appeal(at)
    seen_late = seen_paused = False
    for _step in range(14):
        choices = [t for t in lifecycle.TRANSITIONS if a.status in t.sources and t.action != "submit"]
        if not choices:
            break
        t = rng.choice(choices)
        at += dt.timedelta(days=rng.choice([0, 1, 3, 9, 20]))
        try:
            engine.perform(a, t.action, role=sorted(t.roles)[0], data={f.name: _sample(f) for f in t.fields}, at=at)
        except engine.LifecycleError:  # a step its record refuses (a second urgent mark, an instruction confirmed)
            db.session.rollback()
            continue
        db.session.commit()
        db.session.expire_all()
        open_clocks = [d for d in a.deadlines if d.stopped_at is None]
        running = [d for d in open_clocks if d.paused_at is None]
        assert a.next_due_at == min((d.due_at for d in open_clocks), default=None)
        assert a.running_due_at == min((d.due_at for d in running), default=None)
        now = at + dt.timedelta(days=rng.choice([0, 5, 15]))
        late = any(d.due_at < now for d in running)
        seen_late |= late
        seen_paused |= len(running) < len(open_clocks)
        in_queue = db.session.scalar(
            sa.select(sa.func.count()).where(Appeal.id == a.id, *queues.queue_conditions("overdue", None, now=now))
        )
        assert in_queue == (a.status in lifecycle.OPEN_STATES and (late or a.overdue))
        assert a.is_late(now) == (late or a.overdue)
    assert seen_late or seen_paused or a.status not in lifecycle.OPEN_STATES
