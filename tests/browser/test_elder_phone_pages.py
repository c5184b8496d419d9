"""Elder mode (适老化, double text size) at 375 px on the pages each kind of user works with: nothing makes the
page scroll sideways, and codes that are read aloud (case numbers, access codes) never break across lines.
Screenshots of each page go to artifacts/screenshots/elder-375-*.png."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_public_journey import CULPRITS
from tests.conftest import PASSWORD

WIDTH = 375

# Elements that hold a code to read aloud: each must stay on one line.
NOWRAP_CODES = "() => [...document.querySelectorAll('.nowrap, .code, .case-no')].filter(el => el.getClientRects().length > 1).map(el => el.outerHTML.slice(0, 80))"


@pytest.fixture(scope="module")
def elder_cases(live_server):
    """Cases in the states whose pages differ, made in the browser server's database: {state: case_no}."""
    from app.extensions import db
    from tests.factories import make_appeal

    with live_server.app.app_context():
        made = {
            state: make_appeal(state=state, facts="适老化测试：" + "多扣流量费，" * 30).case_no
            for state in ("received", "referred", "replied", "settled", "closed")
        }
        db.session.commit()
    return made


def _elder_page(browser, live_server, username: str | None):
    context = browser.new_context(locale="zh-CN", viewport={"width": WIDTH, "height": 800})
    context.add_cookies([{"name": "elder", "value": "1", "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    if username:
        page.goto(live_server.url + "/auth/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit].primary, form.narrow button[type=submit]")
    return context, page


def _problems(page, name: str) -> list:
    """What is wrong with the page as shown: sideways scroll (with its culprits) or a code broken across lines."""
    assert page.locator("html").get_attribute("class") == "elder", name
    out = []
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        out.append((name, "overflow", overflow, page.evaluate(CULPRITS)))
    broken = page.evaluate(NOWRAP_CODES)
    if broken:
        out.append((name, "code wraps", broken))
    screenshot(page, f"elder-375-{name}")
    return out


def _visit(browser, live_server, username, pages) -> list:
    context, page = _elder_page(browser, live_server, username)
    problems = []
    try:
        for name, path in pages:
            resp = page.goto(live_server.url + path)
            assert resp.status < 400, (path, resp.status)
            problems += _problems(page, name)
    finally:
        context.close()
    return problems


def test_the_staff_pages_fit_a_phone_in_elder_mode(browser, live_server, elder_cases):
    supervisor = [
        ("staff-home", "/staff/"),
        ("staff-queue", "/staff/queues/new"),
        ("staff-case-received", f"/staff/cases/{elder_cases['received']}"),
        ("staff-case-settled", f"/staff/cases/{elder_cases['settled']}"),
        ("staff-search", "/staff/search?q=适老化"),
        ("staff-dashboard", "/staff/dashboard"),
        ("staff-statistics", "/staff/statistics"),
        ("staff-alerts", "/staff/alerts"),
        ("staff-bulletin", "/staff/bulletin"),
        ("staff-password", "/auth/password"),
    ]
    clerk = [("staff-contact-new", "/staff/contacts/new"), ("staff-contacts", "/staff/contacts")]
    mediator = [("staff-case-replied", f"/staff/cases/{elder_cases['replied']}")]
    problems = _visit(browser, live_server, "b_supervisor", supervisor)
    problems += _visit(browser, live_server, "b_clerk", clerk)
    problems += _visit(browser, live_server, "b_mediator", mediator)
    assert problems == []


def test_the_operator_pages_fit_a_phone_in_elder_mode(browser, live_server, elder_cases):
    pages = [
        ("operator-home", "/operator/"),
        ("operator-case-referred", f"/operator/cases/{elder_cases['referred']}"),
        ("operator-case-settled", f"/operator/cases/{elder_cases['settled']}"),
    ]
    problems = _visit(browser, live_server, "b_operator", pages)
    assert problems == []


def test_the_public_pages_fit_a_phone_in_elder_mode(browser, live_server, elder_cases):
    pages = [
        ("public-home", "/"),
        ("public-check", "/appeal/check"),
        ("public-track", "/track"),
        ("public-bulletin", "/bulletin"),
        ("sign-in", "/auth/login"),
    ]
    assert _visit(browser, live_server, None, pages) == []
