"""The staff console in a real Chromium: a clerk works a case by keyboard alone, and the console's pages have no
serious accessibility violations."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.conftest import PASSWORD


def tab_to(page, js_test: str, limit: int = 120) -> None:
    """Press Tab until the focused element passes `js_test` (a JS expression over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({js_test}); }})()"):
            return
    raise AssertionError(f"not reachable by Tab: {js_test}")


def sign_in(page, base: str, username: str) -> None:
    """Sign in through the form by keyboard."""
    page.goto(base + "/auth/login")
    tab_to(page, "el.id === 'username'")
    page.keyboard.type(username)
    tab_to(page, "el.id === 'password'")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.fixture
def cases(live_server):
    """Two appeals in the browser server's database: one new, one referred."""
    from app.extensions import db
    from tests.factories import make_appeal

    with live_server.app.app_context():
        fresh = make_appeal(facts="浏览器测试：多扣流量费", service_number="13600000001", phone="13600000001")
        referred = make_appeal(state="referred", service_number="13600000002", phone="13600000002")
        numbers = fresh.case_no, referred.case_no
        db.session.remove()
    return numbers


def test_a_clerk_opens_a_new_appeal_reveals_the_phone_and_accepts_it_by_keyboard(browser, live_server, cases):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server.url, "b_clerk")
        assert page.url.endswith("/staff/")
        tab_to(page, "el.getAttribute('href') === '/staff/queues/new' && el.closest('main')")
        page.keyboard.press("Enter")
        page.wait_for_url("**/staff/queues/new")
        assert "136****0001" in page.locator("main").inner_text()
        screenshot(page, "staff-queue-new")
        tab_to(page, f"el.getAttribute('href') === '/staff/cases/{cases[0]}'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/staff/cases/{cases[0]}")
        assert "13600000001" not in page.locator("#pii-phone").inner_text()

        tab_to(page, "el.type === 'submit' && el.closest('#pii-phone')")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "13600000001" in page.locator("#pii-phone").inner_text()

        tab_to(page, "el.tagName === 'SUMMARY' && el.closest('#action-accept')")
        page.keyboard.press("Enter")
        tab_to(page, "el.id === 'accept-note'")
        page.keyboard.type("材料齐全，予以受理")
        tab_to(page, "el.type === 'submit' && el.closest('#action-accept')")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "已受理" in page.locator("h1").inner_text()
        assert "材料齐全，予以受理" in page.locator("#timeline + ol").inner_text()
        screenshot(page, "staff-case-accepted")
    finally:
        context.close()


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        ("b_clerk", ["/staff/", "/staff/queues/new", "/staff/search?q=JL", "/staff/cases/{0}", "/auth/password"]),
        ("b_supervisor", ["/staff/dashboard", "/staff/cases/{1}", "/staff/audit", "/staff/audit?kind=actions"]),
        ("b_admin", ["/staff/admin/users", "/staff/admin/tokens"]),
    ],
)
def test_the_console_pages_have_no_serious_accessibility_violations(browser, live_server, cases, username, paths):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live_server.url, username)
        cookies = context.cookies()
    finally:
        context.close()
    for path in paths:
        url = live_server.url + path.format(*cases)
        assert axe_violations(browser, url, cookies=cookies) == [], url


def test_rejecting_asks_for_confirmation_first(browser, live_server, cases):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server.url, "b_supervisor")
        page.goto(f"{live_server.url}/staff/cases/{cases[0]}")
        page.click("#action-reject summary")
        page.select_option("#reject-ground", "art10_4")
        questions = []
        page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
        page.click("#action-reject button[type=submit]")
        page.wait_for_timeout(300)
        assert questions and "不予受理" in questions[0]
        assert page.url.endswith(f"/staff/cases/{cases[0]}")  # nothing was sent
        page.once("dialog", lambda d: d.accept())
        with page.expect_navigation():
            page.click("#action-reject button[type=submit]")
        assert "不予受理" in page.locator("h1").inner_text()
    finally:
        context.close()
