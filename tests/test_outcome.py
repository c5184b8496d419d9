"""What the appellant sees of the course and end of a case: the progress steps, the outcome in plain words with
the settlement terms and their date, the operator's reply as the centre forwards it, the advice after a failed
mediation, and "the operator has not done this", which reaches the mediator and is counted."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from flask import g

from app.extensions import db
from cases import outcome
from cases.models import Appeal, CaseEvent, OutboxJob, Settlement, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal, open_as
from tests.test_notifications import sms, smtp  # noqa: F401  (fixtures: a real SMS gateway and SMTP server)
from workflows import engine, lifecycle


def track(client, appeal: Appeal) -> str:
    """Open the case in the consumer's browser (as the lookup form does) and return the tracking page."""
    with client.session_transaction() as s:
        s["tracked_case"] = appeal.id
    resp = client.get("/track/case")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def get_in_english(client, url: str) -> str:
    """A page in English (the test's app context outlives requests: forget the language it cached)."""
    g.pop("_flask_babel", None)
    html = client.get(url, query_string={"lang": "en"})
    g.pop("_flask_babel", None)
    return html.get_data(as_text=True)


def progress_summary(html: str) -> str:
    """The sentence above the progress bar, as read (tags dropped)."""
    found = re.search(r'<p id="progress-summary"[^>]*>(.*?)</p>', html, re.S).group(1)
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", found))


def steps(html: str) -> list[tuple[str, str]]:
    """(status, name) of each step of the progress bar."""
    return re.findall(r'<li class="step step-(\w+)"[^>]*>.*?<span class="step-name">([^<]+)</span>', html, re.S)


def test_the_replies_that_stop_the_reply_clock_are_the_lifecycle_tables():
    stops = {t.action for t in lifecycle.TRANSITIONS if "consumer_reply" in t.stops}
    assert stops == outcome.REPLIES | outcome.NO_REPLY_NEEDED


def test_a_new_case_is_at_the_acceptance_step_with_its_decision_date(client):
    appeal = make_appeal()
    html = track(client, appeal)
    assert steps(html) == [
        ("done", "收到"),
        ("current", "受理"),
        ("upcoming", "转办企业"),
        ("upcoming", "企业答复"),
        ("upcoming", "调解/结果"),
        ("upcoming", "办结"),
    ]
    due = appeal.deadline("decision").due_at
    assert progress_summary(html) == f"第2步（共6步）：受理，期限{(due + dt.timedelta(hours=8)).date().isoformat()}"
    assert 'aria-current="step"' in html and "（当前步骤）" in html and "（已完成）" in html


def test_a_referred_case_waits_for_the_operators_reply_by_its_date(client):
    appeal = make_appeal(state="referred")
    view = outcome.progress(appeal)
    assert view["current_name"] == "企业答复" and view["due"] == appeal.deadline("operator_reply").due_at
    assert [s.status for s in view["steps"]] == ["done", "done", "done", "current", "upcoming", "upcoming"]


def test_a_rejected_or_withdrawn_case_shows_the_steps_it_never_reached(client, app):
    rejected = outcome.progress(make_appeal(state="rejected"))
    assert [s.status for s in rejected["steps"]] == ["done", "done", "skipped", "skipped", "skipped", "done"]
    assert rejected["steps"][1].name == "不予受理" and rejected["current"] is None
    withdrawn = make_appeal(state="referred")
    engine.perform(withdrawn, "withdraw", role="consumer", data={"reason": "已解决"})
    db.session.commit()
    view = outcome.progress(withdrawn, "en")
    assert [s.status for s in view["steps"]] == ["done", "done", "done", "skipped", "skipped", "done"]
    assert view["steps"][-1].name == "Closed（Withdrawn）"


def test_a_withdrawn_case_does_not_claim_a_reply_to_the_appellant(client, auth):
    appeal = make_appeal(state="withdrawn")
    html = track(client, appeal)
    reply_line = re.search(r"<strong>答复申诉人</strong>.*?</li>", html, re.S).group(0)
    assert "无需答复" in reply_line and "按期完成" not in reply_line
    settled = make_appeal(state="closed")
    reply_line = re.search(r"<strong>答复申诉人</strong>.*?</li>", track(client, settled), re.S).group(0)
    assert "按期完成" in reply_line
    auth.as_role("clerk")
    staff = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert "申诉已撤回，无需答复" in staff


def test_a_settled_case_shows_the_terms_their_date_and_how_far_they_are(client):
    appeal = make_appeal(state="settled")
    settlement = db.session.scalar(sa.select(Settlement).where(Settlement.appeal_id == appeal.id))
    settlement.apology = True
    settlement.other_terms = "赠送流量10GB"
    db.session.commit()
    html = track(client, appeal)
    terms = re.search(r'<dl class="facts" id="terms">.*?</dl>', html, re.S).group(0)
    assert "30.00 元" in terms and "企业向您赔礼道歉" in terms and "赠送流量10GB" in terms
    assert '<dd id="perform-by"><strong>2036-12-31</strong>' in terms
    assert "您与被申诉企业达成了和解" in html
    assert steps(html)[-1] == ("current", "办结") and progress_summary(html) == "第6步（共6步）：办结，期限2036-12-31"
    assert "企业没有履行？告诉我们" in html
    english = get_in_english(client, "/track/case")
    assert "You and the operator settled" in english and "30.00 yuan" in english and "Step 6 of 6" in english


def test_the_appellant_reports_the_terms_not_carried_out_and_the_mediator_gets_a_task(client, app, smtp):  # noqa: F811
    mediator = make_user("mediator", "med-r")
    mediator.email = "med@centre.example"
    appeal = make_appeal(state="settled")
    appeal.assignee_id = mediator.id
    db.session.commit()
    track(client, appeal)
    smtp.messages.clear()  # the appellant's own notices of the steps so far
    resp = client.post("/track/terms-not-done", data={"text": "退费还没有到账"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/track/case#outcome")
    db.session.expire_all()
    settlement = db.session.scalar(sa.select(Settlement).where(Settlement.appeal_id == appeal.id))
    assert settlement.consumer_reports == 1 and settlement.consumer_reported_at is not None
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "report_terms_not_done"))
    assert event.actor_kind == "consumer" and not event.internal and event.details["text"] == "退费还没有到账"
    # the mediator is told by e-mail, and the case is on the "履行未到位" list
    assert [m["To"] for m in smtp.messages] == ["med@centre.example"]
    assert appeal.case_no in smtp.messages[0]["Subject"]
    page = client.get("/track/case").get_data(as_text=True)
    assert "反映企业没有履行，调解员会联系您核实" in page and "申诉人反映企业未履行" in page  # and on the timeline
    assert "企业没有履行？告诉我们" not in page  # once a day
    again = client.post("/track/terms-not-done", data={"text": ""})
    assert again.status_code == 409 and "一天内只需反映一次" in again.get_data(as_text=True)
    client.post("/track/exit")
    make_user("clerk", "clerk-r")
    client.post("/auth/login", data={"username": "clerk-r", "password": "correct horse battery staple"})
    listing = open_as(client, "GET", "/staff/settlements/unperformed").get_data(as_text=True)
    assert appeal.case_no in listing and "申诉人反映未履行（1次" in listing
    case_page = open_as(client, "GET", f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert 'id="consumer-reports"' in case_page


def test_a_report_over_the_limit_is_refused_with_the_text_kept(client):
    appeal = make_appeal(state="settled")
    track(client, appeal)
    long_text = "未" * (outcome.REPORT_MAX + 1)
    resp = client.post("/track/terms-not-done", data={"text": long_text})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "内容过长" in html and long_text in html
    assert (
        db.session.scalar(sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.action == "report_terms_not_done"))
        == 0
    )


def test_no_report_while_nothing_is_pending(client):
    appeal = make_appeal(state="referred")
    track(client, appeal)
    assert client.post("/track/terms-not-done", data={"text": ""}).status_code == 409
    assert outcome.can_report(appeal, None) is False


def test_a_failed_mediation_gives_the_advice_in_plain_words(client):
    appeal = make_appeal(state="mediating")
    engine.perform(appeal, "end_mediation", role="mediator", data={"advice": "可向长春仲裁委员会申请仲裁。"})
    db.session.commit()
    html = track(client, appeal)
    assert "调解不成，申诉办结" in html and '<p class="text" id="advice">可向长春仲裁委员会申请仲裁。</p>' in html
    assert "向人民法院提起诉讼" in html
    assert outcome.summary(appeal)["outcome"] == "mediation_failed"


def test_the_centre_forwards_the_operators_reply_and_the_appellant_reads_it(client, auth, sms):  # noqa: F811
    appeal = make_appeal(state="replied")
    auth.as_role("mediator")
    page = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert 'id="forward-text"' in page and ">已核实</textarea>" in page  # prefilled with the operator's reply
    resp = client.post(f"/staff/cases/{appeal.case_no}/forward-reply", data={"text": "企业已核实，将退还30元。"})
    assert resp.status_code == 302
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "forward_reply"))
    assert event.public_message == "企业已核实，将退还30元。" and not event.internal
    assert any("被申诉企业已答复" in m["json"]["text"] for m in sms.received)
    auth.logout()
    html = track(client, appeal)
    assert "企业的答复（由本中心转达" in html and "企业已核实，将退还30元。" in html
    assert "转达企业答复" in html  # on the timeline too


@pytest.mark.parametrize("text", [None, "", "   ", "\x00", "长" * 5001])
def test_an_empty_or_overlong_forward_is_a_422_with_the_form_open_and_nothing_sent(client, auth, text):
    appeal = make_appeal(state="replied")
    jobs_before = db.session.scalar(sa.select(sa.func.count(OutboxJob.id)))
    auth.as_role("mediator")
    resp = client.post(f"/staff/cases/{appeal.case_no}/forward-reply", data={} if text is None else {"text": text})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="case-message"' in html and 'id="forward-error"' in html and 'aria-invalid="true"' in html
    assert '<details class="action card" id="forward-reply" open>' in html
    if text and text.strip("\x00 "):
        assert f">{text}</textarea>" in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.action == "forward_reply")) == 0
    assert db.session.scalar(sa.select(sa.func.count(OutboxJob.id))) == jobs_before


def test_nothing_to_forward_before_the_operator_replies(client, auth):
    appeal = make_appeal(state="referred")
    jobs_before = db.session.scalar(sa.select(sa.func.count(OutboxJob.id)))
    auth.as_role("mediator")
    assert 'id="forward-text"' not in client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    resp = client.post(f"/staff/cases/{appeal.case_no}/forward-reply", data={"text": "x"})
    assert resp.status_code == 409 and "企业还没有答复" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(OutboxJob.id))) == jobs_before


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_operator_sees_the_referral_note_and_the_terms_it_must_carry_out_by_their_date(client, auth, lang):
    appeal = make_appeal(state="accepted")
    engine.perform(appeal, "refer", role="mediator", data={"note": "请重点核实9月流量包扣费。"})
    engine.perform(appeal, "reply", role="operator", data={"text": "已核实"})
    engine.perform(appeal, "settle", role="mediator", data={"refund_amount": "48", "perform_by": "2036-12-20"})
    db.session.commit()
    auth.as_role("operator")
    url = f"/operator/cases/{appeal.case_no}"
    html = get_in_english(client, url) if lang == "en" else client.get(url).get_data(as_text=True)
    note = re.search(r'id="referral-note".*?</section>', html, re.S).group(0)
    assert "请重点核实9月流量包扣费。" in note
    terms = re.search(r'id="terms-due".*?</section>', html, re.S).group(0)
    assert "2036-12-20" in terms and "48.00" in terms
    if lang == "en":
        assert "The centre's referral note" in note and "by 2036-12-20" in terms


def test_the_tracking_page_stays_free_of_internal_notes(client):
    appeal = make_appeal(state="settled")
    engine.add_note(appeal, "内部：企业联系人王经理", None)
    db.session.commit()
    assert "王经理" not in track(client, appeal)
    assert outcome.summary(appeal, now=utcnow())["terms"]["status"] in ("pending", "overdue")
