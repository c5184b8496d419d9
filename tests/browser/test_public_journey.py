"""The consumer's journey in a real Chromium: by keyboard alone, at phone width, in elder mode, without
horizontal scrolling, and without serious accessibility violations on each page of the journey."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import axe_violations, screenshot

WIDTH = 375


def local_today() -> dt.date:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()


def tab_to(page, js_test: str, limit: int = 80) -> None:
    """Press Tab until the focused element passes `js_test` (a JS expression over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({js_test}); }})()"):
            return
    raise AssertionError(f"not reachable by Tab: {js_test}")


def tab_to_id(page, element_id: str) -> None:
    tab_to(page, f"el.id === {element_id!r}")


def type_date(page, element_id: str, day: dt.date) -> None:
    """Type a date into a date input by keyboard (Chromium's field order is month/day/year here)."""
    tab_to_id(page, element_id)
    page.keyboard.type(day.strftime("%m/%d/%Y"))
    assert page.input_value(f"#{element_id}") == day.isoformat()


def answer(page, question: str, yes: bool) -> None:
    """Answer a yes/no radio group by keyboard: Space picks 'yes', the right arrow 'no'."""
    tab_to_id(page, f"{question}-yes")
    page.keyboard.press("Space" if yes else "ArrowRight")


CULPRITS = """() => {
  const out = [], base = document.body.scrollWidth;
  for (const el of document.querySelectorAll('main *, header *')) {
    const old = el.style.display; el.style.display = 'none';
    if (document.body.scrollWidth < base) out.push(el.tagName + '#' + el.id + '.' + el.className);
    el.style.display = old;
  }
  return out.slice(-4);
}"""


def assert_fits(page) -> None:
    """The page does not scroll sideways; otherwise name the innermost elements that make it too wide."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, (page.url, overflow, page.evaluate(CULPRITS))


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": WIDTH, "height": 800})
    context.add_cookies([{"name": "elder", "value": "1", "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_consumer_files_and_tracks_an_appeal_by_keyboard_alone_on_a_phone_in_elder_mode(phone, live_server, browser):
    page = phone
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("class") == "elder"
    tab_to(page, "el.getAttribute('href') === '/appeal/check'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/appeal/check")
    assert_fits(page)

    today = local_today()
    answer(page, "complained_to_operator", True)
    type_date(page, "complaint_date", today - dt.timedelta(days=20))
    answer(page, "operator_replied", True)
    answer(page, "satisfied", False)
    type_date(page, "event_date", today - dt.timedelta(days=30))
    answer(page, "charging", True)
    answer(page, "court_or_arbitration", False)
    answer(page, "settled_and_performed", False)
    tab_to(page, "el.type === 'submit' && el.textContent.includes('下一步')")
    page.keyboard.press("Enter")
    page.wait_for_url("**/appeal/new")
    assert_fits(page)
    screenshot(page, "appeal-form-elder-375")
    form_cookies = page.context.cookies()

    for field, text in [
        ("complainant_name", "王五"),
        ("phone", "13912345678"),
        ("address", "吉林省吉林市船营区北京路8号"),
        ("postcode", "132011"),
    ]:
        tab_to_id(page, field)
        page.keyboard.type(text)
    tab_to_id(page, "operator")
    page.keyboard.press("ArrowDown")
    tab_to_id(page, "service_type")
    page.keyboard.press("ArrowDown")
    tab_to_id(page, "service_number")
    page.keyboard.type("13912345678")
    for field, text in [("request", "退还多收的费用"), ("facts", "套餐外流量费多收30元，客服答复不予处理。")]:
        tab_to_id(page, field)
        page.keyboard.type(text)
    tab_to_id(page, "pledge")
    page.keyboard.press("Space")
    tab_to(page, "el.type === 'submit' && el.textContent.includes('提交申诉')")
    page.keyboard.press("Enter")
    page.wait_for_url("**/appeal/receipt")

    case_no = page.locator("#case-no").inner_text()
    code = page.locator("#access-code").inner_text().replace(" ", "")  # shown in groups: A3M9 222Y BR
    assert case_no.startswith("JL") and len(code) == 10
    assert_fits(page)
    screenshot(page, "receipt-elder-375")

    tab_to(page, "el.getAttribute('href') === '/track/case'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/track/case")
    assert "已收到您的申诉" in page.locator("main").inner_text()
    assert_fits(page)
    screenshot(page, "case-elder-375")
    case_cookies = page.context.cookies()

    for url, cookies in [
        ("/appeal/check", None),
        ("/appeal/new", form_cookies),
        ("/track", None),
        ("/track/case", case_cookies),
    ]:
        violations = axe_violations(browser, live_server.url + url, cookies=cookies)
        assert violations == [], (url, [(v["id"], v["help"]) for v in violations])


def test_a_failed_submission_moves_nothing_off_screen_and_names_each_error(phone, live_server):
    page = phone
    page.goto(live_server.url + "/track")
    tab_to_id(page, "case_no")
    page.keyboard.type("JL2026-000999")
    tab_to_id(page, "access_code")
    page.keyboard.type("ABCDEFGHJK")
    with page.expect_navigation(wait_until="load"):  # the focus moves on DOMContentLoaded: wait for the new page
        page.keyboard.press("Enter")
    assert "案件编号或查询码不正确" in page.locator(".error-summary").inner_text()
    assert page.locator("#access_code").get_attribute("aria-invalid") == "true"
    # the list of problems takes the focus, so a screen reader reads it first
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert_fits(page)
