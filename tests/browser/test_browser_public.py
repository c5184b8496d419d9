"""The public pages in a real Chromium: Chinese first, accessible, and elder mode at phone width."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, screenshot


def test_the_home_page_opens_in_chinese(live_server, page):
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "申诉" in page.locator("h1").inner_text()
    screenshot(page, "home")


def test_home_page_has_no_serious_accessibility_violations(live_server, browser):
    violations = axe_violations(browser, live_server.url + "/")
    assert violations == [], [(v["id"], v["help"]) for v in violations]


def test_elder_mode_doubles_the_text_without_horizontal_scroll_at_phone_width(live_server, browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(live_server.url + "/")
    size = "parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)"
    normal = page.evaluate(size)
    page.get_by_role("button", name="关怀模式（大字）").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("class") == "elder"
    elder = page.evaluate(size)
    assert elder == 2 * normal
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    screenshot(page, "home-elder-375")
    context.close()


def test_english_is_selectable(live_server, page):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
