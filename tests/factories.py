"""Test data: appeals created directly and submitted through the engine, as a consumer would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from cases import contacts
from cases.models import Appeal, Contact, Operator, ReferralInstruction, utcnow
from cases.numbering import next_case_no
from workflows import engine

# The steps that bring a received appeal to each state (action, role, data).
PATHS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "received": [],
    "awaiting_materials": [("request_materials", "clerk", {"missing": "缴费凭证"})],
    "accepted": [("accept", "clerk", {})],
    "referred": [("accept", "clerk", {}), ("refer", "mediator", {})],
    "replied": [("accept", "clerk", {}), ("refer", "mediator", {}), ("reply", "operator", {"text": "已核实"})],
    "mediating": [
        ("accept", "clerk", {}),
        ("refer", "mediator", {}),
        ("reply", "operator", {"text": "已核实"}),
        ("mediate", "mediator", {}),
    ],
    "settled": [
        ("accept", "clerk", {}),
        ("refer", "mediator", {}),
        ("reply", "operator", {"text": "已核实"}),
        ("settle", "mediator", {"refund_amount": "30", "perform_by": "2036-12-31"}),
    ],
    "closed": [
        ("accept", "clerk", {}),
        ("refer", "mediator", {}),
        ("reply", "operator", {"text": "已核实"}),
        ("acknowledge", "mediator", {}),
    ],
    "rejected": [("reject", "clerk", {"ground": "art11_1"})],
    "withdrawn": [("withdraw", "clerk", {"reason": "已自行解决"})],
}


def operator(code: str = "cmcc_jl") -> Operator:
    """A reference operator by code."""
    return db.session.scalar(sa.select(Operator).where(Operator.code == code))


def make_appeal(
    *, state: str = "received", at: dt.datetime | None = None, operator_code: str = "cmcc_jl", **overrides: Any
) -> Appeal:
    """A submitted appeal (committed), moved through the engine to `state`; fields may be overridden."""
    at = at or utcnow()
    values: dict[str, Any] = {
        "complainant_name": "张三",
        "phone": "13800138000",
        "id_number": "220102199001011234",
        "address": "吉林省长春市朝阳区人民大街100号",
        "email": "zhangsan@example.com",
        "service_type": "mobile",
        "service_number": "13800138000",
        "category": "charging",
        "request": "退还多收的费用",
        "facts": "本月话费账单多扣了流量费",
        "received_at": at,
    }
    values.update(overrides)
    appeal = Appeal(case_no=next_case_no("JL", at), operator=operator(operator_code), **values)
    db.session.add(appeal)
    engine.perform(appeal, "submit", role="consumer", at=at)
    for action, role, data in PATHS[state]:
        engine.perform(appeal, action, role=role, data=data, at=at)
    db.session.commit()
    return appeal


def open_as(client, method: str, url: str, **kwargs):
    """A request from one of several signed-in clients.

    The test app context outlives requests, so Flask-Login's cached user in `g` would leak from one
    client's request into the next; each request must load its own user from its own session cookie.
    """
    from flask import g

    g.pop("_login_user", None)
    g.pop("user", None)
    return client.open(url, method=method, **kwargs)


def give_instructions(appeal: Appeal, kinds: tuple[str, ...] = ("hold_collection", "keep_records")) -> Appeal:
    """Instructions on the case's active referral, as if the mediator had ticked them (committed)."""
    referral = next(r for r in reversed(appeal.referrals) if r.active)
    for kind in kinds:
        db.session.add(ReferralInstruction(referral=referral, kind=kind))
    db.session.commit()
    return appeal


def case_for(t, state: str) -> Appeal:
    """A case in `state` on which the lifecycle row `t` can be taken (instructions to confirm, when it needs them)."""
    appeal = make_appeal(state=state)
    return give_instructions(appeal) if t.records == "instruction_confirmed" else appeal


def publish_small_half_year(at: dt.datetime) -> None:
    """Three cases of 2022H2 (settled, closed, rejected) and a consultation, rolled up and published."""
    from cases import bulletin
    from cases.models import Contact
    from workflows import jobs

    make_appeal(state="settled", at=at)
    make_appeal(state="closed", at=at, operator_code="mvno_jd")
    make_appeal(state="rejected", at=at)
    db.session.add(Contact(channel="phone_consultation", at=at))
    db.session.commit()
    jobs.rollup_period("2022H2")
    bulletin.publish(bulletin.latest_revision("2022H2"), None)
    db.session.commit()


def make_consultation(**overrides: Any) -> Contact:
    """A committed phone consultation of 李四 about extra data charges (fields overridable)."""
    values: dict[str, Any] = {
        "channel": "phone_consultation",
        "recorded_by": None,
        "topic": "流量费争议",
        "operator_id": 1,
        "person_name": "李四",
        "phone": "13912345678",
        "question": "套餐外流量被多收费",
        "complained_to_operator": True,
    }
    values.update(overrides)
    contact = contacts.record_contact(**values)
    db.session.commit()
    return contact


def staff_appeal_form(**overrides: str) -> dict[str, str]:
    """The staff's appeal form for 李四's consultation, filled in (fields overridable)."""
    return {
        "complainant_name": "李四",
        "phone": "13912345678",
        "address": "吉林省长春市南关区人民大街1号",
        "postcode": "130000",
        "operator": "cmcc_jl",
        "service_type": "mobile",
        "service_number": "13912345678",
        "category": "charging",
        "event_date": "2026-11-01",
        "operator_complaint_date": "2026-11-05",
        "request": "退还多收的流量费",
        "facts": "流量费争议\n套餐外流量被多收费",
        "received_at": "2026-11-20T09:00",
        **overrides,
    }
