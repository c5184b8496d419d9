"""Holidays entered by an admin (节假日安排): deadlines count them in a year the chinese-calendar package does not
cover yet, the page validates what is typed, and other processes see the entries within a minute."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases.models import CalendarDay, OutboxJob
from tests.factories import make_appeal
from workflows import calendar

# 2027 is not in chinese-calendar 1.11: Friday 1 January 2027 (元旦) would count as a working day.
UNCOVERED = 2027


def _enter(day: dt.date, working: bool, name: str) -> None:
    db.session.add(CalendarDay(day=day, working=working, name=name))
    db.session.commit()
    calendar.forget_entered_days()


def test_the_installed_package_does_not_cover_the_year_used_here():
    assert not calendar.package_covers(UNCOVERED) and calendar.package_covers(2026)


def test_an_entered_holiday_and_make_up_day_change_the_working_days(app):
    start = dt.datetime(2026, 12, 30, 2, 0)  # Wednesday 10:00 in Shanghai
    before = calendar.local_date(calendar.due_after(start, 5, True))
    assert before == dt.date(2027, 1, 6)  # Thu 31, Fri 1, Mon 4, Tue 5, Wed 6: 1 January counted
    _enter(dt.date(2027, 1, 1), False, "元旦")
    assert calendar.local_date(calendar.due_after(start, 5, True)) == dt.date(2027, 1, 7)
    _enter(dt.date(2027, 1, 2), True, "元旦调休上班")  # a Saturday worked
    assert calendar.local_date(calendar.due_after(start, 5, True)) == dt.date(2027, 1, 6)
    # the entered day wins over the package too, in a covered year (a correction)
    assert calendar.is_working_day(dt.date(2026, 12, 31))
    _enter(dt.date(2026, 12, 31), False, "更正")
    assert not calendar.is_working_day(dt.date(2026, 12, 31))


def test_outside_an_app_the_package_alone_decides():
    assert calendar.entered_days() == {}
    assert calendar.is_working_day(dt.date(2027, 1, 1))  # Friday, no entries here: Monday-Friday


def test_another_process_sees_an_entry_within_the_ttl(app, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(calendar.time, "monotonic", lambda: clock[0])
    assert calendar.is_working_day(dt.date(2027, 1, 1))
    db.session.add(CalendarDay(day=dt.date(2027, 1, 1), working=False, name="元旦"))  # as another process would
    db.session.commit()
    clock[0] += calendar.OVERRIDES_TTL - 1
    assert calendar.is_working_day(dt.date(2027, 1, 1))  # this process's copy is still fresh
    clock[0] += 2
    assert not calendar.is_working_day(dt.date(2027, 1, 1))


def test_an_admin_enters_a_holiday_run_and_new_deadlines_count_it(client, auth):
    auth.as_role("admin")
    page = client.get("/staff/admin/calendar?year=2027").get_data(as_text=True)
    assert 'id="year-2027"' in page and "未收录" in page and "请录入" in page
    resp = client.post(
        "/staff/admin/calendar",
        data={"start": "2027-02-06", "end": "2027-02-12", "kind": "holiday", "name": "春节"},
    )
    assert resp.status_code == 302 and "year=2027" in resp.headers["Location"]
    days = db.session.scalars(sa.select(CalendarDay).order_by(CalendarDay.day)).all()
    assert [d.day for d in days] == [dt.date(2027, 2, 6) + dt.timedelta(days=n) for n in range(7)]
    assert {(d.working, d.name) for d in days} == {(False, "春节")} and all(d.entered_by_id for d in days)
    listed = client.get("/staff/admin/calendar?year=2027").get_data(as_text=True)
    assert 'id="day-2027-02-06"' in listed and "7 天" in listed and "已录入 7 天：春节" in listed
    # a case received on Friday 5 Feb 2027: five working days skip the whole festival
    appeal = make_appeal(at=dt.datetime(2027, 2, 5, 2, 0))
    assert calendar.local_date(appeal.deadline("decision").due_at) == dt.date(2027, 2, 19)
    # entering a day again replaces it; removing it hands it back to Monday-Friday
    client.post("/staff/admin/calendar", data={"start": "2027-02-06", "kind": "working", "name": "春节调休上班"})
    assert db.session.get(CalendarDay, dt.date(2027, 2, 6)).working is True
    assert client.post("/staff/admin/calendar/2027-02-12/delete").status_code == 302
    assert db.session.get(CalendarDay, dt.date(2027, 2, 12)) is None
    assert calendar.is_working_day(dt.date(2027, 2, 12))
    assert client.post("/staff/admin/calendar/2027-02-12/delete").status_code == 404
    assert client.post("/staff/admin/calendar/not-a-day/delete").status_code == 404


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"start": "2027-02-12", "end": "2027-02-06", "kind": "holiday", "name": "春节"},
            "end",
            "结束日期不能早于开始日期",
        ),
        ({"start": "2027-01-01", "end": "2027-03-01", "kind": "holiday", "name": "春节"}, "end", "一次最多录入 31 天"),
        ({"start": "", "kind": "holiday", "name": "春节"}, "start", "请填写日期"),
        ({"start": "2027-13-40", "kind": "holiday", "name": "春节"}, "start", ""),
        ({"start": "2027-01-01", "kind": "holiday", "name": ""}, "name", "请填写名称"),
        ({"start": "2027-01-01", "kind": "weekend", "name": "元旦"}, "kind", ""),
        ({"start": "2027-01-01", "kind": "holiday", "name": "元" * 41}, "name", ""),
    ],
)
def test_bad_entries_are_refused_by_field_and_keep_what_was_typed(client, auth, data, field, message):
    auth.as_role("admin")
    resp = client.post("/staff/admin/calendar", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    if data.get("name"):
        assert data["name"] in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 0


def test_the_page_speaks_english(client, auth):
    auth.as_role("admin")
    html = client.get("/staff/admin/calendar?lang=en", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Holiday schedule" in html and "Calendar package" in html


@pytest.mark.parametrize("role,link", [("admin", True), ("supervisor", False)])
def test_the_home_page_warns_of_a_year_nobody_has_entered(client, auth, monkeypatch, role, link):
    monkeypatch.setattr("app.staff.routes.utcnow", lambda: dt.datetime(2026, 11, 29, 2, 0))
    auth.as_role(role)
    home = client.get("/staff/").get_data(as_text=True)
    assert 'id="calendar-2027"' in home and 'id="calendar-2026"' not in home
    assert ("/staff/admin/calendar?year=2027" in home) == link
    _enter(dt.date(2027, 1, 1), False, "元旦")
    assert 'id="calendar-2027"' not in client.get("/staff/").get_data(as_text=True)


def test_a_clerk_is_not_told_and_before_october_nobody_is(client, auth, monkeypatch):
    monkeypatch.setattr("app.staff.routes.utcnow", lambda: dt.datetime(2026, 11, 29, 2, 0))
    auth.as_role("clerk")
    assert "calendar-2027" not in client.get("/staff/").get_data(as_text=True)
    assert calendar.years_to_enter(dt.date(2026, 9, 30)) == []
    assert calendar.years_to_enter(dt.date(2026, 10, 1)) == [2027]


def _case(steps, service_number: str):
    """A case received at steps[0]'s time and taken through the other (action, role, data, at) steps."""
    from workflows import engine

    appeal = make_appeal(at=steps[0], service_number=service_number)
    for action, role, data, at in steps[1:]:
        engine.perform(appeal, action, role=role, data=data, at=at)
        db.session.commit()
    return appeal


def _dues(appeal) -> dict[str, dt.datetime]:
    db.session.refresh(appeal)
    return {d.kind: d.due_at for d in appeal.deadlines if d.stopped_at is None}


T0 = dt.datetime(2026, 12, 28, 2, 0)  # Monday 10:00 in Shanghai
PATHS_ACROSS_NEW_YEAR = {
    "running": [T0],
    "paused then resumed": [
        T0,
        ("request_materials", "clerk", {"missing": "缴费凭证"}, T0 + dt.timedelta(days=1)),
        ("receive_materials", "consumer", {}, T0 + dt.timedelta(days=3)),  # paused 29-31 Dec, before 1 Jan
    ],
    "paused now": [T0, ("request_materials", "clerk", {"missing": "缴费凭证"}, T0 + dt.timedelta(days=2))],
    "referred, working-day reply clock": [
        T0,
        ("accept", "clerk", {}, T0),
        ("refer", "mediator", {}, T0 + dt.timedelta(days=1)),
    ],
    "marked urgent on 31 December": [T0, ("mark_urgent", "clerk", {"reason": "medical"}, T0 + dt.timedelta(days=3))],
    "referred with an instruction on 31 December": [
        T0,
        ("accept", "clerk", {}, T0),
        ("refer", "mediator", {"keep_records": True}, T0 + dt.timedelta(days=3)),
    ],
}


@pytest.mark.parametrize("path", sorted(PATHS_ACROSS_NEW_YEAR))
def test_running_clocks_are_worked_out_again_as_if_the_case_came_after_the_entry(client, auth, app, path):
    """Oracle: a twin case taken through the same steps after the holiday was entered."""
    app.config["OPERATOR_REPLY_WORKING_DAYS"] = True
    try:
        auth.as_role("admin")
        steps = PATHS_ACROSS_NEW_YEAR[path]
        before = _case(steps, "13500000001")
        dues_before = _dues(before)
        resp = client.post("/staff/admin/calendar", data={"start": "2027-01-01", "kind": "holiday", "name": "元旦"})
        message = client.get(resp.headers["Location"]).get_data(as_text=True)
        twin = _case(steps, "13500000002")
        assert _dues(before) == _dues(twin)
        moved = {k for k in dues_before if dues_before[k] != _dues(before)[k]}
        assert moved, "a working-day clock across 1 January moves"
        notes = [e for e in before.events if e.action == "note"]
        assert len(notes) == len(moved) and all(n.internal and "节假日安排变更" in n.details["text"] for n in notes)
        assert "在计时的期限正在按新的安排重新计算" in message  # by a job (inline here: no Redis)
        job = db.session.scalars(sa.select(OutboxJob).where(OutboxJob.name == "recompute_clocks")).one()
        assert job.status == "done" and job.args["days"] == ["2027-01-01"]
        db.session.refresh(before)
        assert before.next_due_at == min(_dues(before).values())
        if "operator_reply" in moved:
            assert before.referrals[-1].due_at == _dues(before)["operator_reply"]
        # removing the day again puts the clocks back where they were, with a note each
        client.post("/staff/admin/calendar/2027-01-01/delete")
        assert _dues(before) == dues_before
        assert len([e for e in before.events if e.action == "note"]) == 2 * len(moved)
    finally:
        app.config["OPERATOR_REPLY_WORKING_DAYS"] = False


def test_clocks_the_change_cannot_move_are_left_alone(client, auth):
    auth.as_role("admin")
    later = make_appeal(at=dt.datetime(2027, 1, 10, 2, 0), service_number="13500000003")  # starts after the day
    closed = make_appeal(state="closed", at=T0, service_number="13500000004")  # clocks stopped
    dues = _dues(later), {d.id: d.due_at for d in closed.deadlines}
    client.post("/staff/admin/calendar", data={"start": "2027-01-01", "kind": "holiday", "name": "元旦"})
    db.session.refresh(closed)
    assert (_dues(later), {d.id: d.due_at for d in closed.deadlines}) == dues
    assert not any(e.action == "note" for e in later.events + closed.events)
