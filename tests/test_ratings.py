"""满意度评价: the appellant rates a case that ended, once; web ratings and follow-up calls are counted together in
the statistics, each case once, the later one winning."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from cases import followups, ratings, tracking
from cases.models import CaseEvent, Rating, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal
from tests.test_notifications import sms  # noqa: F401  (the real HTTP gateway fixture)

CODE = "ABCDEFGHJK"


def _tracked(client, **overrides):
    appeal = make_appeal(**overrides)
    appeal.access_code_hash = tracking.hash_access_code(CODE)
    db.session.commit()
    assert client.post("/track", data={"case_no": appeal.case_no, "access_code": CODE}).status_code == 302
    return appeal


def test_a_closed_case_is_rated_once_from_the_tracking_page(app, client):
    appeal = _tracked(client, state="closed")
    page = client.get("/track/case").get_data(as_text=True)
    assert "满意度评价" in page and 'name="score"' in page
    resp = client.post("/track/rating", data={"score": "4", "comment": "  调解员很耐心  "})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/track/case#rating")
    row = db.session.scalar(sa.select(Rating))
    assert (row.appeal_id, row.score, row.comment) == (appeal.id, 4, "调解员很耐心")
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "consumer_rating"))
    assert event.internal and event.actor_kind == "consumer" and event.details["score"] == 4
    page = client.get("/track/case").get_data(as_text=True)
    assert "感谢您的评价" in page and 'name="score"' not in page
    again = client.post("/track/rating", data={"score": "1"})
    assert again.status_code == 409 and "已经评价过了" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


def test_an_open_rejected_or_withdrawn_case_cannot_be_rated(app, client):
    for state in ("referred", "rejected", "withdrawn"):
        other = app.test_client()
        _tracked(other, state=state)
        assert 'name="score"' not in other.get("/track/case").get_data(as_text=True)
        resp = other.post("/track/rating", data={"score": "5"})
        assert resp.status_code == 409 and "办结后才能评价" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_a_bad_rating_says_what_to_fix_and_keeps_the_comment(app, client):
    _tracked(client, state="closed")
    resp = client.post("/track/rating", data={"score": "9", "comment": "还行"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "请选择 1 到 5 分" in html and "还行" in html
    long = client.post("/track/rating", data={"score": "3", "comment": "长" * 501})
    assert long.status_code == 422 and "500" in long.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_the_domain_refuses_bad_values_by_field(app):
    appeal = make_appeal(state="closed")
    for score, comment, field in ((True, "", "score"), ("5", "", "score"), (0, "", "score"), (5, 7, "comment")):
        try:
            ratings.rate(appeal, score, comment)
        except ratings.RatingRefused as exc:
            assert exc.status == 422 and field in exc.errors
        else:
            raise AssertionError(f"{score!r} {comment!r} accepted")


def test_closing_a_case_invites_the_appellant_to_rate_it(app, sms):  # noqa: F811
    appeal = make_appeal(state="closed", notify_by="sms")
    texts = [r["json"]["text"] for r in sms.received]
    closing = [t for t in texts if "已办结" in t]
    assert len(closing) == 1 and "满意度评价" in closing[0] and "/my" in closing[0] and appeal.case_no in closing[0]
    assert not any("满意度评价" in t for t in texts if "已受理" in t)


def _call(appeal, user, score: int, at: dt.datetime):
    followups.record_call(appeal, recorded_by=user, callee="consumer", reached=True, satisfaction=score, at=at)
    db.session.commit()


def _web(appeal, score: int, at: dt.datetime):
    ratings.rate(appeal, score)
    db.session.execute(sa.update(Rating).where(Rating.appeal_id == appeal.id).values(at=at))
    db.session.commit()


def test_the_statistics_count_each_case_once_the_later_rating_winning(app, client, auth):
    now = utcnow()
    mediator = make_user("mediator")
    a = make_appeal(state="closed")  # web 5, then a call says 2: counts 2
    b = make_appeal(state="closed", operator_code="unicom_jl")  # a call says 4, then the web 3: counts 3
    c = make_appeal(state="closed")  # web 5 only
    d = make_appeal(state="referred")  # open: not counted
    _web(a, 5, now - dt.timedelta(hours=3))
    _call(a, mediator, 2, now - dt.timedelta(hours=1))
    _call(b, mediator, 4, now - dt.timedelta(hours=3))
    _web(b, 3, now - dt.timedelta(hours=1))
    _web(c, 5, now - dt.timedelta(hours=2))
    _call(d, mediator, 5, now)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    figures = ratings.satisfaction(start, end)
    assert figures["overall"] == {
        "key": "all",
        "name": "全部",
        "rated": 3,
        "satisfied": 1,
        "rate": "33.3",
        "mean": "3.33",
    }
    assert (figures["web"], figures["call"]) == (2, 1)
    by_operator = {o["key"]: (o["rated"], o["rate"], o["mean"]) for o in figures["by_operator"]}
    assert by_operator == {"cmcc_jl": (2, "50.0", "3.50"), "unicom_jl": (1, "0.0", "3.00")}
    assert [(o["key"], o["rated"]) for o in figures["by_outcome"]] == [("acknowledged", 3)]
    # both ratings stay recorded
    assert db.session.scalar(sa.select(Rating.score).where(Rating.appeal_id == a.id)) == 5

    auth.as_role("clerk")
    today = (now + dt.timedelta(hours=8)).date()
    args = {"from": (today - dt.timedelta(days=30)).isoformat(), "to": today.isoformat()}
    html = client.get("/staff/statistics/satisfaction", query_string=args).get_data(as_text=True)
    assert "33.3%" in html and "3.33" in html and "满意率" in html
    cases = client.get("/staff/statistics/satisfaction/cases", query_string={**args, "operator": "unicom_jl"}).get_data(
        as_text=True
    )
    assert b.case_no in cases and a.case_no not in cases and d.case_no not in cases
    every = client.get("/staff/statistics/satisfaction/cases", query_string=args).get_data(as_text=True)
    assert all(x.case_no in every for x in (a, b, c)) and d.case_no not in every
    from cases.bulletin import Period

    this_period = client.get("/staff/statistics/satisfaction", query_string={"period": Period.containing(now).code})
    assert "33.3%" in this_period.get_data(as_text=True)


def test_only_staff_see_the_satisfaction_pages_and_only_admins_the_notifications(app, client, auth):
    assert client.get("/staff/statistics/satisfaction").status_code in (302, 403)
    auth.as_role("operator")
    assert client.get("/staff/statistics/satisfaction").status_code == 403
    assert client.get("/staff/statistics/satisfaction/cases").status_code == 403
    assert client.get("/staff/admin/notifications").status_code == 403
