"""The public pages the journey test does not reach, in a real Chromium: refused submissions, the stop page and the
bulletin index have no serious accessibility violations (in Chinese and in English), and elder mode at phone
width keeps the appeal form with its errors and the tracked case page from scrolling sideways."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import AXE, screenshot
from tests.browser.test_public_journey import assert_fits, local_today
from tests.test_api_public import appeal_body

WIDTH = 375


def axe_here(page) -> list:
    """Run axe-core on the page as it is now (its context must bypass the CSP); serious and critical violations."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["help"], [n["html"][:120] for n in v["nodes"][:3]])
        for v in result["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def submit(page, name: str) -> None:
    """Press a submit button by its accessible name and wait for the answer page."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def answer_eligibly(page) -> None:
    """Answer the eligibility questions so that the appeal form opens."""
    today = local_today()
    page.check("#complained_to_operator-yes")
    page.fill("#complaint_date", (today - dt.timedelta(days=20)).isoformat())
    page.check("#operator_replied-yes")
    page.check("#satisfied-no")
    page.fill("#event_date", (today - dt.timedelta(days=30)).isoformat())
    page.check("#charging-yes")
    page.check("#court_or_arbitration-no")
    page.check("#settled_and_performed-no")


@pytest.fixture(params=["zh", "en"])
def visitor(request, browser, live_server):
    """A desktop visitor in Chinese or English whose pages axe can inspect."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    if request.param == "en":
        context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.lang = request.param
    yield page
    context.close()


def test_refused_submissions_the_stop_page_and_the_bulletin_index_have_no_serious_violations(visitor, live_server):
    page, base, lang = visitor, live_server.url, visitor.lang
    next_step, file_it, look_up = ("Next", "Submit", "Look up") if lang == "en" else ("下一步", "提交申诉", "查询")

    page.goto(base + "/appeal/check")
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
    submit(page, next_step)
    assert page.locator(".error-summary").is_visible()
    assert axe_here(page) == [], "eligibility check with errors"
    screenshot(page, f"eligibility-errors-{lang}")

    page.check("#complained_to_operator-no")
    for question in ("operator_replied", "satisfied", "charging", "court_or_arbitration", "settled_and_performed"):
        page.check(f"#{question}-no")
    page.fill("#event_date", (local_today() - dt.timedelta(days=3)).isoformat())
    submit(page, next_step)
    assert page.locator(".stop").is_visible()
    assert axe_here(page) == [], "stop page"
    screenshot(page, f"eligibility-stop-{lang}")

    page.goto(base + "/appeal/check")
    answer_eligibly(page)
    submit(page, next_step)
    assert page.url.endswith("/appeal/new")
    page.fill("#phone", "12345")
    page.fill("#postcode", "13")
    submit(page, file_it)
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#phone").get_attribute("aria-invalid") == "true"
    assert axe_here(page) == [], "appeal form with errors"
    screenshot(page, f"appeal-form-errors-{lang}")

    page.goto(base + "/track")
    page.fill("#case_no", "JL2026-999999")
    page.fill("#access_code", "ABCDEFGHJK")
    submit(page, look_up)
    assert page.locator(".error-summary").is_visible()
    assert axe_here(page) == [], "tracking sign-in with errors"

    page.goto(base + "/bulletin")
    assert axe_here(page) == [], "bulletin index"
    screenshot(page, f"bulletin-index-{lang}")


@pytest.fixture
def elder_phone(browser, live_server):
    """A phone-width visitor in elder mode (axe may inspect the pages)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": WIDTH, "height": 800}, bypass_csp=True)
    context.add_cookies([{"name": "elder", "value": "1", "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_elder_mode_at_phone_width_keeps_the_appeal_form_with_its_errors_on_screen(elder_phone, live_server):
    page = elder_phone
    page.goto(live_server.url + "/appeal/check")
    answer_eligibly(page)
    submit(page, "下一步")
    assert page.locator("html").get_attribute("class") == "elder"
    assert_fits(page)
    page.fill("#email", "a.very.long.mailbox.name.for.testing@subdomain.example.com.cn")
    page.fill("#phone", "0431-888")
    submit(page, "提交申诉")
    assert page.locator(".error-summary").is_visible()
    assert_fits(page)
    assert axe_here(page) == []
    screenshot(page, "appeal-form-errors-elder-375")


@pytest.fixture
def replied_case(live_server, page):
    """An appeal filed through the API and answered by its operator with a long link; (case number, code)."""
    from app.extensions import db
    from cases.models import Appeal
    from workflows import engine

    answer = page.request.post(
        live_server.url + "/api/v1/appeals",
        data=appeal_body(
            complainant_name="孙七",
            phone="13500005555",
            service_number="13500005555",
            postcode="133000",
            address="吉林省延边朝鲜族自治州延吉市光明街道公园路某小区3栋2单元1101室",
            request="退还多收的费用",
            facts="账单明细见 https://service.example.com/bill/detail?id=2026110100012345678&channel=app&from=sms",
        ),
    )
    assert answer.status == 201, answer.text()
    body = answer.json()
    with live_server.app.app_context():
        appeal = db.session.query(Appeal).filter_by(case_no=body["case_no"]).one()
        engine.perform(appeal, "accept", role="clerk")
        engine.perform(appeal, "refer", role="mediator")
        engine.perform(
            appeal,
            "reply",
            role="operator",
            data={"text": "已退费，详见https://service.example.com/refund/notice/2026/11/JL-REFUND-000123456789"},
        )
        db.session.commit()
        db.session.remove()
    return body["case_no"], body["access_code"]


def test_elder_mode_at_phone_width_keeps_the_tracked_case_on_screen(elder_phone, live_server, replied_case):
    page = elder_phone
    page.goto(live_server.url + "/track")
    assert_fits(page)
    page.fill("#case_no", replied_case[0])
    page.fill("#access_code", replied_case[1])
    submit(page, "查询")
    assert page.url.endswith("/track/case")
    assert replied_case[0] in page.locator("main").inner_text()
    assert_fits(page)
    assert axe_here(page) == []
    screenshot(page, "case-replied-elder-375")
