"""What each person sees, in a real Chromium at 375 and 1366 px (elder mode at 375): the consumer's outcome with
the settlement terms and the progress bar; a double click on submit under a slowed network files one appeal; the
receipt survives a reload and its codes never wrap; typed text survives a language or elder-mode switch; a field
error keeps the chosen files; the operator reads the referral note; the staff console's timeline, dashboard,
search and queue. axe-core finds no serious or critical violation on any of these pages."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_mediator_operator_browser import signed_in
from tests.browser.test_public_a11y_more import answer_eligibly, axe_here
from tests.browser.test_public_journey import assert_fits

CODE = "A3M9222YBR"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SIZES = [pytest.param(375, True, id="375-elder"), pytest.param(1366, False, id="1366")]


def in_app(live_server, fn):
    """Run `fn` against the browser server's database and return what it returns."""
    from app.extensions import db

    with live_server.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def new_page(browser, live_server, width: int, elder: bool = False, lang: str = "zh"):
    """A visitor's page at a width, in elder mode or not (axe may inspect it)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}, bypass_csp=True)
    cookies = [{"name": "elder", "value": "1", "url": live_server.url}] if elder else []
    if lang == "en":
        cookies.append({"name": "lang", "value": "en", "url": live_server.url})
    if cookies:
        context.add_cookies(cookies)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def no_violations(page, what: str) -> None:
    violations = axe_here(page)
    assert violations == [], (what, violations)


def settled_case(live_server) -> str:
    """A settled case with terms, its access code known."""

    def make() -> str:
        from app.extensions import db
        from cases import followups, tracking
        from tests.factories import make_appeal

        appeal = make_appeal(state="settled", facts="套餐外流量多扣48元", phone="13600006666")
        terms = followups.agreed_settlement(appeal)
        terms.apology = True
        terms.other_terms = "赠送10GB国内流量"
        terms.perform_by = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date()
        appeal.access_code_hash = tracking.hash_access_code(CODE)
        db.session.commit()
        return appeal.case_no

    return in_app(live_server, make)


def look_up(page, base: str, case_no: str) -> None:
    page.goto(base + "/track")
    page.fill("#case_no", case_no)
    page.fill("#access_code", CODE)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url.endswith("/track/case")


@pytest.mark.parametrize(("width", "elder"), SIZES)
def test_the_consumer_sees_the_settlement_terms_and_the_progress_bar(browser, live_server, width, elder):
    base = live_server.url
    case_no = settled_case(live_server)
    page = new_page(browser, live_server, width, elder)
    look_up(page, base, case_no)
    assert page.evaluate("document.querySelector('h1 .code').getClientRects().length") == 1  # the case number
    current = page.locator("li.step-current")
    assert current.count() == 1 and current.get_attribute("aria-current") == "step"
    assert "办结" in current.inner_text() and "（当前步骤）" in current.inner_text()
    assert page.locator("li.step-done").count() == 5
    assert "第 6 步（共 6 步）：办结" in page.locator("#progress-summary").inner_text()
    terms = page.locator("#terms").inner_text()
    assert "30.00 元" in terms and "企业向您赔礼道歉" in terms and "赠送10GB国内流量" in terms
    assert page.locator("#perform-by").inner_text().strip() in page.locator("#progress-summary").inner_text()
    assert_fits(page)
    screenshot(page, f"consumer-outcome-{width}{'-elder' if elder else ''}")
    no_violations(page, "tracking page with the outcome")
    if not elder:  # the report reaches the mediator; the page says what happens next
        page.locator("details.report summary").click()
        page.fill("#text", "约定的退费还没有到账")
        with page.expect_navigation():
            page.get_by_role("button", name="反映企业没有履行").click()
        assert "调解员将联系您和企业核实" in page.locator(".flashes").inner_text()
        assert "申诉人反映企业未履行" in page.locator("ol.timeline").inner_text()
        no_violations(page, "tracking page after the report")


def appeal_form(browser, live_server, width: int, elder: bool = False):
    """A visitor past the eligibility check, on the appeal form."""
    page = new_page(browser, live_server, width, elder)
    page.goto(live_server.url + "/appeal/check")
    answer_eligibly(page)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    return page


def fill_appeal(page, facts: str) -> None:
    page.fill("#complainant_name", "周八")
    page.fill("#phone", "13512345678")
    page.fill("#address", "吉林省延吉市公园路1号")
    page.fill("#postcode", "133000")
    page.select_option("#operator", index=1)
    page.select_option("#service_type", "mobile")
    page.fill("#service_number", "13512345678")
    page.fill("#request", "退还多扣的费用")
    page.fill("#facts", facts)
    page.check("#pledge")


def appeals_with(live_server, facts: str) -> int:
    def count() -> int:
        import sqlalchemy as sa

        from app.extensions import db
        from cases.models import Appeal

        return db.session.scalar(sa.select(sa.func.count(Appeal.id)).where(Appeal.facts == facts))

    return in_app(live_server, count)


@pytest.mark.parametrize(("width", "elder"), SIZES)
def test_a_double_click_under_a_slow_network_files_one_appeal_and_the_receipt_survives_a_reload(
    browser, live_server, width, elder
):
    facts = f"双击测试{width}：合约机返费未到账"
    page = appeal_form(browser, live_server, width, elder)
    fill_appeal(page, facts)
    page.set_input_files("#materials", files=[{"name": "账单.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    held = []
    page.route(
        "**/appeal/new", lambda route: held.append(route) if route.request.method == "POST" else route.continue_()
    )
    submit = page.locator("#appeal-form button[type=submit]")
    submit.dblclick()
    for _ in range(50):  # the POST is held: the network is as slow as we like
        if held:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # time for a second request, if the page were to send one
    assert len(held) == 1
    assert submit.is_disabled() and page.locator(".upload-progress").is_visible()
    screenshot(page, f"appeal-form-sending-{width}")
    held[0].continue_()
    page.wait_for_url("**/appeal/receipt")
    page.unroute("**/appeal/new")
    assert appeals_with(live_server, facts) == 1

    case_no = page.locator("#case-no").inner_text()
    code = page.locator("#access-code").inner_text()
    assert len(code.replace(" ", "")) == 10 and code.count(" ") == 2  # grouped for reading aloud
    for element in ("#case-no", "#access-code"):  # one line box each, inside the card: never wrapped or cut
        assert page.evaluate(f"document.querySelector('{element}').getClientRects().length") == 1, element
        inside = "(s) => document.querySelector(s).getBoundingClientRect().right <= "
        inside += "document.querySelector('.receipt').getBoundingClientRect().right - 8"
        assert page.evaluate(inside, element), element
    assert_fits(page)
    screenshot(page, f"receipt-{width}{'-elder' if elder else ''}")
    no_violations(page, "receipt")
    page.reload()
    assert page.locator("#case-no").inner_text() == case_no and page.locator("#access-code").inner_text() == code
    assert page.get_by_role("button", name="打印或保存为PDF").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible() and page.locator("#access-code").is_visible()
    screenshot(page, f"receipt-print-{width}")
    page.emulate_media(media="screen")


def test_typed_text_survives_switching_language_and_elder_mode(browser, live_server):
    page = appeal_form(browser, live_server, 1366)
    facts = "营业厅承诺的宽带提速一直没有生效，多次打客服电话都说在处理。"
    page.fill("#complainant_name", "吴九")
    page.locator("#facts").press_sequentially(facts[:10])
    page.locator("#facts").fill(facts)
    counter = page.locator("#facts-counter").inner_text()
    assert f"已输入 {len(facts)} 字" in counter
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.input_value("#facts") == facts and page.input_value("#complainant_name") == "吴九"
    assert f"{len(facts)} characters typed" in page.locator("#facts-counter").inner_text()
    screenshot(page, "appeal-form-kept-after-english-1366")
    no_violations(page, "appeal form in English with counters")
    with page.expect_navigation():
        page.locator("form[action='/elder-mode'] button").click()
    assert page.locator("html").get_attribute("class") == "elder"
    assert page.input_value("#facts") == facts
    # text over the limit is kept as typed and refused with a message, never cut
    too_long = "长" * 1001
    page.fill("#request", too_long)
    assert page.input_value("#request") == too_long
    assert "too many" in page.locator("#request-counter").inner_text()
    screenshot(page, "appeal-form-over-limit-elder-1366")


@pytest.mark.parametrize(("width", "elder"), SIZES)
def test_a_field_error_keeps_the_chosen_files_and_a_wrong_file_is_named_before_sending(
    browser, live_server, width, elder
):
    facts = f"保留文件测试{width}：流量包未生效"
    page = appeal_form(browser, live_server, width, elder)
    page.set_input_files(
        "#materials", files=[{"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )
    problem = page.locator("#materials-client-error")
    assert "“setup.exe”不是可以上传的文件类型" in problem.inner_text()
    page.set_input_files("#materials", files=[{"name": "截图.png", "mimeType": "image/png", "buffer": PDF}])
    assert problem.is_hidden()
    fill_appeal(page, facts)
    page.fill("#postcode", "13")  # wrong: the server refuses the form
    page.set_input_files("#materials", files=[{"name": "账单.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.locator("#appeal-form button[type=submit]").click()
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.querySelector('#materials').files.length") == 1
    assert "不必重新选择" in page.locator(".files-again").inner_text()
    assert "账单.pdf" in page.locator("#materials-chosen").inner_text()
    assert_fits(page)
    screenshot(page, f"appeal-form-error-files-kept-{width}")
    no_violations(page, "appeal form refused, files kept")
    page.fill("#postcode", "133000")
    page.locator("#appeal-form button[type=submit]").click()
    page.wait_for_url("**/appeal/receipt")
    assert page.locator("dl.facts").inner_text().strip().endswith("1")  # the kept file arrived with the appeal
    assert appeals_with(live_server, facts) == 1


def referred_case_with_terms(live_server) -> str:
    """A case referred to cmcc_jl with a note, answered and settled with a due date."""

    def make() -> str:
        from app.extensions import db
        from tests.factories import make_appeal
        from workflows import engine

        appeal = make_appeal(state="accepted", facts="携号转网被拒", phone="13700007777")
        engine.perform(appeal, "refer", role="mediator", data={"note": "请于三日内联系申诉人，核实携转限制原因。"})
        engine.perform(appeal, "reply", role="operator", data={"text": "已解除限制"})
        engine.perform(appeal, "settle", role="mediator", data={"refund_amount": "20", "perform_by": "2036-12-20"})
        db.session.commit()
        return appeal.case_no

    return in_app(live_server, make)


@pytest.mark.parametrize("width", [375, 1366])
def test_the_operator_reads_the_referral_note_and_the_terms_due(browser, live_server, width):
    base = live_server.url
    case_no = referred_case_with_terms(live_server)
    context, page = signed_in(browser, base, "b_operator")
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/operator/cases/{case_no}")
        assert "请于三日内联系申诉人，核实携转限制原因。" in page.locator("#referral-note").inner_text()
        terms = page.locator("#terms-due").inner_text()
        assert "2036-12-20" in terms and "20.00" in terms
        assert_fits(page)
        screenshot(page, f"operator-referral-note-{width}")
        violations = axe_violations(browser, page.url, cookies=context.cookies())
        assert violations == [], [(v["id"], v["help"]) for v in violations]
    finally:
        context.close()


def test_the_staff_console_timeline_dashboard_search_and_queue(browser, live_server):
    base = live_server.url
    case_no = referred_case_with_terms(live_server)
    context, page = signed_in(browser, base, "b_supervisor")
    try:
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{base}/staff/cases/{case_no}")
        timeline = page.locator("#timeline + ol").inner_text()
        assert "退费/补偿金额（元）：20.00恢复服务：否赔礼道歉：否企业履行期限：2036-12-20" in timeline
        separator = "getComputedStyle(document.querySelector('ul.details li + li'), '::before').content"
        assert page.evaluate(separator) == '"；"'  # read as one line: 退费…：20.00；恢复服务：否；…
        assert "refund_amount" not in timeline and "perform_by" not in timeline
        screenshot(page, "staff-case-timeline-1366")
        pages = [f"/staff/cases/{case_no}", "/staff/dashboard", "/staff/search?q=不存在的词语"]
        page.goto(base + "/staff/dashboard")
        link = page.locator("#state-settled")
        with page.expect_navigation():
            link.click()
        assert case_no in page.locator("main").inner_text()
        pages.append(page.url.removeprefix(base))
        page.goto(base + "/staff/search?q=不存在的词语")
        assert "申诉人姓名" in page.locator("#search-help").inner_text()
        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(base + "/staff/queues/new")
        assert page.locator("details.filters-fold").get_attribute("open") is None  # folded away on a phone
        assert_fits(page)
        screenshot(page, "staff-queue-375")
        pages += [
            "/staff/queues/new",
            "/staff/settlements/unperformed",
            "/staff/dashboard/cases?figure=state&value=settled",
        ]
        for url in pages:
            violations = axe_violations(browser, base + url, cookies=context.cookies())
            assert violations == [], (url, [(v["id"], v["help"]) for v in violations])
    finally:
        context.close()
