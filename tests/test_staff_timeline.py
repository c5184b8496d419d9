"""The case timeline's details are labelled, translated text: a follow-up call reads "回访对象：申诉人；是否接通：是；
满意度：3" (and in English), a rejection names its ground, an assignment names the people; no internal key or
record id is ever shown."""

from __future__ import annotations

import re

from flask import g

from app.extensions import db
from cases import assignment, followups
from tests.conftest import make_user
from tests.factories import make_appeal
from workflows import engine

INTERNAL_KEYS = ("callee", "reached", "satisfaction", "contact_id", "settlement_id", "terms_carried_out", "assignee")


def details(html: str) -> list[str]:
    """Every detail line of the timeline."""
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r'<ul class="details">(.*?)</ul>', html, re.S)]


def test_a_follow_up_call_and_an_assignment_read_as_labelled_text(client, auth):
    supervisor = auth.as_role("supervisor")
    mediator = make_user("mediator", "med-t")
    appeal = make_appeal(state="settled")
    assignment.assign(appeal, mediator, supervisor)
    followups.record_call(
        appeal, recorded_by=supervisor, callee="consumer", reached=True, satisfaction=3, terms_carried_out=True
    )
    engine.perform(appeal, "close", role="supervisor", actor=supervisor, data={"note": "已回访确认"})
    db.session.commit()
    html = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    lines = details(html)
    assert (
        "<li>回访对象：申诉人</li><li>是否接通：是</li><li>满意度：3（满分5）</li><li>是否已履行：是</li>"
        in "".join(lines).replace(" ", "")
    )
    assert any("承办人：mediator user" in line for line in lines)
    assert any("退费/补偿金额（元）：30.00" in line for line in lines)
    for key in INTERNAL_KEYS:
        assert f"{key}：" not in html and f"{key}:" not in "".join(lines)
    g.pop("_flask_babel", None)
    english = client.get(f"/staff/cases/{appeal.case_no}?lang=en").get_data(as_text=True)
    g.pop("_flask_babel", None)
    flat = "".join(details(english))
    assert "Called: Appellant" in flat and "Reached?: Yes" in flat and "Satisfaction: 3 (out of 5)" in flat
    assert "Refund or credit (yuan): 30.00" in flat


def test_a_rejection_names_its_ground_and_a_calendar_note_its_clock(client, auth):
    auth.as_role("clerk")
    appeal = make_appeal(state="rejected")
    engine.add_note(appeal, "节假日安排变更", None, deadline="decision", due_before="2026-01-05T15:59:59")
    db.session.commit()
    flat = "".join(details(client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)))
    assert "不予受理理由：超过申诉时限" in flat
    assert "所涉期限：受理决定" in flat and "原到期时间：2026-01-05 23:59" in flat
