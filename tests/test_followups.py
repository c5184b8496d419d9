"""Follow-up calls on a case, and the check that the operator carried out the settlement terms."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from cases import followups
from cases.models import CaseEvent, Contact, Settlement
from tests.factories import make_appeal
from workflows import engine


def _call(client, case_no: str, **data):
    """POST a follow-up call through the calls page."""
    values = {"callee": "consumer", "at": "2026-11-25T10:00", "reached": "yes", "notes": "已回访"}
    values.update(data)
    return client.post(f"/staff/cases/{case_no}/calls", data=values)


def test_a_mediator_calls_the_consumer_back_and_the_call_is_an_internal_audit_event(client, auth):
    mediator = auth.as_role("mediator")
    appeal = make_appeal(state="replied")
    resp = _call(client, appeal.case_no, satisfaction="4", next_call_due="2026-12-02", notes="申诉人认可企业答复")
    assert resp.status_code == 302
    call = db.session.scalar(sa.select(Contact).where(Contact.channel == "callback"))
    assert call.appeal_id == appeal.id and call.reached is True and call.satisfaction == 4
    assert call.at == dt.datetime(2026, 11, 25, 2, 0) and call.recorded_by_id == mediator.id
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "callback"))
    assert event.internal and event.from_state is None and event.details["contact_id"] == call.id
    assert appeal.status == "replied"  # no state change
    page = client.get(f"/staff/cases/{appeal.case_no}/calls").get_data(as_text=True)
    assert "申诉人认可企业答复" in page and "2026-12-02" in page


def test_satisfaction_belongs_to_the_consumer_and_an_operator_call_with_one_is_refused(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="referred")
    resp = _call(client, appeal.case_no, callee="operator", satisfaction="5")
    assert resp.status_code == 422 and "满意度只在回访申诉人时填写" in resp.get_data(as_text=True)
    resp = _call(client, appeal.case_no, reached="maybe", at="")
    assert resp.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0


def test_a_call_on_a_settled_case_confirms_the_terms_and_then_the_mediator_can_close(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="settled")
    page = client.get(f"/staff/cases/{appeal.case_no}/calls").get_data(as_text=True)
    assert "企业是否已履行和解条款" in page
    missing = _call(client, appeal.case_no)
    assert missing.status_code == 422 and "请确认企业是否已履行和解条款" in missing.get_data(as_text=True)
    assert _call(client, appeal.case_no, terms_carried_out="yes", satisfaction="5").status_code == 302
    settlement = db.session.scalar(sa.select(Settlement))
    assert settlement.confirmed_at is not None and not settlement.missed
    assert followups.terms_status(settlement) == "confirmed"
    engine.perform(appeal, "close", role="mediator", data={"note": "回访确认已履行"})
    db.session.commit()
    assert appeal.status == "closed"


def test_terms_found_not_carried_out_are_flagged_and_listed_as_unperformed(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="settled")
    other = make_appeal(state="settled")
    assert _call(client, appeal.case_no, terms_carried_out="no", notes="退款未到账").status_code == 302
    settlement = followups.agreed_settlement(appeal)
    assert settlement.missed and settlement.confirmed_at is None
    page = client.get(f"/staff/cases/{appeal.case_no}/calls").get_data(as_text=True)
    assert "履行未到位" in page
    listing = client.get("/staff/settlements/unperformed").get_data(as_text=True)
    assert appeal.case_no in listing and other.case_no not in listing


def test_a_settled_case_past_its_perform_by_date_without_confirmation_is_flagged(client, auth):
    auth.as_role("supervisor")
    appeal = make_appeal(state="replied", at=dt.datetime(2025, 12, 20, 2, 0))  # a carry-out date is not set in the past
    engine.perform(
        appeal,
        "settle",
        role="mediator",
        data={"refund_amount": "20", "perform_by": "2026-01-05"},
        at=dt.datetime(2025, 12, 22, 2, 0),
    )
    db.session.commit()
    settlement = followups.agreed_settlement(appeal)
    assert followups.terms_status(settlement, today=dt.date(2026, 1, 5)) == "pending"
    assert followups.terms_status(settlement, today=dt.date(2026, 1, 6)) == "overdue"
    listing = client.get("/staff/settlements/unperformed").get_data(as_text=True)
    assert appeal.case_no in listing and "已过履行期限" in listing
    assert "已过履行期限" in client.get(f"/staff/cases/{appeal.case_no}/calls").get_data(as_text=True)


def test_an_unreached_call_records_no_terms_answer(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="settled")
    assert _call(client, appeal.case_no, reached="no", terms_carried_out="yes").status_code == 302
    call = db.session.scalar(sa.select(Contact))
    assert call.terms_carried_out is None and call.satisfaction is None
    assert followups.agreed_settlement(appeal).confirmed_at is None


def test_calls_on_an_unknown_case_are_404_and_an_operator_may_not_record_them(client, auth):
    auth.as_role("operator")
    appeal = make_appeal(state="referred")
    assert _call(client, appeal.case_no).status_code == 403
    auth.logout()
    auth.as_role("clerk")
    assert client.get("/staff/cases/JL2026-999999/calls").status_code == 404


def test_cases_whose_next_call_is_due_are_listed_until_a_new_call_moves_the_date(client, auth):
    auth.as_role("mediator")
    due = make_appeal(state="replied")
    later = make_appeal(state="replied")
    assert _call(client, due.case_no, next_call_due="2026-01-10").status_code == 302
    assert _call(client, later.case_no, next_call_due="2099-01-10").status_code == 302
    listing = client.get("/staff/calls/due").get_data(as_text=True)
    assert due.case_no in listing and later.case_no not in listing
    assert _call(client, due.case_no, next_call_due="2099-02-01").status_code == 302
    assert due.case_no not in client.get("/staff/calls/due").get_data(as_text=True)
    assert followups.next_call_due(due) == dt.date(2099, 2, 1)


def test_a_call_cannot_be_recorded_in_the_future(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="replied")
    resp = _call(client, appeal.case_no, at="2098-01-01T10:00")
    assert resp.status_code == 422 and "时间不能晚于现在" in resp.get_data(as_text=True)
