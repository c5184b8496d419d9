"""The consumer's journey on the portal: check, form, receipt, tracking, materials, withdrawal, language, elder mode."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.public import casefile
from cases import tracking
from cases.models import Appeal, CaseEvent, EligibilityStop, Material
from workflows import engine

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 100


def today() -> dt.date:
    return casefile.today_local()


def check_answers(**overrides) -> dict:
    """Answers that pass the eligibility check."""
    data = {
        "complained_to_operator": "yes",
        "complaint_date": (today() - dt.timedelta(days=20)).isoformat(),
        "operator_replied": "yes",
        "satisfied": "no",
        "event_date": (today() - dt.timedelta(days=30)).isoformat(),
        "charging": "yes",
        "court_or_arbitration": "no",
        "settled_and_performed": "no",
    }
    data.update(overrides)
    return data


def form_data(**overrides) -> dict:
    """A complete, valid appeal form."""
    data = {
        "complainant_name": "李四",
        "phone": "0431-88888888",
        "id_number": "11010519491231002X",
        "address": "吉林省长春市南关区解放大路2号",
        "postcode": "130041",
        "email": "lisi@example.com",
        "operator": "unicom_jl",
        "service_type": "broadband",
        "service_number": "KD0431123456",
        "category": "charging",
        "event_date": (today() - dt.timedelta(days=30)).isoformat(),
        "operator_complaint_date": (today() - dt.timedelta(days=20)).isoformat(),
        "operator_ticket_no": "LT-2026-778",
        "request": "退还宽带费用",
        "facts": "宽带断网两周仍照常收费。",
        "pledge": "y",
    }
    data.update(overrides)
    return data


def pass_the_check(client, **overrides):
    resp = client.post("/appeal/check", data=check_answers(**overrides))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/appeal/new"), resp.get_data(as_text=True)
    return resp


def file_through_the_portal(client, files=None, **overrides) -> str:
    """Pass the check, submit the form, follow to the receipt; returns the receipt page."""
    pass_the_check(client)
    data = form_data(**overrides)
    if files:
        data["materials"] = files
    resp = client.post("/appeal/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    receipt = client.get(resp.headers["Location"])
    assert receipt.status_code == 200
    return receipt.get_data(as_text=True)


def receipt_codes(html: str) -> tuple[str, str]:
    case_no = re.search(r'id="case-no">([^<]+)<', html).group(1)
    code = re.search(r'id="access-code"[^>]*>([^<]+)<', html).group(1).replace(" ", "")
    return case_no, code


def open_case(client, case_no: str, code: str):
    return client.post("/track", data={"case_no": case_no, "access_code": code})


def test_the_home_page_explains_the_process_and_leads_to_the_check_and_tracking(client):
    html = client.get("/").get_data(as_text=True)
    assert "我要申诉" in html and "查询进度" in html
    assert 'href="/appeal/check"' in html and 'href="/track"' in html
    assert "5个工作日" in html and "15日" in html


def test_a_consumer_files_an_appeal_and_sees_the_case_number_and_access_code(client):
    html = file_through_the_portal(client)
    case_no, code = receipt_codes(html)
    assert re.fullmatch(r"JL\d{4}-\d{6}", case_no)
    assert re.fullmatch(f"[{tracking.ALPHABET}]{{10}}", code)
    assert "无法找回" not in html and "找回查询码" not in html and "我的申诉" in html
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    assert appeal.channel == "online" and appeal.status == "received"
    assert appeal.phone == "0431-88888888" and appeal.operator.code == "unicom_jl"
    assert [e.action for e in appeal.events] == ["submit"]
    # only a salted keyed hash is stored, and it verifies
    assert code not in appeal.access_code_hash and appeal.access_code_hash.startswith(f"{tracking.SCHEME}$")
    assert tracking.verify_access_code(code, appeal.access_code_hash)
    assert "no-store" in client.get("/track/case").headers.get("Cache-Control", "")


def test_the_form_is_reached_only_through_the_eligibility_check(client):
    resp = client.get("/appeal/new")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/appeal/check")
    assert client.post("/appeal/new", data=form_data()).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 0


def test_the_check_answers_are_carried_to_the_form(client):
    pass_the_check(client)
    html = client.get("/appeal/new").get_data(as_text=True)
    assert f'value="{(today() - dt.timedelta(days=30)).isoformat()}"' in html
    assert f'value="{(today() - dt.timedelta(days=20)).isoformat()}"' in html
    assert '<option selected value="charging">' in html
    # the form does not ask the eligibility questions again
    assert "complained_to_operator" not in html


def test_a_failed_submission_keeps_what_was_typed_shows_each_error_and_asks_to_rechoose_files(client):
    pass_the_check(client)
    data = form_data(phone="12345", postcode="13004", facts="", materials=(io.BytesIO(PDF), "bill.pdf"))
    resp = client.post("/appeal/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'value="李四"' in html and "宽带断网" not in html.split('id="facts"')[1][:20]
    assert 'value="12345"' in html and 'aria-invalid="true"' in html
    assert 'id="phone-error"' in html and 'id="postcode-error"' in html and 'id="facts-error"' in html
    assert "请重新选择文件" in html
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 0


def test_files_chosen_with_the_appeal_become_one_material_each(client, upload_dir):
    html = file_through_the_portal(client, files=[(io.BytesIO(PDF), "账单.pdf"), (io.BytesIO(PDF + b"2"), "b.pdf")])
    case_no, _ = receipt_codes(html)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    assert [m.original_name for m in appeal.materials] == ["账单.pdf", "b.pdf"]
    assert appeal.materials[0].sha256 == hashlib.sha256(PDF).hexdigest()
    assert all((upload_dir / m.stored_name).read_bytes().startswith(b"%PDF") for m in appeal.materials)


def test_a_refused_file_on_the_form_is_a_clear_error_and_nothing_is_kept(client, upload_dir):
    pass_the_check(client)
    upload_dir.mkdir(parents=True, exist_ok=True)
    before = set(upload_dir.iterdir())
    data = form_data(materials=[(io.BytesIO(PDF), "ok.pdf"), (io.BytesIO(ELF), "invoice.pdf")])
    resp = client.post("/appeal/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 415
    html = resp.get_data(as_text=True)
    assert "不支持这种文件类型" in html and 'id="materials-error"' in html and "请重新选择文件" in html
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0
    assert set(upload_dir.iterdir()) == before


def test_tracking_shows_the_state_in_plain_words_the_public_timeline_deadlines_and_materials(client):
    case_no, code = receipt_codes(file_through_the_portal(client, files=[(io.BytesIO(PDF), "证据.pdf")]))
    client.post("/track/exit")
    resp = open_case(client, case_no, code)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/track/case")
    html = client.get("/track/case").get_data(as_text=True)
    assert "已收到您的申诉，正在审核是否受理。" in html
    assert "提交申诉" in html and "受理决定" in html and "进行中" in html
    assert "证据.pdf" in html
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    db.session.add(
        Material(appeal=appeal, original_name="企业内部记录.pdf", size=10, sha256="0" * 64, source="operator")
    )
    db.session.add(Material(appeal=appeal, original_name="来信扫描.pdf", size=10, sha256="1" * 64, source="staff"))
    db.session.commit()
    html = client.get("/track/case").get_data(as_text=True)
    assert "来信扫描.pdf" in html and "企业内部记录.pdf" not in html
    assert "退出查询" in html and "撤回申诉" in html


def test_the_clerk_rejects_under_art_11_1_and_the_consumer_sees_the_reason_but_no_staff_note(client):
    case_no, code = receipt_codes(file_through_the_portal(client))
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    db.session.add(CaseEvent(appeal=appeal, action="note", details={"note": "内部备注：疑似重复"}, internal=True))
    engine.perform(appeal, "reject", role="clerk", data={"ground": "art11_1", "explanation": "事发已超过五个月。"})
    db.session.commit()
    html = client.get("/track/case").get_data(as_text=True)
    assert "您的申诉不予受理" in html and "超过申诉时限" in html and "事发已超过五个月。" in html
    assert "内部备注" not in html and "疑似重复" not in html
    assert "撤回申诉" not in html and "补充材料" not in html


def test_a_wrong_code_and_an_unknown_case_number_get_the_same_answer_and_the_same_work(client, monkeypatch):
    case_no, code = receipt_codes(file_through_the_portal(client))
    client.post("/track/exit")
    client.get("/")  # shows and clears the flash message
    calls = []
    real = tracking._keyed
    monkeypatch.setattr(tracking, "_keyed", lambda *a: calls.append(len(a[1])) or real(*a))
    wrong = open_case(client, case_no, "ABCDEFGHJK")
    unknown = open_case(client, "JL2026-999999", "ABCDEFGHJK")
    assert wrong.status_code == unknown.status_code == 422
    body = lambda r: r.get_data(as_text=True).replace("JL2026-999999", case_no)  # noqa: E731
    assert body(wrong) == body(unknown) and "案件编号或查询码不正确" in body(wrong)
    assert calls == [16, 16]  # one keyed hash each, over a salt of the same length
    assert client.get("/track/case").status_code == 302


def test_repeated_failed_lookups_are_slowed_down_but_successful_ones_are_not(client):
    case_no, code = receipt_codes(file_through_the_portal(client))
    for _ in range(12):
        assert open_case(client, case_no, code).status_code == 302
    for _ in range(10):
        assert open_case(client, case_no, "WRONGCODE2").status_code == 422
    blocked = open_case(client, case_no, code)
    assert blocked.status_code == 429 and "操作过于频繁" in blocked.get_data(as_text=True)


def test_a_consumer_adds_materials_from_the_tracking_page_and_a_waiting_case_goes_back_to_review(client):
    case_no, code = receipt_codes(file_through_the_portal(client))
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    engine.perform(appeal, "request_materials", role="clerk", data={"missing": "话费账单"})
    db.session.commit()
    html = client.get("/track/case").get_data(as_text=True)
    assert "请补充：话费账单" in html and "暂停计时" in html
    resp = client.post(
        "/track/materials", data={"materials": [(io.BytesIO(PDF), "bill.pdf")]}, content_type="multipart/form-data"
    )
    assert resp.status_code == 302
    db.session.refresh(appeal)
    assert appeal.status == "received" and [m.original_name for m in appeal.materials] == ["bill.pdf"]
    assert appeal.events[-1].action == "receive_materials" and appeal.events[-1].actor_kind == "consumer"
    assert "已收到 1 份材料" in client.get("/track/case").get_data(as_text=True)


def test_a_refused_material_on_the_tracking_page_is_explained(client):
    receipt_codes(file_through_the_portal(client))
    resp = client.post(
        "/track/materials",
        data={"materials": [(io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "pic.png")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 415 and "不支持这种文件类型" in resp.get_data(as_text=True)
    empty = client.post("/track/materials", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择要上传的文件" in empty.get_data(as_text=True)


def test_withdrawal_asks_for_a_reason_then_a_confirmation(client):
    case_no, _ = receipt_codes(file_through_the_portal(client))
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    assert client.get("/track/withdraw").status_code == 200
    assert client.post("/track/withdraw", data={"reason": " "}).status_code == 422
    confirm = client.post("/track/withdraw", data={"reason": "运营商已退费"})
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "确认撤回" in html and 'name="confirm" value="yes"' in html
    db.session.refresh(appeal)
    assert appeal.status == "received"  # nothing happens before the confirmation
    done = client.post("/track/withdraw", data={"reason": "运营商已退费", "confirm": "yes"})
    assert done.status_code == 302
    db.session.refresh(appeal)
    assert appeal.status == "withdrawn" and appeal.outcome == "withdrawn"
    assert appeal.events[-1].details == {"reason": "运营商已退费"}
    html = client.get("/track/case").get_data(as_text=True)
    assert "申诉已撤回。" in html and "撤回申诉" not in html
    # a closed case takes no more materials and cannot be withdrawn again
    assert client.post("/track/materials", data={}).status_code == 302
    assert client.post("/track/withdraw", data={"reason": "x", "confirm": "yes"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_exit_forgets_the_case_in_this_browser(client):
    file_through_the_portal(client)
    assert client.get("/track/case").status_code == 200
    assert client.post("/track/exit").status_code == 302
    assert client.get("/track/case").status_code == 302
    assert client.get("/track/withdraw").status_code == 302


def test_the_pages_are_in_english_when_chosen(client):
    client.post("/language", data={"lang": "en"})
    home = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in home and "File an appeal" in home and "Track my appeal" in home
    check = client.get("/appeal/check").get_data(as_text=True)
    assert "Have you already complained to the operator" in check
    stop = client.post("/appeal/check", data=check_answers(complained_to_operator="no")).get_data(as_text=True)
    assert "complain to the operator first" in stop and "Art. 10" in stop
    pass_the_check(client)
    form = client.get("/appeal/new").get_data(as_text=True)
    assert "Phone number" in form and "Charging dispute" in form
    bad = client.post("/appeal/new", data=form_data(postcode="x")).get_data(as_text=True)
    assert "6 digits" in bad
    html = file_through_the_portal(client)
    assert "Write down" in html and "get a new code under" in html
    case = client.get("/track/case").get_data(as_text=True)
    assert "We have your appeal and are deciding whether to accept it." in case
    assert "Acceptance decision</strong>: Due " in case  # English punctuation, not full-width


def test_elder_mode_is_a_cookie_and_every_page_keeps_its_labels_and_input_hints(client):
    resp = client.post("/elder-mode", data={"on": "1", "next": "/appeal/check"})
    assert resp.status_code == 302 and "elder=1" in resp.headers["Set-Cookie"]
    check = client.get("/appeal/check").get_data(as_text=True)
    assert re.search(r'<(?:html|body)[^>]*class="[^"]*\belder\b', check)
    pass_the_check(client)
    form = client.get("/appeal/new").get_data(as_text=True)
    assert re.search(r'<(?:html|body)[^>]*class="[^"]*\belder\b', form)
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form):
        if input_id not in ("csrf_token", "form_token"):  # a label names every input (hidden ones aside)
            wrapped = re.search(rf'<label[^>]*>\s*<input[^>]*id="{input_id}"', form)
            assert f'for="{input_id}"' in form or wrapped, input_id
    assert re.search(r'id="postcode"[^>]*inputmode="numeric"|inputmode="numeric"[^>]*id="postcode"', form)
    assert 'autocomplete="tel"' in form and 'autocomplete="postal-code"' in form and 'autocomplete="name"' in form
    assert "<h1>" in form and 'name="viewport"' in form
    css = Path(client.application.static_folder, "css", "public.css").read_text()
    assert ".elder" in css


def test_no_public_page_has_inline_script_or_style(client):
    pages = [client.get(u).get_data(as_text=True) for u in ("/", "/appeal/check", "/track")]
    pass_the_check(client)
    pages.append(client.get("/appeal/new").get_data(as_text=True))
    pages.append(file_through_the_portal(client))
    pages.append(client.get("/track/case").get_data(as_text=True))
    for html in pages:
        assert "style=" not in html and "onclick" not in html.lower()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_eligibility_stops_on_the_form_store_nothing(client):
    pass_the_check(client)
    old = (today() - dt.timedelta(days=200)).isoformat()
    resp = client.post("/appeal/new", data=form_data(event_date=old, operator_complaint_date=old))
    assert resp.status_code == 422 and "五个月" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(EligibilityStop.id))) == 0


def test_an_appeal_taken_by_phone_is_tracked_with_the_code_the_clerk_read_out(client):
    from cases import intake
    from tests.test_validation import valid_fields

    cleaned = intake.clean_appeal(valid_fields(event_date="2026-01-02", operator_complaint_date="2026-01-05"), today())
    filed = intake.file_appeal(cleaned, prefix="JL", channel="phone")
    engine.perform(filed.appeal, "submit", role="clerk")
    db.session.commit()
    spoken = f"{filed.access_code[:4].lower()}-{filed.access_code[4:].lower()}"  # as a consumer may type it
    assert open_case(client, filed.appeal.case_no.lower(), spoken).status_code == 302
    assert "已收到您的申诉" in client.get("/track/case").get_data(as_text=True)
