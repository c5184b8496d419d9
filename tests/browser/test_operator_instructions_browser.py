"""A liaison in a real Chromium: the mediator refers an urgent case with two instructions; the liaison signs for
it, confirms both instructions and replies with a file; the mediator sees each step. Screenshots at 1366 and
375 px (and elder mode), and of the admin's webhook pages."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_mediator_operator_browser import act, signed_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def accepted_case(live_server):
    """An accepted case of cmcc_jl, marked urgent (the appellant's service is cut off)."""
    from app.extensions import db
    from tests.factories import make_appeal
    from workflows import engine

    with live_server.app.app_context():
        appeal = make_appeal(state="accepted", facts="欠费停机后已缴费仍未恢复", phone="13600003333")
        engine.perform(appeal, "mark_urgent", role="clerk", data={"reason": "service_cut_off"})
        db.session.commit()
        case_no = appeal.case_no
        db.session.remove()
    return case_no


def test_a_liaison_signs_confirms_the_instructions_and_replies_with_a_file(
    browser, live_server, accepted_case, tmp_path
):
    base = live_server.url
    case_no = accepted_case
    contexts = []
    try:
        context, mediator = signed_in(browser, base, "b_mediator")
        contexts.append(context)
        mediator.goto(f"{base}/staff/cases/{case_no}")
        act(mediator, "refer", {"note": "申诉人已停机，请立即处理"}, checks=("restore_service", "keep_records"))
        assert "已转办" in mediator.locator("h1").inner_text()

        context, liaison = signed_in(browser, base, "b_operator")
        contexts.append(context)
        listing = liaison.locator("main table").inner_text()
        assert case_no in listing
        liaison.goto(f"{base}/operator/cases/{case_no}")
        assert "紧急" in liaison.locator("h1").inner_text()
        assert "服务已被中断" in liaison.locator("#urgent-note").inner_text()
        instructions = liaison.locator("#instructions")
        assert "恢复服务" in instructions.inner_text() and "保留通话/账单记录" in instructions.inner_text()
        screenshot(liaison, "operator-instructions-1366")
        with liaison.expect_navigation():
            liaison.get_by_role("button", name="签收").click()
        assert "签收" in liaison.locator("#signed").inner_text()
        for name in ("恢复服务", "保留通话/账单记录"):
            with liaison.expect_navigation():
                liaison.locator("#instructions").get_by_role("button", name=f"确认 {name}").click()
        assert liaison.locator("#instructions").inner_text().count("已于") == 2
        proof = tmp_path / "复机记录.pdf"
        proof.write_bytes(PDF)
        liaison.get_by_label("答复内容").fill("已于今日恢复服务，通话和账单记录已保留。")
        liaison.get_by_label("附件（可选）").set_input_files(str(proof))
        with liaison.expect_navigation():
            liaison.get_by_role("button", name="提交答复").click()
        assert "企业已答复" in liaison.locator("h1").inner_text()
        assert "复机记录.pdf" in liaison.locator("main").inner_text()
        screenshot(liaison, "operator-instructions-replied-1366")
        violations = axe_violations(browser, f"{base}/operator/cases/{case_no}", cookies=liaison.context.cookies())
        assert violations == [], [(v["id"], v["help"]) for v in violations]

        phone = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
        contexts.append(phone)
        phone.add_cookies(liaison.context.cookies())
        small = phone.new_page()
        small.goto(f"{base}/operator/cases/{case_no}")
        assert small.evaluate("document.documentElement.scrollWidth <= 375 + 1")
        screenshot(small, "operator-instructions-375")
        phone.add_cookies([{"name": "elder", "value": "1", "url": base}])
        small.goto(f"{base}/operator/cases/{case_no}")
        screenshot(small, "operator-instructions-375-elder")

        mediator.goto(f"{base}/staff/cases/{case_no}")
        timeline = mediator.locator("#timeline + ol").inner_text()
        for step in ("标记为紧急", "转办", "企业签收", "企业确认指令", "企业答复"):
            assert step in timeline, (step, timeline)
        assert "已于今日恢复服务" in mediator.locator("main").inner_text()
        screenshot(mediator, "mediator-instructions-confirmed-1366")

        context, admin = signed_in(browser, base, "b_admin")
        contexts.append(context)
        admin.goto(f"{base}/staff/admin/webhooks")
        screenshot(admin, "admin-webhooks-1366")
        violations = axe_violations(browser, f"{base}/staff/admin/webhooks", cookies=admin.context.cookies())
        assert violations == [], [(v["id"], v["help"]) for v in violations]
    finally:
        for context in contexts:
            context.close()
