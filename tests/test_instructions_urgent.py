"""Instructions with a referral (the operator signs for it and confirms each) and urgent cases (shorter clocks,
first in the queues, flagged to the operator): the scenarios of issue 12."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import codes, queues, statistics
from cases import webhooks as endpoints
from cases.models import Appeal, CaseEvent, Deadline, ReferralInstruction, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal, open_as, operator
from tests.webhook_receiver import Receiver
from workflows import calendar, engine, jobs


@pytest.fixture
def receiver(app):
    r = Receiver().start()
    endpoints.add_endpoint(app.config, operator(), r.url, [])
    db.session.commit()
    yield r
    r.stop()


def _fresh(appeal: Appeal) -> Appeal:
    db.session.expire_all()
    return db.session.get(Appeal, appeal.id)


def _refer_on_the_page(client, appeal: Appeal, **ticks: str):
    data = {f"refer-{k}": v for k, v in ticks.items()} | {"refer-version": str(appeal.version)}
    return client.post(f"/staff/cases/{appeal.case_no}/actions/refer", data=data)


def test_the_mediator_refers_with_instructions_the_operator_signs_and_confirms_each(app, client, auth, receiver):
    """Two instructions ticked on the referral: a one-working-day clock runs, the webhook names them; the liaison
    signs for the referral and confirms both in the portal; the mediator sees each step on the case page."""
    mediator = auth.as_role("mediator")
    appeal = make_appeal(state="accepted")
    resp = _refer_on_the_page(client, appeal, hold_collection="y", keep_records="y")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    appeal = _fresh(appeal)
    referral = appeal.referrals[-1]
    assert [i.kind for i in referral.instructions] == ["hold_collection", "keep_records"]
    clock = appeal.deadline("instruction")
    assert clock.due_at == calendar.due_after(referral.referred_at, 1, True)
    pushed = json.loads(receiver.received[-1].body)
    assert pushed["type"] == "referral.created"
    assert [i["kind"] for i in pushed["data"]["referral"]["instructions"]] == ["hold_collection", "keep_records"]
    assert pushed["data"]["referral"]["instructions_due_at"]

    liaison_client = app.test_client()
    liaison = make_user("operator", "liaison-cmcc")
    open_as(
        liaison_client,
        "POST",
        "/auth/login",
        data={"username": liaison.username, "password": "correct horse battery staple"},
    )
    page = open_as(liaison_client, "GET", f"/operator/cases/{appeal.case_no}").get_data(as_text=True)
    assert "暂停催缴/停机" in page and "保留通话/账单记录" in page and "签收" in page
    assert open_as(liaison_client, "POST", f"/operator/cases/{appeal.case_no}/sign").status_code == 302
    again = open_as(liaison_client, "POST", f"/operator/cases/{appeal.case_no}/sign")
    assert again.status_code == 409 and "转办已签收" in again.get_data(as_text=True)
    not_given = open_as(liaison_client, "POST", f"/operator/cases/{appeal.case_no}/instructions/restore_service")
    assert not_given.status_code == 422 and "没有随转办下达" in not_given.get_data(as_text=True)
    for kind in ("hold_collection", "keep_records"):
        assert (
            open_as(liaison_client, "POST", f"/operator/cases/{appeal.case_no}/instructions/{kind}").status_code == 302
        )

    appeal = _fresh(appeal)
    assert appeal.referrals[-1].signed_at is not None and appeal.referrals[-1].signed_by_id == liaison.id
    assert all(i.confirmed_at for i in appeal.referrals[-1].instructions)
    clock = next(d for d in appeal.deadlines if d.kind == "instruction")
    assert clock.stopped_at is not None and clock.met is True
    assert appeal.status == "referred"  # signing and confirming keep the state
    steps = [e.action for e in appeal.events if e.actor_kind == "operator"]
    assert steps == ["sign_referral", "confirm_instruction", "confirm_instruction"]
    staff_page = open_as(client, "GET", f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert (
        codes.name("action", "sign_referral") in staff_page
        and codes.name("action", "confirm_instruction") in staff_page
    )
    assert mediator.role == "mediator"


def test_an_instruction_not_confirmed_in_a_working_day_puts_the_case_on_the_overdue_queue(app, receiver):
    """The instruction clock runs out: the sweep flags the case overdue, and the operator's system is told."""
    appeal = make_appeal(state="accepted")
    engine.perform(appeal, "refer", role="mediator", data={"restore_service": True})
    db.session.commit()
    clock = appeal.deadline("instruction")
    jobs.sweep_deadlines(clock.due_at + dt.timedelta(minutes=1))
    overdue = db.session.scalars(queues.queue_select("overdue", None, now=clock.due_at + dt.timedelta(minutes=1)))
    assert [a.id for a in overdue] == [appeal.id]
    pushed = [json.loads(r.body) for r in receiver.received]
    assert [p["type"] for p in pushed] == ["referral.created", "referral.overdue"]
    assert pushed[1]["data"]["referral"]["instructions"] == [{"kind": "restore_service", "confirmed_at": None}]


def test_a_re_referral_stops_the_old_instruction_clock(app):
    """Instructions belong to one referral: referring again stops the clock of the old one's."""
    appeal = make_appeal(state="accepted")
    engine.perform(appeal, "refer", role="mediator", data={"keep_records": True})
    db.session.commit()
    engine.perform(appeal, "refer", role="mediator", data={"operator": "unicom_jl"})
    db.session.commit()
    assert [d for d in appeal.deadlines if d.kind == "instruction" and d.stopped_at is None] == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferralInstruction)) == 1


def test_a_clerk_marks_a_case_urgent_and_its_clocks_shorten(app, client, auth, receiver):
    """Marked urgent (service cut off): the decision is due in 1 working day; the referral's reply in 2 days; the
    operator sees the flag in the portal and in the webhook; a second mark is refused."""
    auth.as_role("clerk")
    appeal = make_appeal(state="received")
    before = appeal.deadline("decision").due_at
    resp = client.post(
        f"/staff/cases/{appeal.case_no}/actions/mark_urgent",
        data={"mark_urgent-reason": "service_cut_off", "mark_urgent-version": str(appeal.version)},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    appeal = _fresh(appeal)
    assert appeal.urgent and appeal.urgent_reason == "service_cut_off" and appeal.status == "received"
    decision = appeal.deadline("decision")
    assert decision.due_at == calendar.due_after(appeal.urgent_at, 1, True) and decision.due_at <= before
    again = client.post(
        f"/staff/cases/{appeal.case_no}/actions/mark_urgent",
        data={"mark_urgent-reason": "medical", "mark_urgent-version": str(appeal.version)},
    )
    assert again.status_code == 409

    engine.perform(appeal, "accept", role="clerk")
    engine.perform(appeal, "refer", role="mediator")
    db.session.commit()
    reply = appeal.deadline("operator_reply")
    assert reply.due_at == calendar.due_after(reply.started_at, 2, False)
    assert appeal.referrals[-1].due_at == reply.due_at
    pushed = json.loads(receiver.received[-1].body)
    assert pushed["data"]["case"]["urgent"] is True and pushed["data"]["case"]["urgent_reason"] == "service_cut_off"


def test_urgent_cases_stand_first_in_the_queues_and_the_operators_list(app, client, auth):
    """An urgent case received last still heads the staff queue and the liaison's list."""
    now = utcnow()
    ordinary = make_appeal(state="referred", at=now - dt.timedelta(days=3))
    urgent = make_appeal(state="referred", at=now - dt.timedelta(hours=1))
    engine.perform(urgent, "mark_urgent", role="mediator", data={"reason": "elderly_disabled"})
    db.session.commit()
    waiting = list(db.session.scalars(queues.queue_select("waiting", None)))
    assert [a.id for a in waiting] == [urgent.id, ordinary.id]
    staff = app.test_client()
    clerk = make_user("clerk")
    open_as(staff, "POST", "/auth/login", data={"username": clerk.username, "password": "correct horse battery staple"})
    queue_page = open_as(staff, "GET", "/staff/queues/waiting").get_data(as_text=True)
    assert queue_page.index(urgent.case_no) < queue_page.index(ordinary.case_no)
    assert queue_page.count('class="badge urgent"') == 1
    auth.as_role("operator")
    page = client.get("/operator/").get_data(as_text=True)
    assert page.index(urgent.case_no) < page.index(ordinary.case_no)
    detail = client.get(f"/operator/cases/{urgent.case_no}").get_data(as_text=True)
    assert "紧急" in detail and "老年或残疾申诉人" in detail


def test_the_statistics_report_urgent_cases_and_their_timeliness(app):
    """Urgent cases marked and their clocks met are counted apart (and inside the totals)."""
    appeal = make_appeal(state="received")
    engine.perform(appeal, "mark_urgent", role="clerk", data={"reason": "fraud_loss"})
    engine.perform(appeal, "accept", role="clerk")
    engine.perform(appeal, "refer", role="mediator")
    engine.perform(appeal, "reply", role="operator", data={"text": "已处理"})
    db.session.commit()
    make_appeal(state="replied")
    start, end = utcnow() - dt.timedelta(days=1), utcnow() + dt.timedelta(days=1)
    clocks = statistics.deadline_timeliness(start, end)
    assert clocks["decision"] == (2, 2) and clocks["urgent_decision"] == (1, 1)
    assert clocks["operator_reply"] == (2, 2) and clocks["urgent_operator_reply"] == (1, 1)
    marked = db.session.scalar(
        sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.action == "mark_urgent")
    )
    assert marked == 1
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Deadline).where(Deadline.kind == "instruction")) == 0
    )


def test_the_liaisons_referral_e_mail_flags_urgency_and_lists_the_instructions(app):
    """The referral notice to the liaisons says the case is urgent and which instructions to confirm."""
    from cases.models import Notification

    liaison = make_user("operator", "liaison-mail")
    liaison.email = "liaison@cmcc.example"
    db.session.commit()
    appeal = make_appeal(state="received")
    engine.perform(appeal, "mark_urgent", role="clerk", data={"reason": "medical"})
    engine.perform(appeal, "accept", role="clerk")
    engine.perform(appeal, "refer", role="mediator", data={"hold_collection": True})
    db.session.commit()
    notice = db.session.scalar(sa.select(Notification).where(Notification.recipient == "liaison@cmcc.example"))
    assert notice.subject.startswith("【紧急：医疗需要】") and "暂停催缴/停机" in notice.body
