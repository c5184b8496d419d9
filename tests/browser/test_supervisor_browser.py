"""The supervisor and the administrator in a real Chromium: the dashboard, reopening a closed case, baselines and
subscriber counts, building and publishing the bulletin (which the public then reads, accessibly), and the
accounts and API tokens pages."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_mediator_operator_browser import act, local_today, signed_in
from tests.browser.test_public_a11y_more import axe_here
from tests.browser.test_public_journey import assert_fits


def current_half_year() -> tuple[str, str]:
    """The half-year containing today (Asia/Shanghai), and the same half a year earlier."""
    today = local_today()
    half = 1 if today.month <= 6 else 2
    return f"{today.year}H{half}", f"{today.year - 1}H{half}"


@pytest.fixture
def closed_case(live_server):
    """A closed case in the browser server's database."""
    from app.extensions import db
    from tests.factories import make_appeal

    with live_server.app.app_context():
        case_no = make_appeal(state="closed", facts="宽带提速未生效", phone="13300003333").case_no
        db.session.remove()
    return case_no


def test_a_supervisor_reopens_a_closed_case_and_publishes_the_bulletin_the_public_then_reads(
    browser, live_server, closed_case
):
    base = live_server.url
    period, year_before = current_half_year()
    context, page = signed_in(browser, base, "b_supervisor")
    try:
        page.goto(base + "/staff/dashboard")
        assert page.get_by_role("heading", name="主管看板").is_visible()
        assert int(page.locator("#state-closed").inner_text()) >= 1
        screenshot(page, "supervisor-dashboard")

        page.goto(f"{base}/staff/cases/{closed_case}")
        assert "已办结" in page.locator("h1").inner_text()
        act(page, "reopen", {"reason": "申诉人反映企业未按答复处理"})
        assert "调解中" in page.locator("h1").inner_text()
        assert "申诉人反映企业未按答复处理" in page.locator("#timeline + ol").inner_text()
        screenshot(page, "supervisor-case-reopened")

        page.goto(base + "/staff/statistics/baselines")
        page.get_by_label("统计期").fill(year_before)
        page.get_by_label("受理用户申诉（件）").fill("40")
        page.get_by_label("达成和解（件）").fill("10")
        with page.expect_navigation():
            page.get_by_role("button", name="保存").click()
        assert f"已保存 {year_before} 的基准数据" in page.locator("body").inner_text()
        assert year_before in page.locator("main table").inner_text()

        page.goto(base + "/staff/statistics/subscribers")
        page.get_by_label("企业").select_option(label="中国移动吉林")
        page.get_by_label("统计期").fill(period)
        page.get_by_label("用户数（户）").fill("12000000")
        with page.expect_navigation():
            page.get_by_role("button", name="保存").click()
        assert "已保存用户数" in page.locator("body").inner_text()
        assert "12000000" in page.locator("main table").inner_text()

        page.goto(base + "/staff/bulletin")
        page.get_by_label("统计期").fill(period)
        with page.expect_navigation():
            page.get_by_role("button", name="立即统计").click()
        assert page.url.endswith(f"/staff/bulletin/{period}")
        paragraph = page.locator(".bulletin-paragraph").inner_text()
        assert "受理" in paragraph and "同比" in paragraph  # the baseline of a year before gives the 同比 clause
        screenshot(page, "supervisor-bulletin-built")
        with page.expect_navigation():
            page.get_by_role("link", name="发布此版本…").click()
        # the confirmation page: the paragraph and a PDF preview first; this half-year has not ended yet
        assert page.locator("#preview-paragraph").inner_text() == paragraph
        pdf = page.request.get(base + page.locator("#preview-pdf").get_attribute("href"))
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        assert "尚未结束" in page.locator("#provisional-warning").inner_text()
        page.set_viewport_size({"width": 1366, "height": 900})
        screenshot(page, "supervisor-publish-confirm-1366")
        violations = axe_violations(browser, page.url, cookies=context.cookies())
        assert violations == [], [(v["id"], v["help"]) for v in violations]
        with page.expect_navigation():
            page.get_by_role("button", name="确认发布").click()  # without the second confirmation
        assert "请勾选确认" in page.locator("#publish-error").inner_text()
        assert page.locator(".published").count() == 0
        page.set_viewport_size({"width": 375, "height": 800})
        assert_fits(page)
        screenshot(page, "supervisor-publish-confirm-error-375")
        page.get_by_label("我确认发布暂定数据").check()
        with page.expect_navigation():
            page.get_by_role("button", name="确认发布").click()
        page.set_viewport_size({"width": 1280, "height": 900})
        assert "已发布" in page.locator(".published").inner_text()
        assert page.get_by_role("link", name="发布此版本…").count() == 0  # a published revision stays as it is

        public = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        try:
            reader = public.new_page()
            reader.goto(base + "/bulletin")
            with reader.expect_navigation():
                reader.locator(f"a[href='/bulletin/{period}']").click()
            assert reader.locator(".bulletin-paragraph").inner_text() == paragraph
            assert "暂定" in reader.locator("#provisional").inner_text()  # published before the period ended
            screenshot(reader, "public-bulletin-period")
        finally:
            public.close()
        phone = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800}, bypass_csp=True)
        try:
            phone.add_cookies([{"name": "elder", "value": "1", "url": base}])
            reader = phone.new_page()
            for url in ("/bulletin", f"/bulletin/{period}"):
                reader.goto(base + url)
                assert_fits(reader)  # the bar charts' labels wrap; wide data tables scroll inside their region
                assert axe_here(reader) == [], url  # ... which the keyboard can reach
            screenshot(reader, "public-bulletin-period-elder-375")
        finally:
            phone.close()
        staff_pages = [f"/staff/bulletin/{period}", "/staff/statistics/baselines", "/staff/statistics/subscribers"]
        for url in staff_pages:
            violations = axe_violations(browser, base + url, cookies=context.cookies())
            assert violations == [], (url, [(v["id"], v["help"], v["nodes"][:2]) for v in violations])
        for url in ("/bulletin", f"/bulletin/{period}"):
            violations = axe_violations(browser, base + url)
            assert violations == [], (url, [(v["id"], v["help"], v["nodes"][:2]) for v in violations])
    finally:
        context.close()


def test_the_administrator_creates_an_account_and_a_token_shown_once_then_deactivates_the_account(browser, live_server):
    base = live_server.url
    context, page = signed_in(browser, base, "b_admin")
    try:
        page.goto(base + "/staff/admin/users")
        form = page.locator("form[action='/staff/admin/users/new']")
        form.get_by_label("用户名").fill("b_new_clerk")
        form.get_by_label("姓名").fill("新受理员")
        form.get_by_label("角色").select_option("clerk")
        form.get_by_label("密码").fill("a long enough password 1")
        with page.expect_navigation():
            form.get_by_role("button", name="创建账户").click()
        row = page.locator("#user-b_new_clerk")
        assert "新受理员" in row.inner_text() and "启用" in row.inner_text()
        screenshot(page, "admin-user-created")

        page.goto(base + "/staff/admin/tokens")
        option = page.locator("#user option", has_text="b_new_clerk")
        page.get_by_label("账户").select_option(option.get_attribute("value"))
        page.get_by_label("用途说明").fill("统计系统对接")
        with page.expect_navigation():
            page.get_by_role("button", name="创建令牌").click()
        token = page.locator("#new-token").inner_text().strip()
        assert len(token) >= 32
        assert "统计系统对接" in page.locator("main table").inner_text()
        screenshot(page, "admin-token-created")
        answer = page.request.get(base + "/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 200
        page.goto(base + "/staff/admin/tokens")
        assert page.locator("#new-token").count() == 0 and token not in page.content()  # shown once only

        page.goto(base + "/staff/admin/users")
        with page.expect_navigation():
            page.locator("#user-b_new_clerk").get_by_role("button", name="停用").click()
        assert "已停用" in page.locator("#user-b_new_clerk").inner_text()
        screenshot(page, "admin-user-deactivated")
        answer = page.request.get(base + "/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 401  # a deactivated account's token no longer opens the API
    finally:
        context.close()
