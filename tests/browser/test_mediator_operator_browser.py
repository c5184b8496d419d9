"""Across roles in a real Chromium: an appeal filed through the public API is accepted by a clerk, taken and
referred by a mediator, answered by the operator's liaison (who sees only its own company's cases), settled
after follow-up calls, confirmed carried out and closed; the case timeline shows every step."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.conftest import PASSWORD
from tests.test_api_public import appeal_body


def local_today() -> dt.date:
    """Today in Asia/Shanghai."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()


def signed_in(browser, base: str, username: str):
    """A new browser context and page signed in as `username` through the sign-in form."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda d: d.accept())  # the console asks before closing a case
    page.goto(base + "/auth/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    return context, page


def act(page, action: str, fields: dict[str, str] | None = None, checks: tuple[str, ...] = ()) -> None:
    """Open a lifecycle action on the staff case page, fill its fields and submit it."""
    panel = page.locator(f"#action-{action}")
    panel.locator("summary").click()
    for name, value in (fields or {}).items():
        panel.locator(f"#{action}-{name}").fill(value)
    for name in checks:
        panel.locator(f"#{action}-{name}").check()
    with page.expect_navigation():
        panel.get_by_role("button").click()


def record_call(page, notes: str, *, satisfaction: str, terms_carried_out: bool | None = None) -> None:
    """Record a reached follow-up call to the consumer with the calls form of the case page."""
    calls = page.locator("section.case-calls")
    calls.get_by_label("申诉人", exact=True).check()
    calls.get_by_label("已接通").check()
    if terms_carried_out is not None:
        calls.get_by_label("已履行" if terms_carried_out else "未履行", exact=True).check()
    calls.get_by_label("申诉人满意度").select_option(satisfaction)
    calls.get_by_label("通话内容").fill(notes)
    with page.expect_navigation():
        calls.get_by_role("button", name="保存回访记录").click()
    assert "回访记录已保存" in page.locator("body").inner_text()


@pytest.fixture
def filed_case(live_server, page):
    """An appeal filed through the public API of the live server (case number, access code)."""
    answer = page.request.post(
        live_server.url + "/api/v1/appeals",
        data=appeal_body(
            complainant_name="赵六",
            phone="13700001111",
            service_number="13700001111",
            address="吉林省长春市南关区人民大街1号",
            request="退还多收的流量费",
            facts="跨省流量包已订购仍被按标准资费扣费48元。",
        ),
    )
    assert answer.status == 201, answer.text()
    body = answer.json()
    return body["case_no"], body["access_code"]


@pytest.fixture
def other_operators_case(live_server):
    """A case referred to another operator (unicom_jl), and a liaison of that operator."""
    from app.extensions import db
    from cases import accounts
    from cases.models import User
    from tests.factories import make_appeal

    with live_server.app.app_context():
        appeal = make_appeal(state="referred", operator_code="unicom_jl", facts="联通宽带断网", phone="13100002222")
        case_no = appeal.case_no
        if db.session.query(User).filter_by(username="b_operator_unicom").first() is None:
            accounts.create_user("b_operator_unicom", PASSWORD, "operator", "联通联络员（测试）", "unicom_jl")
            db.session.commit()
        db.session.remove()
    return case_no


def test_an_appeal_goes_from_filing_through_referral_reply_settlement_and_follow_up_calls_to_closure(
    browser, live_server, filed_case, other_operators_case
):
    case_no, _code = filed_case
    base = live_server.url
    case_url = f"{base}/staff/cases/{case_no}"
    contexts = []
    try:
        # the clerk accepts the appeal
        context, clerk = signed_in(browser, base, "b_clerk")
        contexts.append(context)
        clerk.goto(case_url)
        assert "待受理" in clerk.locator("h1").inner_text()
        act(clerk, "accept", {"note": "材料齐全，予以受理"})
        assert "已受理" in clerk.locator("h1").inner_text()

        # the mediator takes the case and refers it to the operator
        context, mediator = signed_in(browser, base, "b_mediator")
        contexts.append(context)
        mediator.goto(case_url)
        with mediator.expect_navigation():
            mediator.get_by_role("button", name="我来办理").click()
        assert "mediator（测试）" in mediator.locator("#assignee").inner_text()
        act(mediator, "refer", {"note": "请核实扣费情况并答复"})
        assert "已转办" in mediator.locator("h1").inner_text()
        screenshot(mediator, "mediator-case-referred")

        # the liaison of the operator sees only its own company's referred case, and replies
        context, liaison = signed_in(browser, base, "b_operator")
        contexts.append(context)
        assert liaison.url.endswith("/operator/")
        listing = liaison.locator("main table").inner_text()
        assert case_no in listing
        assert other_operators_case not in listing
        screenshot(liaison, "operator-portal-index")
        assert liaison.goto(f"{base}/operator/cases/{other_operators_case}").status == 404
        liaison.goto(f"{base}/operator/")
        with liaison.expect_navigation():
            liaison.get_by_role("link", name=case_no).click()
        assert "137****1111" in liaison.locator("main").inner_text()
        liaison.get_by_label("答复内容").fill("经核实，流量包已生效，多扣48元将退还。")
        with liaison.expect_navigation():
            liaison.get_by_role("button", name="提交答复").click()
        assert "企业已答复" in liaison.locator("h1").inner_text()
        screenshot(liaison, "operator-case-replied")
        for url in ("/operator/", f"/operator/cases/{case_no}"):
            violations = axe_violations(browser, base + url, cookies=liaison.context.cookies())
            assert violations == [], (url, [(v["id"], v["help"], v["nodes"][:2]) for v in violations])

        # the other company's liaison does not see this case
        context, other = signed_in(browser, base, "b_operator_unicom")
        contexts.append(context)
        listing = other.locator("main table").inner_text()
        assert other_operators_case in listing and case_no not in listing
        assert other.goto(f"{base}/operator/cases/{case_no}").status == 404

        # the mediator calls the consumer, records the settlement, confirms the terms by a call and closes
        mediator.goto(case_url)
        assert "企业已答复" in mediator.locator("h1").inner_text()
        assert "多扣48元将退还" in mediator.locator("main").inner_text()
        record_call(mediator, "申诉人同意企业退还48元的方案", satisfaction="4")
        mediator.goto(case_url)
        perform_by = (local_today() + dt.timedelta(days=7)).isoformat()
        act(
            mediator,
            "settle",
            {"refund_amount": "48.00", "other_terms": "次月账单中返还", "perform_by": perform_by},
            checks=("apology",),
        )
        assert "已和解待履行" in mediator.locator("h1").inner_text()
        terms = mediator.locator("section[aria-labelledby=h-settlement]").inner_text()
        assert "48" in terms and "次月账单中返还" in terms
        screenshot(mediator, "mediator-case-settled")

        record_call(mediator, "申诉人确认已收到退款", satisfaction="5", terms_carried_out=True)
        mediator.goto(case_url)
        assert "回访确认已履行" in mediator.locator("section.case-calls").inner_text()
        act(mediator, "close", {"note": "和解条款已履行，办结"})
        assert "已办结" in mediator.locator("h1").inner_text()

        timeline = mediator.locator("#timeline + ol").inner_text()
        steps = ["提交申诉", "受理", "分派承办人", "转办", "企业答复", "回访呼出", "和解", "回访呼出", "办结"]
        position = 0
        for step in steps:
            found = timeline.find(step, position)
            assert found >= 0, (step, timeline)
            position = found + len(step)
        for detail in [
            "材料齐全，予以受理",
            "请核实扣费情况并答复",
            "多扣48元将退还",
            "次月账单中返还",
            "和解条款已履行，办结",
        ]:
            assert detail in timeline, detail
        assert mediator.locator("#timeline + ol > li").count() >= len(steps)
        screenshot(mediator, "mediator-case-closed-timeline")
        year = local_today().year
        follow_up_pages = [
            f"/staff/cases/{case_no}/calls",
            "/staff/calls/due",
            "/staff/settlements/unperformed",
            "/staff/contacts",
            f"/staff/statistics?from={year}-01-01&to={year}-12-31",
        ]
        for url in follow_up_pages:
            violations = axe_violations(browser, base + url, cookies=mediator.context.cookies())
            assert violations == [], (url, [(v["id"], v["help"], v["nodes"][:2]) for v in violations])
    finally:
        for context in contexts:
            context.close()
