"""The staff statistics pages, revisions, publishing, baselines, subscriber counts, jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from app import bulletin_export as export
from app.auth.forms import CleanForm
from app.extensions import db
from app.i18n import is_english
from app.staff import bp, publishing
from cases import bulletin, statistics, trends
from cases.bulletin import Period, PeriodError
from cases.models import Baseline, SubscriberCount, utcnow
from cases.reference import active_operators
from workflows import outbox
from workflows.calendar import local_date, local_midnight_utc

PAGE_SIZE = 100
MAX_RANGE_DAYS = 366 * 5
MIN_DATE, MAX_DATE = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
BASELINE_FIGURES = (
    "appeals_accepted",
    "appeals_accepted_basic",
    "appeals_accepted_resale_other",
    "settled",
    "phone_consultations",
    "callbacks",
    "visits",
    "materials_received",
)


def _valid_period(form, field) -> None:
    """Form validator: a period code, normalised."""
    try:
        field.data = Period.parse(field.data or "").code
    except PeriodError:
        raise ValidationError(_("统计期格式应为 2022H2（半年）或 2023Q1（季度）。")) from None


class RangeForm(CleanForm):
    """Any date range (Asia/Shanghai dates, both included)."""

    class Meta:
        csrf = False

    start = DateField(_l("起始日期"), validators=[InputRequired(_l("请填写起始日期。"))], name="from")
    end = DateField(_l("截止日期"), validators=[InputRequired(_l("请填写截止日期。"))], name="to")

    def validate_start(self, field) -> None:
        """The first date lies within 2000-2100."""
        if field.data and not MIN_DATE <= field.data <= MAX_DATE:
            raise ValidationError(_("日期应在2000年至2100年之间。"))

    def validate_end(self, field) -> None:
        """The last date lies within 2000-2100, not before the first, at most five years on."""
        if field.data and not MIN_DATE <= field.data <= MAX_DATE:
            raise ValidationError(_("日期应在2000年至2100年之间。"))
        if self.start.data and field.data:
            if field.data < self.start.data:
                raise ValidationError(_("截止日期不能早于起始日期。"))
            if (field.data - self.start.data).days > MAX_RANGE_DAYS:
                raise ValidationError(_("日期范围最长五年。"))


class RollupForm(CleanForm):
    """Which period to roll up now."""

    period = StringField(_l("统计期"), validators=[InputRequired(_l("请填写统计期。")), _valid_period])


class BaselineForm(CleanForm):
    """The published figures of a period from before the system."""

    period = StringField(_l("统计期"), validators=[InputRequired(_l("请填写统计期。")), _valid_period])
    appeals_accepted = IntegerField(
        _l("受理用户申诉（件）"),
        validators=[InputRequired(_l("请填写受理件数。")), NumberRange(0, 10_000_000, _l("请输入0以上的整数。"))],
    )
    appeals_accepted_basic = IntegerField(_l("其中：基础电信业务企业（件）"), validators=[Optional(), NumberRange(0)])
    appeals_accepted_resale_other = IntegerField(
        _l("其中：移动转售等其他企业（件）"), validators=[Optional(), NumberRange(0)]
    )
    settled = IntegerField(_l("达成和解（件）"), validators=[Optional(), NumberRange(0)])
    phone_consultations = IntegerField(_l("电话咨询（件）"), validators=[Optional(), NumberRange(0)])
    callbacks = IntegerField(_l("回访呼出（件）"), validators=[Optional(), NumberRange(0)])
    visits = IntegerField(_l("现场来访（人次）"), validators=[Optional(), NumberRange(0)])
    materials_received = IntegerField(_l("用户提交材料（件）"), validators=[Optional(), NumberRange(0)])


class SubscriberForm(CleanForm):
    """An operator's subscriber count for a period."""

    operator = SelectField(_l("企业"), validators=[InputRequired(_l("请选择企业。"))])
    period = StringField(_l("统计期"), validators=[InputRequired(_l("请填写统计期。")), _valid_period])
    count = IntegerField(
        _l("用户数（户）"),
        validators=[InputRequired(_l("请填写用户数。")), NumberRange(0, 10**10, _l("请输入0以上的整数。"))],
    )


def _label(p: Period) -> str:
    """The period's name in the page's language."""
    return p.label_en() if is_english() else p.label_zh()


def _range() -> tuple[RangeForm, dt.datetime | None, dt.datetime | None]:
    """The range form from the query string (default: this half-year so far) and its UTC bounds."""
    asked = request.args.get("from") or request.args.get("to")
    form = RangeForm(formdata=request.args if asked else None)
    if not asked:
        period = request.args.get("period")
        try:
            p = Period.parse(period) if period else Period.containing(utcnow())
        except PeriodError:
            p = Period.containing(utcnow())
        form.start.data = p.first_day
        form.end.data = min(p.end_day - dt.timedelta(days=1), local_date(utcnow()))
        return form, local_midnight_utc(form.start.data), local_midnight_utc(form.end.data + dt.timedelta(days=1))
    if not form.validate():
        return form, None, None
    return form, local_midnight_utc(form.start.data), local_midnight_utc(form.end.data + dt.timedelta(days=1))


def per_million_trend(last: int = 8) -> dict[str, Any]:
    """Appeals per million users of each operator over the last periods with subscriber counts: each period's
    acceptances from its latest rollup (counted now for a period not rolled up yet)."""
    periods = trends.periods_with_subscribers()[-last:]
    accepted = {}
    for code in periods:
        rev = bulletin.latest_revision(code)
        if rev is not None:
            accepted[code] = {o["operator"]: o["accepted"] for o in rev.figures.get("by_operator", [])}
        else:
            accepted[code] = trends.accepted_by_operator(Period.parse(code))
    return trends.per_million_series(periods, accepted)


def _figures(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The range's figures with its trends."""
    figures = statistics.compute(start, end)
    figures["trends"] = trends.accepted_series(start, end)
    figures["per_million_trend"] = per_million_trend()
    return figures


@bp.route("/statistics", endpoint="statistics")
def statistics_page():
    """Figures and breakdowns for any date range: the charts (trends first), then the tables."""
    form, start, end = _range()
    figures = _figures(start, end) if start is not None else None
    return render_template(
        "staff/statistics/index.html",
        form=form,
        figures=figures,
        tables=export.tables(figures) if figures else [],
        charts=export.chart_rows(figures) if figures else {},
        trend_charts=export.trend_charts(figures) if figures else [],
        range_args={"from": form.start.data.isoformat(), "to": form.end.data.isoformat()} if figures else {},
        labels=export.FIGURE_LABELS,
        drill=statistics.DRILLDOWN,
    )


@bp.route("/statistics/export.<fmt>")
def statistics_export(fmt: str):
    """The range's figures as CSV (?table=), XLSX or JSON."""
    form, start, end = _range()
    if start is None or fmt not in ("csv", "xlsx", "json"):
        abort(404)
    figures = _figures(start, end)
    tables = export.tables(figures)
    name = f"statistics-{form.start.data:%Y%m%d}-{form.end.data:%Y%m%d}"
    if fmt == "csv":
        table = next((t for t in tables if t.key == request.args.get("table", "summary")), None)
        if table is None:
            abort(404)
        return export.csv_response(table, f"{name}-{table.key}")
    if fmt == "xlsx":
        return export.xlsx_response(tables, name)
    return export.json_response(
        {"from": form.start.data.isoformat(), "to": form.end.data.isoformat(), "figures": figures}, name
    )


@bp.route("/statistics/figure/<figure>")
def statistics_drilldown(figure: str):
    """The events or rows that make up one figure in a range (personal data masked)."""
    if figure not in statistics.DRILLDOWN:
        abort(404)
    form, start, end = _range()
    if start is None:
        abort(404)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows = statistics.drilldown(figure, start, end, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "staff/statistics/drilldown.html",
        figure=figure,
        label=export.FIGURE_LABELS[figure],
        rows=rows[:PAGE_SIZE],
        has_next=len(rows) > PAGE_SIZE,
        page=page,
        form=form,
        range_args={"from": form.start.data.isoformat(), "to": form.end.data.isoformat()},
    )


def weeks_table() -> tuple[dict[str, Any], export.Table]:
    """The last 12 complete weeks against the same weeks a year earlier, and its table."""
    weeks = trends.weeks_against_year_before(trends.shanghai_today(utcnow()))
    rows = []
    for day, now, before in zip(weeks["weeks"], weeks["current"], weeks["year_before"], strict=True):
        change = bulletin.change_percent(now, before)
        rows.append([day, now, before, "—" if change is None else f"{change:+.2f}%"])
    table = export.Table(
        "weeks", _("近12周收到的申诉与上年同期（件）"), [_("周（周一）"), _("本期"), _("上年同期"), _("变化")], rows
    )
    return weeks, table


def weeks_context() -> dict[str, Any]:
    """The dashboard's chart and table of the last 12 weeks against a year earlier."""
    from app.charts import line_chart

    weeks, table = weeks_table()
    series = {str(_("本期")): weeks["current"], str(_("上年同期")): weeks["year_before"]}
    chart = line_chart(export.short_labels(weeks["weeks"]), series, {})
    from cases import alerts

    return {
        "weeks_chart": {"key": table.key, "title": table.title, "chart": chart},
        "weeks_rows": table.rows,
        "open_alerts": len(alerts.open_alerts()),
    }


@bp.route("/statistics/weeks.csv")
def statistics_weeks_csv():
    """The last 12 weeks against a year earlier, as CSV."""
    _weeks, table = weeks_table()
    return export.csv_response(table, "weeks-against-year-before")


# --- bulletin revisions ----------------------------------------------------------------------------------------


def _periods() -> list[dict[str, Any]]:
    """Every period with revisions, newest first, with its latest revision and last publication."""
    rows = db.session.execute(
        sa.select(
            bulletin.BulletinRevision.period,
            sa.func.max(bulletin.BulletinRevision.number),
            sa.func.max(bulletin.BulletinRevision.published_at),
        )
        .group_by(bulletin.BulletinRevision.period)
        .order_by(bulletin.BulletinRevision.period.desc())
    ).all()
    return [{"code": c, "label": _label(Period.parse(c)), "latest": n, "published_at": p} for c, n, p in rows]


@bp.route("/bulletin")
def bulletin_revisions():
    """Every period with revisions, and the form to roll one up now."""
    form = RollupForm()
    if not form.period.data:
        form.period.data = Period.containing(utcnow()).code
    return render_template("staff/statistics/bulletin.html", periods=_periods(), form=form)


@bp.route("/bulletin/build", methods=["POST"])
def bulletin_build():
    """Queue the rollup of a period (run inline without Redis)."""
    form = RollupForm()
    if not form.validate():
        return render_template("staff/statistics/bulletin.html", periods=_periods(), form=form), 422
    outbox.record("rollup_period", {"period": form.period.data})
    db.session.commit()
    flash(_("已提交 %(period)s 的统计任务。", period=form.period.data), "success")
    return redirect(url_for("staff.bulletin_period", period=form.period.data))


@bp.route("/bulletin/<period>")
def bulletin_period(period: str):
    """A period's revisions; one revision's paragraph, figures and what changed since the one before."""
    try:
        p = Period.parse(period)
    except PeriodError:
        abort(404)
    revisions = bulletin.revisions(p.code)
    number = request.args.get("r", type=int)
    current = next((r for r in revisions if r.number == number), revisions[0] if revisions else None)
    previous = next((r for r in revisions if current and r.number == current.number - 1), None)
    changes = bulletin.diff(current.figures, previous.figures) if current and previous else []
    return render_template(
        "staff/statistics/period.html",
        period=p,
        label=_label(p),
        revisions=revisions,
        current=current,
        previous=previous,
        changes=changes,
        changed_tables=bulletin.changed_tables(current.figures, previous.figures) if current and previous else [],
        tables=export.tables(current.figures) if current else [],
        labels=export.FIGURE_LABELS,
        drill=statistics.DRILLDOWN,
    )


@bp.route("/bulletin/<period>/<int:number>/publish", methods=["POST"])
def bulletin_publish(period: str, number: int):
    """Publish a revision; a published revision never changes."""
    try:
        rev = bulletin.get_revision(Period.parse(period).code, number)
    except PeriodError:
        rev = None
    if rev is None:
        abort(404)
    if (asked := publishing.refusal(Period.parse(period), rev, request.form)) is not None:
        return asked  # the confirmation page first (and a second question for a period not ended)
    if bulletin.publish(rev, g.user.id, provisional=publishing.provisional_asked(request.form)):
        db.session.commit()
        flash(_("已发布第%(n)s版。", n=number), "success")
    else:
        flash(_("该版本已发布，不能更改。"), "error")
    return redirect(url_for("staff.bulletin_period", period=period, r=number))


# --- baselines and subscriber counts ------------------------------------------------------------------------------


@bp.route("/statistics/baselines", methods=["GET", "POST"])
def baselines():
    """Published figures of periods before the system, so 同比 works from the first period."""
    form = BaselineForm()
    if form.validate_on_submit():
        figures = {k: getattr(form, k).data for k in BASELINE_FIGURES if getattr(form, k).data is not None}
        row = db.session.scalar(sa.select(Baseline).where(Baseline.period == form.period.data))
        if row is None:
            row = Baseline(period=form.period.data)
            db.session.add(row)
        row.figures = figures
        row.entered_by_id = g.user.id
        row.entered_at = utcnow()
        db.session.commit()
        flash(_("已保存 %(period)s 的基准数据。", period=form.period.data), "success")
        return redirect(url_for("staff.baselines"))
    rows = db.session.scalars(sa.select(Baseline).order_by(Baseline.period.desc())).all()
    status = 422 if form.errors else 200
    return render_template("staff/statistics/baselines.html", form=form, rows=rows, labels=export.FIGURE_LABELS), status


@bp.route("/statistics/subscribers", methods=["GET", "POST"])
def subscribers():
    """Subscriber counts per operator and period, for the per-million-users rate."""
    form = SubscriberForm()
    operators = active_operators()
    form.operator.choices = [("", _("请选择"))] + [(str(o.id), o.display_name) for o in operators]
    if form.validate_on_submit():
        op_id = int(form.operator.data)
        row = db.session.scalar(
            sa.select(SubscriberCount).where(
                SubscriberCount.operator_id == op_id, SubscriberCount.period == form.period.data
            )
        )
        if row is None:
            row = SubscriberCount(operator_id=op_id, period=form.period.data, count=form.count.data)
            db.session.add(row)
        row.count = form.count.data
        db.session.commit()
        flash(_("已保存用户数。"), "success")
        return redirect(url_for("staff.subscribers"))
    rows = db.session.scalars(
        sa.select(SubscriberCount).order_by(SubscriberCount.period.desc(), SubscriberCount.operator_id)
    ).all()
    status = 422 if form.errors else 200
    return render_template("staff/statistics/subscribers.html", form=form, rows=rows), status
