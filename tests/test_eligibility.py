"""The eligibility check (Art. 10, 11, 13): every stop explains what to do instead, cites the article,
and leaves nothing behind but an anonymous count per day and reason."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import eligibility
from cases.eligibility import Answers
from cases.models import Appeal, CaseEvent, EligibilityStop, Material, Notification, OutboxJob
from tests.test_public_portal import check_answers, form_data, today
from tests.test_validation import valid_fields

TODAY = dt.date(2026, 11, 29)


def days_ago(n: int) -> str:
    return (today() - dt.timedelta(days=n)).isoformat()


STOPS = [
    ("not_complained", {"complained_to_operator": "no"}, "先向运营商投诉", "第十条第四项"),
    ("reply_pending", {"operator_replied": "no", "complaint_date": days_ago(3)}, "15日", "第十条第四项"),
    ("satisfied", {"satisfied": "yes"}, "不需要申诉", "第十条第四项"),
    ("time_barred_charging", {"event_date": days_ago(160), "charging": "yes"}, "五个月", "第十一条第一项"),
    ("time_barred_other", {"event_date": days_ago(800), "charging": "no"}, "二年", "第十一条第一项"),
    ("other_body", {"court_or_arbitration": "yes"}, "人民法院", "第十一条第四项"),
    ("settled_and_performed", {"settled_and_performed": "yes"}, "和解", "第十一条第二项"),
]


def stored_case_rows() -> int:
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (Appeal, CaseEvent, Material, OutboxJob, Notification)
    )


@pytest.mark.parametrize("reason,answers,words,article", STOPS, ids=[s[0] for s in STOPS])
def test_each_stop_explains_what_to_do_and_only_counts_anonymously(client, reason, answers, words, article):
    resp = client.post("/appeal/check", data=check_answers(**answers))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "暂时不能申诉" in html
    assert words in html and article in html
    assert stored_case_rows() == 0
    rows = db.session.execute(sa.select(EligibilityStop.day, EligibilityStop.reason, EligibilityStop.count)).all()
    assert rows == [(today(), reason, 1)]
    # the stopped consumer cannot go on to the form
    assert client.get("/appeal/new").status_code == 302


def test_a_consumer_who_has_not_complained_is_not_asked_the_rest(client):
    resp = client.post("/appeal/check", data={"complained_to_operator": "no"})
    assert resp.status_code == 200 and "先向运营商投诉" in resp.get_data(as_text=True)


def test_unanswered_questions_are_asked_again_and_nothing_is_counted(client):
    resp = client.post("/appeal/check", data={"complained_to_operator": "yes", "event_date": "2099-01-01"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "请回答这个问题" in html and "日期不能晚于今天" in html
    assert db.session.scalar(sa.select(sa.func.count(EligibilityStop.id))) == 0


def test_the_counts_add_up_per_day_and_reason(app):
    for reason in ("not_complained", "not_complained", "other_body"):
        eligibility.record_stop(reason, TODAY)
    eligibility.record_stop("not_complained", TODAY + dt.timedelta(days=1))
    db.session.commit()
    rows = db.session.execute(
        sa.select(EligibilityStop.day, EligibilityStop.reason, EligibilityStop.count).order_by(
            EligibilityStop.day, EligibilityStop.reason
        )
    ).all()
    assert rows == [
        (TODAY, "not_complained", 2),
        (TODAY, "other_body", 1),
        (TODAY + dt.timedelta(days=1), "not_complained", 1),
    ]


def test_concurrent_stops_are_all_counted(app):
    errors = []

    def stop_once():
        with app.app_context():
            try:
                eligibility.record_stop("satisfied", TODAY)
                db.session.commit()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=stop_once) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    assert db.session.scalar(sa.select(EligibilityStop.count).where(EligibilityStop.reason == "satisfied")) == 6


def test_fifteen_days_without_a_reply_opens_the_appeal():
    waited = Answers(
        True, TODAY - dt.timedelta(days=15), False, None, TODAY - dt.timedelta(days=20), False, False, False
    )
    assert eligibility.evaluate(waited, TODAY) is None
    early = Answers(
        True, TODAY - dt.timedelta(days=14), False, None, TODAY - dt.timedelta(days=20), False, False, False
    )
    stop = eligibility.evaluate(early, TODAY)
    assert stop.reason == "reply_pending" and stop.ground == "art10_4"


def test_the_charging_time_bar_is_five_months_and_the_other_two_years():
    assert eligibility.time_bar(dt.date(2026, 6, 29), charging=True) == dt.date(2026, 11, 29)
    assert eligibility.time_bar(dt.date(2025, 9, 30), charging=True) == dt.date(2026, 2, 28)
    assert eligibility.time_bar(dt.date(2024, 2, 29), charging=False) == dt.date(2026, 2, 28)
    ok = Answers(True, None, True, False, dt.date(2026, 6, 29), True, False, False)
    assert eligibility.evaluate(ok, TODAY) is None
    late = Answers(True, None, True, False, dt.date(2026, 6, 28), True, False, False)
    assert eligibility.evaluate(late, TODAY).reason == "time_barred_charging"
    other = Answers(True, None, True, False, dt.date(2026, 6, 28), False, False, False)
    assert eligibility.evaluate(other, TODAY) is None


def test_the_form_applies_the_time_bar_to_its_own_date_and_category(client):
    client.post("/appeal/check", data=check_answers(charging="no"))
    old = days_ago(200)
    resp = client.post("/appeal/new", data=form_data(category="charging", event_date=old, operator_complaint_date=old))
    assert resp.status_code == 422 and "第十一条第一项" in resp.get_data(as_text=True)
    ok = client.post("/appeal/new", data=form_data(category="network", event_date=old, operator_complaint_date=old))
    assert ok.status_code == 302


def test_the_api_refuses_an_ineligible_appeal_naming_the_article_and_counts_it(client):
    body = valid_fields(event_date=days_ago(30), operator_complaint_date=days_ago(20))
    body["eligibility"] = {
        "complained_to_operator": True,
        "operator_replied": True,
        "satisfied": False,
        "court_or_arbitration": True,
        "settled_and_performed": False,
    }
    resp = client.post("/api/v1/appeals", json=body)
    assert resp.status_code == 422
    assert resp.json["ground"] == "art11_4" and "第十一条第四项" in resp.json["error"]
    assert "eligibility" in resp.json["errors"]
    assert stored_case_rows() == 0
    assert db.session.scalar(sa.select(EligibilityStop.reason)) == "other_body"
