"""The supervisors' audit log: who revealed which personal data, and who acted on which case."""

from __future__ import annotations

import datetime as dt

from app.extensions import db
from tests.conftest import AuthActions, make_user
from tests.factories import make_appeal, open_as
from workflows.calendar import local_date


def _table(resp) -> str:
    """The log's rows (the filters above them name every person)."""
    return resp.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_a_supervisor_sees_who_revealed_what_and_filters_by_person_case_and_day(client, auth, app):
    seen = make_appeal(state="received", phone="13912345678")
    other = make_appeal(state="received")
    mediator = make_user("mediator", "med-audit")
    med = app.test_client()
    AuthActions(med).login("med-audit")
    assert open_as(med, "POST", f"/staff/cases/{seen.case_no}/reveal", data={"field": "phone"}).status_code == 200

    auth.as_role("supervisor")
    page = open_as(client, "GET", "/staff/audit").get_data(as_text=True)
    assert f"{mediator.full_name}（med-audit）" in page and seen.case_no in page and "联系电话" in page
    assert "13912345678" not in page  # the log says what was seen, never the value

    by_case = _table(open_as(client, "GET", f"/staff/audit?case_no={other.case_no.lower()}"))
    assert "暂无数据" in by_case and "med-audit" not in by_case
    by_person = open_as(client, "GET", f"/staff/audit?user={mediator.id}").get_data(as_text=True)
    assert seen.case_no in by_person
    today = local_date(dt.datetime.utcnow())
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    earlier = open_as(client, "GET", f"/staff/audit?date_to={yesterday}").get_data(as_text=True)
    assert seen.case_no not in earlier
    today_only = open_as(client, "GET", f"/staff/audit?date_from={today.isoformat()}&date_to={today.isoformat()}")
    assert seen.case_no in today_only.get_data(as_text=True)


def test_the_action_log_lists_lifecycle_actions_with_who_and_the_state_change(client, auth):
    appeal = make_appeal(state="received")
    clerk = make_user("clerk", "clerk-audit")
    other = client.application.test_client()
    AuthActions(other).login("clerk-audit")
    resp = open_as(
        other, "POST", f"/staff/cases/{appeal.case_no}/actions/accept", data={"accept-version": appeal.version}
    )
    assert resp.status_code == 302
    auth.as_role("supervisor")
    page = _table(open_as(client, "GET", f"/staff/audit?kind=actions&user={clerk.id}"))
    assert appeal.case_no in page and "clerk-audit" in page and "待受理 → 已受理" in page
    everyone = _table(open_as(client, "GET", "/staff/audit?kind=actions"))
    assert "申诉人" in everyone  # the consumer's submission, with no staff account behind it


def test_bad_filters_are_explained_and_never_a_server_error(client, auth):
    auth.as_role("admin")
    for query in ("date_from=2026-02-30", "user=abc", "kind=nope", "case_no=" + "X" * 50, "page=-1", "page=99999999"):
        resp = open_as(client, "GET", f"/staff/audit?{query}")
        assert resp.status_code == 200, query
    html = open_as(client, "GET", "/staff/audit?date_from=2026-02-30").get_data(as_text=True)
    assert "日期格式应为 YYYY-MM-DD。" in html and 'aria-invalid="true"' in html
    db.session.rollback()
