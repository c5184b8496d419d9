"""The official calendar for admins (节假日安排): enter a year's holidays and make-up working days as the State
Council publishes them, before a chinese-calendar release covers the year; every deadline counts them, the
running ones included (they are worked out again, and each change is noted on its case)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.staff import bp
from app.staff.forms import CalendarDaysForm, RevokeForm
from cases.models import CalendarDay, utcnow
from workflows import calendar, outbox

# What the flash says of the running clocks after a change (the job moves them; see _apply).
MOVING = _l("在计时的期限正在按新的安排重新计算，每个改变的期限都会记入其案件的处理记录。")


def _year() -> int:
    """The year shown: ?year=, else the current one (Asia/Shanghai)."""
    today = calendar.local_date(utcnow())
    raw = request.args.get("year", "")
    year = int(raw) if raw.isdigit() and len(raw) == 4 else today.year
    return year if 2000 <= year <= 2100 else today.year


def _years(year: int) -> list[dict]:
    """The shown year and its neighbours: whether the package covers each and how many days were entered."""
    entered_year = sa.extract("year", CalendarDay.day).cast(sa.Integer)
    counts = dict(db.session.execute(sa.select(entered_year, sa.func.count()).group_by(entered_year)).tuples().all())
    return [
        {"year": y, "package": calendar.package_covers(y), "entered": counts.get(y, 0)}
        for y in (year - 1, year, year + 1)
    ]


def _render(form: CalendarDaysForm | None = None, status: int = 200):
    year = _year()
    days = db.session.scalars(
        sa.select(CalendarDay)
        .where(CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31))
        .order_by(CalendarDay.day)
    ).all()
    return render_template(
        "staff/admin/calendar.html",
        year=year,
        years=_years(year),
        days=days,
        form=form or CalendarDaysForm(formdata=None),
        delete_form=RevokeForm(formdata=None),
    ), status


@bp.route("/admin/calendar")
def admin_calendar():
    """The entered days of a year, which years the package covers, and the form to enter more."""
    return _render()


@bp.route("/admin/calendar", methods=["POST"])
def admin_calendar_add():
    """Enter one day or a run of days as holidays or make-up working days (an entered day is replaced)."""
    form = CalendarDaysForm()
    if not form.validate():
        return _render(form, 422)
    start, end = form.start.data, form.end.data or form.start.data
    working, name = form.kind.data == "working", form.name.data.strip()
    days = {start + dt.timedelta(days=n) for n in range((end - start).days + 1)}
    for day in sorted(days):
        entry = db.session.get(CalendarDay, day) or CalendarDay(day=day)
        entry.working, entry.name, entry.entered_by_id, entry.entered_at = working, name, g.user.id, utcnow()
        db.session.add(entry)
    _apply(days)
    flash(_("已录入 %(n)s 天：%(name)s。", n=len(days), name=name) + " " + str(MOVING), "success")
    return redirect(url_for("staff.admin_calendar", year=start.year))


def _apply(days: set[dt.date]) -> None:
    """Save the change with a job that moves the running clocks it concerns (each noted on its case): at a
    million appeals a day can move thousands of clocks, seconds of work that a page should not wait for."""
    outbox.record("recompute_clocks", {"days": sorted(d.isoformat() for d in days), "actor_id": g.user.id})
    db.session.commit()
    calendar.forget_entered_days()


@bp.route("/admin/calendar/<day>/delete", methods=["POST"])
def admin_calendar_delete(day: str):
    """Remove an entered day: the package (or Monday to Friday) decides it again."""
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        abort(404)
    entry = db.session.get(CalendarDay, when)
    if entry is None:
        abort(404)
    if not RevokeForm().validate():
        abort(400)
    db.session.delete(entry)
    _apply({when})
    flash(_("已删除 %(day)s 的录入。", day=when.isoformat()) + " " + str(MOVING), "success")
    return redirect(url_for("staff.admin_calendar", year=when.year))
