"""The statistics, trends, early-warning and material-recording pages in a real Chromium, at phone and desktop
width (the public bulletin in elder mode too): screenshots, no horizontal scroll, and no serious or critical
axe-core violation."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_mediator_operator_browser import signed_in


@pytest.fixture(scope="module")
def history(live_server):
    """Accepted and settled cases over 2023H1, a published bulletin, and an alert with the cases behind it."""
    from app.extensions import db
    from cases import bulletin
    from cases.models import Appeal
    from tests.factories import make_appeal
    from workflows import jobs

    with live_server.app.app_context():
        if bulletin.published_revision("2023H1") is None:
            states = ("settled", "closed", "accepted", "rejected", "settled")
            for month in range(1, 7):
                for i, state in enumerate(states):
                    make_appeal(
                        state=state,
                        at=dt.datetime(2023, month, 3 + i, 2, 0),
                        operator_code=("cmcc_jl", "unicom_jl", "mvno_jd")[i % 3],
                        category=("charging", "network", "service")[(i + month) % 3],
                        service_number=f"1390000{month:02d}{i:02d}",
                    )
            jobs.rollup_period("2023H1")
            bulletin.publish(bulletin.latest_revision("2023H1"), None)
            db.session.commit()
            week = dt.date(2024, 3, 25)  # twelve quiet weeks, then a week of thirty
            for w in range(13):
                start = dt.datetime.combine(week - dt.timedelta(weeks=12 - w), dt.time(2, 0))
                for i in range(30 if w == 12 else 8):
                    db.session.add(
                        Appeal(
                            case_no=f"AL2024-{w:02d}{i:04d}",
                            status="received",
                            complainant_name="模拟",
                            phone="13800000000",
                            operator_id=1,
                            service_type="mobile",
                            service_number="13800000000",
                            category="charging",
                            received_at=start + dt.timedelta(hours=5 * i),
                        )
                    )
            db.session.commit()
            jobs.raise_alerts(dt.date(2024, 4, 3))
        db.session.remove()
    return live_server


PAGES = (
    ("stats-index", "/staff/statistics?from=2023-01-01&to=2023-06-30"),
    ("stats-alerts", "/staff/alerts"),
    ("stats-alert", "/staff/alerts/1"),
    ("stats-dashboard", "/staff/dashboard"),
)


@pytest.mark.parametrize("width", [375, 1366])
def test_the_supervisors_statistics_pages_at_phone_and_desktop_width(browser, history, width):
    base = history.url
    context, page = signed_in(browser, base, "b_supervisor")
    page.set_viewport_size({"width": width, "height": 900})
    try:
        for name, url in PAGES:
            page.goto(base + url)
            assert page.locator("h1").count() == 1
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (name, width, overflow)
            screenshot(page, f"{name}-{width}")
            if width == 1366:
                assert axe_violations(browser, base + url, cookies=context.cookies()) == [], name
        page.goto(base + "/staff/statistics?from=2023-01-01&to=2023-06-30")
        charts = page.locator("#charts").bounding_box()["y"]
        assert charts < page.locator("#table-summary").bounding_box()["y"]  # the charts come first
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1366])
def test_a_clerk_records_a_paper_item_from_the_counter(browser, history, width):
    from tests.factories import make_appeal

    with history.app.app_context():
        case_no = make_appeal(state="received", service_number=f"137{width:08d}").case_no
    context, page = signed_in(browser, history.url, "b_clerk")
    page.set_viewport_size({"width": width, "height": 900})
    try:
        page.goto(f"{history.url}/staff/cases/{case_no}/materials/record")
        screenshot(page, f"material-record-{width}")
        if width == 1366:
            assert axe_violations(browser, page.url, cookies=context.cookies()) == []
        page.get_by_label("纸质材料（不上传，登记说明）").check()
        page.get_by_label("窗口递交").check()
        page.get_by_label("材料说明").fill("缴费发票原件2张")
        with page.expect_navigation():
            page.get_by_role("button", name="登记材料").click()
        body = page.locator("body").inner_text()
        assert "已登记材料：缴费发票原件2张" in body and "窗口递交" in body
    finally:
        context.close()


def test_the_public_bulletin_with_its_trends_in_elder_mode_at_phone_width(browser, history):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        page.goto(history.url + "/bulletin/2023H1")
        page.get_by_role("button", name="关怀模式（大字）").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("class") == "elder"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        assert page.locator("figure.line-chart").count() == 3
        screenshot(page, "bulletin-period-elder-375")
        page.set_viewport_size({"width": 1366, "height": 900})
        screenshot(page, "bulletin-period-elder-1366")
        assert axe_violations(browser, page.url) == []
    finally:
        context.close()
