"""The staff console: queues, search, the case page, notes, masking and its audit, duplicates, assignment."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases.models import Appeal, CaseEvent, PiiView, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal


def test_the_home_page_shows_each_queue_with_its_count(client, auth):
    clerk = auth.as_role("clerk")
    make_appeal()
    make_appeal(state="awaiting_materials")
    mine = make_appeal(state="accepted")
    mine.assignee_id = clerk.id
    db.session.commit()
    make_appeal(state="closed")
    html = client.get("/staff/").get_data(as_text=True)
    assert 'id="count-new">2<' in html
    assert 'id="count-mine">1<' in html
    assert 'id="count-closed">1<' in html
    for label in ("工作台", "待受理", "我的案件", "等待企业答复", "已超期", "已办结", "搜索"):
        assert label in html
    assert "主管看板" not in html  # supervisors only


@pytest.mark.parametrize("role", ["clerk", "mediator", "supervisor", "admin"])
@pytest.mark.parametrize("state", ["received", "awaiting_materials", "replied", "settled", "closed", "rejected"])
def test_the_case_page_renders_for_every_staff_role_and_state(client, auth, role, state):
    auth.as_role(role)
    a = make_appeal(state=state)
    resp = client.get(f"/staff/cases/{a.case_no}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    html = resp.get_data(as_text=True)
    assert a.case_no in html and "138****8000" in html
