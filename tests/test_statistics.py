"""The bulletin's figures: periods by Asia/Shanghai time, counting from events, breakdowns, revisions and publishing."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import bulletin, statistics
from cases.bulletin import Period, PublishedRevisionChanged
from cases.models import Baseline, BulletinRevision, CaseEvent, Contact, SubscriberCount
from tests.conftest import on_postgres
from tests.factories import make_appeal, operator
from workflows import engine, jobs


def _contact(channel: str, at: dt.datetime) -> None:
    db.session.add(Contact(channel=channel, at=at))
    db.session.commit()


def test_periods_are_asia_shanghai_half_years_and_quarters():
    """2022H2 runs from 1 July 00:00 to 1 January 00:00 Shanghai time; quarters and labels too."""
    h2 = Period.parse("2022h2")
    assert h2.code == "2022H2" and h2.label_zh() == "2022年下半年"
    assert h2.start_utc == dt.datetime(2022, 6, 30, 16, 0) and h2.end_utc == dt.datetime(2022, 12, 31, 16, 0)
    assert Period.parse("2023H1").label_zh() == "2023年上半年"
    q1 = Period.parse("2023Q1")
    assert q1.label_zh() == "2023年第一季度" and q1.end_utc == dt.datetime(2023, 3, 31, 16, 0)
    assert h2.year_before().code == "2021H2" and q1.previous().code == "2022Q4"
    assert Period.containing(dt.datetime(2022, 12, 31, 16, 30)).code == "2023H1"
    for bad in ("2022H3", "2022", "H2", "2022Q5", ""):
        with pytest.raises(bulletin.PeriodError):
            Period.parse(bad)


def test_an_event_at_new_year_and_at_1_july_counts_by_its_shanghai_time(app):
    """A call at 2022-12-31 16:30 UTC is 2023's; one at 15:59 UTC is 2022H2's; the same at 1 July."""
    _contact("phone_consultation", dt.datetime(2022, 12, 31, 15, 59))
    _contact("phone_consultation", dt.datetime(2022, 12, 31, 16, 30))
    _contact("callback", dt.datetime(2023, 6, 30, 15, 59, 59))
    _contact("callback", dt.datetime(2023, 6, 30, 16, 0))
    late = make_appeal(state="received", at=dt.datetime(2022, 12, 31, 10, 0))
    engine.perform(late, "accept", role="clerk", at=dt.datetime(2022, 12, 31, 16, 30))  # 00:30 on New Year's Day
    db.session.commit()

    def figures(code):
        p = Period.parse(code)
        return statistics.compute(p.start_utc, p.end_utc, p)

    h2, h1, h2_2023 = figures("2022H2"), figures("2023H1"), figures("2023H2")
    assert (h2["phone_consultations"], h1["phone_consultations"]) == (1, 1)
    assert (h1["callbacks"], h2_2023["callbacks"]) == (1, 1)
    assert (h2["appeals_received"], h2["appeals_accepted"], h1["appeals_accepted"]) == (1, 0, 1)


def test_figures_count_events_not_current_states_and_give_the_breakdowns(app):
    """A case settled, reopened and closed otherwise still counts its settlement; breakdowns by operator and more."""
    at = dt.datetime(2023, 3, 1, 2, 0)
    db.session.add(SubscriberCount(operator_id=operator("cmcc_jl").id, period="2023H1", count=4_000_000))
    db.session.commit()
    settled = make_appeal(state="settled", at=at)
    engine.perform(settled, "reopen", role="supervisor", data={"reason": "复核"}, at=at + dt.timedelta(days=1))
    engine.perform(
        settled, "end_mediation", role="mediator", data={"advice": "可申请仲裁"}, at=at + dt.timedelta(days=2)
    )
    db.session.commit()
    make_appeal(state="closed", at=at, category="network")
    make_appeal(state="rejected", at=at)
    make_appeal(state="withdrawn", at=at)
    make_appeal(state="accepted", at=at, operator_code="mvno_xiaomi")

    p = Period.parse("2023H1")
    f = statistics.compute(p.start_utc, p.end_utc, p)
    assert f["appeals_received"] == 5 and f["appeals_accepted"] == 3 and f["settled"] == 1
    assert (f["appeals_accepted_basic"], f["appeals_accepted_resale_other"]) == (2, 1)
    assert f["settlement_rate_pct"] == "33.33" and f["yoy_change_pct"] is None
    assert f["rejected_by_ground"] == {"art11_1": 1} and f["withdrawn"] == 1
    assert f["by_outcome"] == {
        "acknowledged": 1,
        "mediation_failed": 1,
        "rejected": 1,
        "settled": 1,
        "withdrawn": 1,
    }
    assert f["by_category"] == {"charging": 2, "network": 1}
    cmcc = next(o for o in f["by_operator"] if o["operator"] == "cmcc_jl")
    assert (cmcc["accepted"], cmcc["settled"], cmcc["per_million"]) == (2, 1, "0.50")
    t = f["timeliness"]
    assert t["decisions"] == 5 and t["decisions_on_time_pct"] == "100.00"
    assert t["closed"] == 4 and t["median_days_to_close"] == "0.00"

    rows = statistics.drilldown("settled", p.start_utc, p.end_utc)
    assert [r["case_no"] for r in rows] == [settled.case_no]


def test_a_rejection_recorded_without_its_ground_counts_under_the_appeals_or_as_unknown(app):
    """Older records may lack the ground on the event: the appeal's ground is used, and without one "unknown"."""
    at = dt.datetime(2023, 3, 1, 2, 0)
    with_ground, from_appeal, neither = (make_appeal(state="rejected", at=at) for _ in range(3))
    events = {
        a.id: db.session.scalar(sa.select(CaseEvent).where(CaseEvent.appeal_id == a.id, CaseEvent.action == "reject"))
        for a in (from_appeal, neither)
    }
    for event in events.values():
        event.details = {k: v for k, v in event.details.items() if k != "ground"}
    from_appeal.rejection_ground = "art11_3"
    neither.rejection_ground = None
    db.session.commit()

    p = Period.parse("2023H1")
    f = statistics.compute(p.start_utc, p.end_utc, p)
    assert with_ground.rejection_ground == "art11_1"
    assert f["rejected_by_ground"] == {"art11_1": 1, "art11_3": 1, "unknown": 1} and f["appeals_rejected"] == 3


@pytest.mark.skipif(not on_postgres, reason="the shared snapshot and the second connection are PostgreSQL's")
def test_the_figures_come_from_one_snapshot_while_cases_are_filed_meanwhile(app, monkeypatch):
    """A case accepted and closed while the rollup runs is in none of its figures, or in all of the next."""
    p = Period.parse("2022H2")
    at = dt.datetime(2022, 9, 1, 2, 0)
    make_appeal(state="closed", at=at)
    quiet = statistics.compute(p.start_utc, p.end_utc, p)
    breakdown = statistics.event_breakdown

    def breakdown_after_a_new_case(start, end, ex=None):  # runs in the rollup's own thread, with the app
        make_appeal(state="closed", at=at, service_number="13900000009")  # committed by the session meanwhile
        return breakdown(start, end, ex)

    monkeypatch.setattr(statistics, "event_breakdown", breakdown_after_a_new_case)
    during = statistics.compute(p.start_utc, p.end_utc, p)
    assert during == quiet and during["appeals_accepted"] == 1 and during["timeliness"]["closed"] == 1
    monkeypatch.setattr(statistics, "event_breakdown", breakdown)
    after = statistics.compute(p.start_utc, p.end_utc, p)
    assert after["appeals_accepted"] == after["appeals_received"] == after["timeliness"]["closed"] == 2


def test_a_case_reopened_and_settled_again_counts_once_as_accepted_and_settled(app):
    """件 are cases: rejected, reopened, accepted, settled, reopened and settled again in one half-year."""
    at = dt.datetime(2023, 3, 1, 2, 0)
    appeal = make_appeal(state="rejected", at=at)
    steps = [
        ("reopen", "supervisor", {"reason": "受理有误"}),
        ("accept", "clerk", {}),
        ("refer", "mediator", {}),
        ("reply", "operator", {"text": "已核实"}),
        ("settle", "mediator", {"refund_amount": "30", "perform_by": "2023-04-30"}),
        ("reopen", "supervisor", {"reason": "用户反映未履行"}),
        ("settle", "mediator", {"refund_amount": "50", "perform_by": "2023-05-31"}),
    ]
    for day, (action, role, data) in enumerate(steps, start=1):
        engine.perform(appeal, action, role=role, data=data, at=at + dt.timedelta(days=day))
    db.session.commit()
    make_appeal(state="settled", at=at, operator_code="mvno_xiaomi")

    p = Period.parse("2023H1")
    f = statistics.compute(p.start_utc, p.end_utc, p)
    assert (f["appeals_received"], f["appeals_accepted"], f["settled"], f["appeals_rejected"]) == (2, 2, 2, 1)
    assert f["settlement_rate_pct"] == "100.00" and f["by_outcome"]["settled"] == 2
    assert sorted((o["operator"], o["accepted"], o["settled"]) for o in f["by_operator"] if o["accepted"]) == [
        ("cmcc_jl", 1, 1),
        ("mvno_xiaomi", 1, 1),
    ]
    rows = statistics.drilldown("settled", p.start_utc, p.end_utc)
    assert len(rows) == f["settled"] and appeal.case_no in {r["case_no"] for r in rows}
    assert len(statistics.drilldown("appeals_accepted", p.start_utc, p.end_utc)) == 2


def test_yoy_uses_the_year_before_from_its_baseline_and_the_paragraph_says_a_fall(app):
    """同比 from a supervisor's baseline of a period before the system; a fall reads 下降."""
    db.session.add(Baseline(period="2022H1", figures={"appeals_accepted": 4}))
    db.session.commit()
    for _ in range(3):
        make_appeal(state="accepted", at=dt.datetime(2023, 2, 1, 2, 0))
    result = jobs.rollup_period("2023H1")
    rev = bulletin.latest_revision("2023H1")
    assert result == {"period": "2023H1", "revision": 1, "created": True}
    assert rev.figures["yoy_change_pct"] == "-25.00" and rev.figures["appeals_accepted_year_before"] == 4
    text = unicodedata.normalize("NFKC", rev.paragraph)
    assert text.startswith("2023年上半年,吉林省电信用户申诉受理中心(以下简称省申诉受理中心)共接到用户电话咨询0件")
    assert "受理用户申诉3件(其中,基础电信业务企业为3件,移动转售等其他企业0件),同比下降25.00%," in text


def test_a_rollup_run_twice_stores_one_revision_and_a_later_change_makes_a_new_one_with_a_diff(app):
    """Idempotent rollup; after new events a second revision, and the page's diff names what changed."""
    _contact("visit", dt.datetime(2023, 2, 1))
    assert jobs.rollup_period("2023H1")["created"] is True
    assert jobs.rollup_period("2023H1") == {"period": "2023H1", "revision": 1, "created": False}
    _contact("visit", dt.datetime(2023, 2, 2))
    assert jobs.rollup_period("2023H1") == {"period": "2023H1", "revision": 2, "created": True}
    new, old = bulletin.revisions("2023H1")
    assert bulletin.diff(new.figures, old.figures) == [{"figure": "visits", "before": 1, "after": 2}]


def test_a_published_revision_never_changes(app):
    """Publishing freezes a revision: changing or deleting it is refused, a later rollup makes a new revision."""
    _contact("visit", dt.datetime(2023, 2, 1))
    jobs.rollup_period("2023H1")
    rev = bulletin.latest_revision("2023H1")
    assert bulletin.publish(rev, None) is True
    db.session.commit()
    assert bulletin.publish(rev, None) is False

    rev.figures = dict(rev.figures, visits=99)
    with pytest.raises(PublishedRevisionChanged):
        db.session.commit()
    db.session.rollback()
    rev.paragraph = "改写"
    with pytest.raises(PublishedRevisionChanged):
        db.session.flush()
    db.session.rollback()
    db.session.delete(rev)
    with pytest.raises(PublishedRevisionChanged):
        db.session.flush()
    db.session.rollback()

    stored = db.session.scalar(sa.select(BulletinRevision).where(BulletinRevision.number == 1))
    assert stored.figures["visits"] == 1 and stored.published_at is not None
    _contact("visit", dt.datetime(2023, 2, 3))
    assert jobs.rollup_period("2023H1")["revision"] == 2
    assert bulletin.published_revision("2023H1").number == 1
