"""The consumer who lost the access code, in a real Chromium at 375 px in elder mode and at 1366 px: phone sign-in →
我的申诉 → add a material (sent in the background, the "已收到 1 份材料" message shown) → rate the closed case →
找回查询码. axe-core finds no serious or critical violation on the new pages; screenshots of each."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_public_journey import assert_fits
from tests.browser.test_what_each_person_sees import PDF, SIZES, in_app, new_page, no_violations


def _cases(live_server, phone: str) -> tuple[str, str]:
    """An open and a closed case filed with the number."""

    def make() -> tuple[str, str]:
        from tests.factories import make_appeal

        return make_appeal(state="referred", phone=phone).case_no, make_appeal(state="closed", phone=phone).case_no

    return in_app(live_server, make)


def _kept_code(live_server, phone: str) -> str:
    """The sign-in code the development SMS backend kept for the number (as the admin's page shows it)."""

    def read() -> str:
        import sqlalchemy as sa

        from app.extensions import db
        from cases.models import Notification

        body = db.session.scalar(
            sa.select(Notification.body)
            .where(Notification.recipient == phone, Notification.event_key.like("phone-code-%"))
            .order_by(Notification.id.desc())
        )
        return re.search(r"验证码是(\d{6})", body).group(1)

    return in_app(live_server, read)


@pytest.fixture
def dev_sms(live_server):
    live_server.app.config["SMS_DEV_BACKEND"] = True
    yield
    live_server.app.config["SMS_DEV_BACKEND"] = False


@pytest.mark.parametrize(("width", "elder"), SIZES)
def test_lost_code_to_phone_sign_in_my_appeals_a_material_and_a_rating(browser, live_server, dev_sms, width, elder):
    phone = f"1361234{width:04d}"
    open_case, closed_case = _cases(live_server, phone)
    page = new_page(browser, live_server, width, elder)
    page.goto(f"{live_server.url}/track")
    page.get_by_role("link", name=re.compile("用手机号码验证")).click()
    page.wait_for_url("**/my/sign-in")
    no_violations(page, "sign-in")
    assert_fits(page)
    screenshot(page, f"my-sign-in-{width}")
    page.fill("#phone", phone)
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_url("**/my/verify")
    assert "如果该号码有申诉记录，验证码已发送" in page.inner_text("main")
    page.fill("#code", "000000" if _kept_code(live_server, phone) != "000000" else "111111")
    page.get_by_role("button", name="验证").click()
    assert "验证码不正确" in page.inner_text("main")
    no_violations(page, "verify with an error")
    screenshot(page, f"my-verify-error-{width}")
    page.fill("#code", _kept_code(live_server, phone))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/my")
    text = page.inner_text("main")
    assert text.index(closed_case) < text.index(open_case) or text.index(open_case) < text.index(closed_case)
    assert "136****" in text and phone not in text
    screenshot(page, f"my-appeals-{width}")
    no_violations(page, "my appeals")
    assert_fits(page)

    # the open case: add a material, sent in the background; the page says it arrived
    page.locator(f"#case-{open_case}").get_by_role("link", name=re.compile("查看进度")).click()
    page.wait_for_url("**/track/case")
    page.set_input_files("#materials", files=[{"name": "账单.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.locator("form[data-background] button[type=submit]").click()
    page.wait_for_selector(".flash-success")
    assert "已收到 1 份材料" in page.inner_text(".flashes")
    assert "账单.pdf" in page.inner_text("main")
    assert page.evaluate("document.querySelectorAll('[id=materials]').length") == 1
    assert "发给我的消息" in page.inner_text("main")
    no_violations(page, "case page after upload")

    # the closed case: rate it
    page.goto(f"{live_server.url}/my")
    page.locator(f"#case-{closed_case}").get_by_role("link", name=re.compile("查看进度")).click()
    page.wait_for_url("**/track/case")
    no_violations(page, "closed case with the rating form")
    assert_fits(page)
    screenshot(page, f"case-rating-form-{width}")
    page.get_by_role("button", name="提交评价").click()
    assert "请选择 1 到 5 分" in page.inner_text("#rating")
    page.check("#score-5")
    page.fill("#comment", "处理及时")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url("**/track/case#rating")
    assert "感谢您的评价" in page.inner_text("main")
    screenshot(page, f"case-rated-{width}")

    # 找回查询码 for the open case: shown once
    page.goto(f"{live_server.url}/my")
    page.locator(f"#case-{open_case}").get_by_role("button", name="找回查询码").click()
    code = page.locator("#access-code").inner_text()
    assert len(code.replace(" ", "")) == 10
    no_violations(page, "new access code")
    assert_fits(page)
    screenshot(page, f"my-new-code-{width}")
