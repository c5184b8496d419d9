"""Trends: accepted appeals by month or week per operator, category and service type, against hand counts; the
per-million rate over periods; the dashboard's 12 weeks against a year earlier; the charts on the pages."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.extensions import db
from cases import bulletin, statistics, trends
from cases.bulletin import Period
from cases.models import SubscriberCount, TrendBucket, utcnow
from tests.factories import make_appeal, operator
from workflows import engine, jobs

# Asia/Shanghai month and week edges as naive UTC: 2023-01-31 23:30 local is 15:30 UTC.
LAST_OF_JANUARY = dt.datetime(2023, 1, 31, 15, 30)
FIRST_OF_FEBRUARY = dt.datetime(2023, 1, 31, 16, 30)


def _accepted(at: dt.datetime, **kw) -> None:
    make_appeal(state="accepted", at=at, **kw)


def _hand_data() -> None:
    _accepted(LAST_OF_JANUARY)
    _accepted(FIRST_OF_FEBRUARY, category="network")
    _accepted(FIRST_OF_FEBRUARY, operator_code="mvno_xiaomi", service_type="broadband")
    _accepted(dt.datetime(2023, 3, 15, 2, 0), service_type="broadband")
    make_appeal(state="received", at=dt.datetime(2023, 3, 15, 2, 0))  # received, not accepted: not in the trend


def test_monthly_series_match_hand_counts_by_operator_category_and_service_type(app):
    _hand_data()
    p = Period.parse("2023H1")
    s = trends.accepted_series(p.start_utc, p.end_utc)
    assert s["unit"] == "month" and s["buckets"] == [f"2023-0{m}-01" for m in range(1, 7)]
    assert s["total"] == [1, 2, 1, 0, 0, 0]
    assert s["operator"] == {"cmcc_jl": [1, 1, 1, 0, 0, 0], "mvno_xiaomi": [0, 1, 0, 0, 0, 0]}
    assert s["category"] == {"charging": [1, 1, 1, 0, 0, 0], "network": [0, 1, 0, 0, 0, 0]}
    assert s["service_type"] == {"broadband": [0, 1, 1, 0, 0, 0], "mobile": [1, 1, 0, 0, 0, 0]}
    assert sum(s["total"]) == statistics.compute(p.start_utc, p.end_utc)["appeals_accepted"]


def test_a_quarter_is_shown_by_monday_to_sunday_weeks(app):
    _hand_data()
    q = Period.parse("2023Q1")
    s = trends.accepted_series(q.start_utc, q.end_utc)
    assert s["unit"] == "week" and s["buckets"][0] == "2022-12-26" and s["buckets"][-1] == "2023-03-27"
    by_week = dict(zip(s["buckets"], s["total"], strict=True))
    # 2023-01-31 (Tuesday) and 2023-02-01 (Wednesday) are one week, starting Monday 2023-01-30
    assert by_week["2023-01-30"] == 3 and by_week["2023-03-13"] == 1 and sum(s["total"]) == 4


def test_an_acceptance_stays_in_the_trend_of_the_operator_it_was_accepted_against(app):
    appeal = make_appeal(state="referred", at=dt.datetime(2023, 2, 1, 2, 0))
    engine.perform(appeal, "refer", role="mediator", data={"operator": "mvno_jd"}, at=dt.datetime(2023, 5, 1, 2, 0))
    db.session.commit()
    p = Period.parse("2023H1")
    assert trends.accepted_series(p.start_utc, p.end_utc)["operator"] == {"cmcc_jl": [0, 1, 0, 0, 0, 0]}


def test_the_per_million_rate_over_periods_uses_each_periods_own_count(app):
    for period, count in (("2022H2", 2_000_000), ("2023H1", 4_000_000)):
        db.session.add(SubscriberCount(operator_id=operator("cmcc_jl").id, period=period, count=count))
    db.session.commit()
    rates = trends.per_million_series(["2022H2", "2023H1"], {"2022H2": {"cmcc_jl": 3}, "2023H1": {"cmcc_jl": 3}})
    assert rates == {"periods": ["2022H2", "2023H1"], "operator": {"cmcc_jl": ["1.50", "0.75"]}}
    assert trends.periods_with_subscribers() == ["2022H2", "2023H1"]


def test_twelve_weeks_against_the_same_weeks_a_year_earlier(app):
    today = dt.date(2024, 3, 20)  # a Wednesday: the last complete week is 11-17 March
    make_appeal(at=dt.datetime(2024, 3, 17, 15, 30))  # Sunday 23:30 local: last week's
    make_appeal(at=dt.datetime(2024, 3, 17, 16, 30), service_number="13900000001")  # Monday 00:30: this week's
    make_appeal(at=dt.datetime(2023, 3, 19, 2, 0), service_number="13900000002")  # 52 weeks before 17 March 2024
    make_appeal(at=dt.datetime(2023, 12, 20, 2, 0), service_number="13900000003")  # outside both windows
    weeks = trends.weeks_against_year_before(today)
    assert len(weeks["weeks"]) == 12 and weeks["weeks"][-1] == "2024-03-11" and weeks["weeks"][0] == "2023-12-25"
    assert weeks["current"][-1] == 1 and sum(weeks["current"]) == 1
    assert weeks["year_before"][-1] == 1 and sum(weeks["year_before"]) == 1


def test_the_statistics_page_shows_the_charts_first_each_with_its_table_and_csv(client, auth):
    _hand_data()
    auth.as_role("clerk")
    html = client.get("/staff/statistics?from=2023-01-01&to=2023-06-30").get_data(as_text=True)
    assert html.index('id="charts"') < html.index('id="tables"') < html.index('id="table-summary"')
    assert html.index('id="trend_operator-caption"') < html.index('id="table-summary"')
    assert 'id="table-trend_operator"' in html and "<polyline" in html
    assert " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    csv = client.get("/staff/statistics/export.csv?from=2023-01-01&to=2023-06-30&table=trend_category")
    text = csv.get_data(as_text=True)
    assert (
        csv.status_code == 200 and text.splitlines()[0] == "\ufeff类别,2023-01,2023-02,2023-03,2023-04,2023-05,2023-06"
    )
    assert "收费争议,1,1,1,0,0,0" in text and "合计,1,2,1,0,0,0" in text


def test_the_statistics_page_explains_a_settlement_rate_above_100(client, auth):
    appeal = make_appeal(state="replied", at=dt.datetime(2022, 12, 1, 2, 0))
    engine.perform(
        appeal,
        "settle",
        role="mediator",
        data={"apology": "y", "perform_by": "2023-02-28"},
        at=dt.datetime(2023, 2, 1, 2, 0),
    )
    db.session.commit()
    _accepted(dt.datetime(2023, 2, 1, 2, 0))
    other = make_appeal(state="replied", at=dt.datetime(2022, 12, 2, 2, 0), service_number="13900000005")
    engine.perform(
        other, "settle", role="mediator", data={"apology": "y", "perform_by": "2023-02-28"}, at=dt.datetime(2023, 2, 2)
    )
    db.session.commit()
    auth.as_role("clerk")
    html = client.get("/staff/statistics?from=2023-01-01&to=2023-06-30").get_data(as_text=True)
    assert "200.00" in html and 'id="rate-note"' in html and "以前各期受理" in html


def test_a_published_bulletin_page_shows_its_trends_and_the_per_million_rate(client):
    _hand_data()
    db.session.add(SubscriberCount(operator_id=operator("cmcc_jl").id, period="2023H1", count=2_000_000))
    db.session.commit()
    jobs.rollup_period("2023H1")
    rev = bulletin.latest_revision("2023H1")
    assert rev.figures["trends"]["total"] == [1, 2, 1, 0, 0, 0]
    bulletin.publish(rev, None)
    db.session.commit()
    html = client.get("/bulletin/2023H1").get_data(as_text=True)
    assert 'id="trend_service_type-caption"' in html and 'id="table-per_million"' in html
    assert html.index('id="charts"') < html.index('id="tables"')
    csv = client.get("/bulletin/2023H1/export.csv?table=per_million").get_data(as_text=True)
    assert "中国移动吉林,1.50" in csv


def test_the_dashboard_shows_twelve_weeks_against_a_year_earlier(client, auth):
    auth.as_role("supervisor")
    html = client.get("/staff/dashboard").get_data(as_text=True)
    assert "近12周收到的申诉与上年同期" in html and html.count('<tr><th scope="row">') >= 12
    csv = client.get("/staff/statistics/weeks.csv")
    assert csv.status_code == 200 and len(csv.get_data(as_text=True).splitlines()) == 13


def _series_live(start: dt.datetime, end: dt.datetime, unit: str | None = None) -> dict:
    """The series grouped live, whatever the rollup holds (what the rollup must equal)."""
    from cases.models import TrendState

    saved = [(s.unit, s.through, s.event_id) for s in db.session.scalars(sa.select(TrendState))]
    db.session.execute(sa.delete(TrendState))
    try:
        return trends.accepted_series(start, end, unit)
    finally:
        for unit_, through, event_id in saved:
            db.session.add(TrendState(unit=unit_, through=through, event_id=event_id))
        db.session.flush()


RANGES = [
    (Period.parse("2023H1").start_utc, Period.parse("2023H1").end_utc, None),  # whole months
    (Period.parse("2023Q1").start_utc, Period.parse("2023Q1").end_utc, None),  # weeks, the first one cut
    (dt.datetime(2023, 1, 20, 3, 0), dt.datetime(2023, 3, 20, 3, 0), "month"),  # cut months at both ends
    (dt.datetime(2022, 12, 1), dt.datetime(2023, 12, 31), "week"),
]


def test_the_rollup_tables_give_the_live_figures_and_are_read_for_whole_past_buckets(app):
    _hand_data()
    _accepted(dt.datetime(2023, 1, 31, 15, 59), operator_code="mvno_xiaomi", category="network")
    written = trends.refresh_buckets(now=dt.datetime(2023, 12, 1))
    db.session.commit()
    assert written["month"] > 0 and written["week"] > 0
    for start, end, unit in RANGES:
        assert trends.accepted_series(start, end, unit) == _series_live(start, end, unit), (start, end, unit)
    # whole past months are read from trend_bucket: a planted row shows (and only there)
    row = db.session.scalars(
        sa.select(TrendBucket).where(TrendBucket.unit == "month", TrendBucket.bucket == dt.date(2023, 3, 1))
    ).one()
    row.accepted += 100
    db.session.flush()
    p = Period.parse("2023H1")
    assert trends.accepted_series(p.start_utc, p.end_utc)["total"][2] == 101
    assert _series_live(p.start_utc, p.end_utc)["total"][2] == 1


def test_an_acceptance_recorded_after_the_rollup_is_counted_live_until_the_next_one(app):
    _hand_data()
    trends.refresh_buckets(now=dt.datetime(2023, 12, 1))
    db.session.commit()
    p = Period.parse("2023H1")
    before = trends.accepted_series(p.start_utc, p.end_utc)["total"]
    _accepted(dt.datetime(2023, 2, 10, 2, 0), service_number="13900000009")  # imported history, say
    after = trends.accepted_series(p.start_utc, p.end_utc)["total"]
    assert after[1] == before[1] + 1 and after == _series_live(p.start_utc, p.end_utc)["total"]
    trends.refresh_buckets(now=dt.datetime(2023, 12, 1))
    db.session.commit()
    stored = db.session.scalar(
        sa.select(sa.func.sum(TrendBucket.accepted)).where(
            TrendBucket.unit == "month", TrendBucket.bucket == dt.date(2023, 2, 1)
        )
    )
    assert stored == after[1] and trends.accepted_series(p.start_utc, p.end_utc)["total"] == after


def test_the_current_bucket_is_never_stored_and_the_nightly_rollup_fills_the_tables(app):
    from cases.models import TrendState

    jobs.nightly_rollup()
    states = {s.unit: s for s in db.session.scalars(sa.select(TrendState))}
    today = trends.local_day(utcnow())
    assert states["month"].through == today.replace(day=1) and states["week"].through == trends.monday(today)
    _accepted(utcnow() - dt.timedelta(minutes=1))
    start = trends.day_start_utc(today.replace(day=1))
    s = trends.accepted_series(start, utcnow() + dt.timedelta(minutes=1), "month")
    assert s["total"] == [1]
