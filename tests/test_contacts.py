"""Phone consultations and walk-in visits: recorded, listed, triaged (Art. 13), and turned into appeals."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from cases import contacts, tracking
from cases.models import Appeal, Contact, utcnow
from tests.conftest import make_user
from tests.factories import make_consultation, staff_appeal_form


def test_a_clerk_records_a_phone_consultation_and_sees_it_masked_in_the_list(client, auth):
    auth.as_role("clerk")
    resp = client.post(
        "/staff/contacts/new",
        data={
            "channel": "phone_consultation",
            "at": "2026-11-20T09:30",
            "topic": "宽带提速咨询",
            "operator": "unicom_jl",
            "person_name": "王五",
            "phone": "13612345678",
            "complained_to_operator": "na",
            "question": "宽带提速政策是什么？",
            "answer": "已解释提速政策。",
        },
    )
    assert resp.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert contact.at == dt.datetime(2026, 11, 20, 1, 30)  # 09:30 Shanghai is 01:30 UTC
    assert contact.complained_to_operator is None and contact.recorded_by_id is not None
    html = client.get("/staff/contacts").get_data(as_text=True)
    assert "宽带提速咨询" in html and "136****5678" in html and "13612345678" not in html
    assert "王*" in html


def test_a_caller_who_skipped_the_operator_is_told_to_complain_there_first_and_it_stays_amake_consultation(
    client, auth
):
    auth.as_role("clerk")
    contact = make_consultation(complained_to_operator=False)
    assert contact.answer == contacts.TRIAGE_ANSWER
    assert not contacts.convertible(contact)
    resp = client.get(f"/staff/contacts/{contact.id}/appeal")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/staff/contacts/{contact.id}")
    assert "先向运营商投诉" in client.get(f"/staff/contacts/{contact.id}").get_data(as_text=True)


def test_the_list_filters_by_channel_date_range_and_operator_and_paginates(client, auth):
    auth.as_role("supervisor")
    base = dt.datetime(2026, 11, 10, 2, 0)
    for i in range(30):
        make_consultation(at=base + dt.timedelta(hours=i), topic=f"咨询{i:02d}")
    make_consultation(channel="visit", at=base, topic="来访甲", operator_id=2)
    # 2026-11-09 20:00 UTC is 2026-11-10 04:00 in Shanghai: inside the 10th, not the 9th
    make_consultation(channel="visit", at=dt.datetime(2026, 11, 9, 20, 0), topic="来访乙", operator_id=2)
    visits = client.get("/staff/contacts?channel=visit").get_data(as_text=True)
    assert "来访甲" in visits and "来访乙" in visits and "咨询00" not in visits
    day = client.get("/staff/contacts?channel=visit&date_from=2026-11-10&date_to=2026-11-10").get_data(as_text=True)
    assert "来访乙" in day
    before = client.get("/staff/contacts?date_to=2026-11-09").get_data(as_text=True)
    assert "来访乙" not in before and "共 0 条" in before
    by_operator = client.get("/staff/contacts?operator=unicom_jl").get_data(as_text=True)
    assert "来访甲" in by_operator and "咨询00" not in by_operator
    first = client.get("/staff/contacts?channel=phone_consultation").get_data(as_text=True)
    second = client.get("/staff/contacts?channel=phone_consultation&page=2").get_data(as_text=True)
    assert "共 30 条" in first and "咨询29" in first and "咨询04" not in first
    assert "咨询04" in second and "咨询29" not in second
    assert client.get("/staff/contacts?date_from=not-a-date&page=-3").status_code == 200


def test_a_bad_submission_is_shown_again_with_the_errors_and_what_was_typed(client, auth):
    auth.as_role("clerk")
    resp = client.post(
        "/staff/contacts/new",
        data={"channel": "callback", "at": "yesterday", "topic": "话费", "phone": "abc", "question": ""},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'value="话费"' in html and "请输入有效的电话号码" in html and "请选择一项" in html
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0


def test_a_phone_intake_becomes_an_appeal_without_retyping_and_the_access_code_is_shown_once(client, auth):
    clerk = auth.as_role("clerk")
    contact = make_consultation(at=dt.datetime(2026, 11, 20, 1, 0))
    form = client.get(f"/staff/contacts/{contact.id}/appeal").get_data(as_text=True)
    assert 'value="李四"' in form and 'value="13912345678"' in form and "套餐外流量被多收费" in form
    assert '<option selected value="cmcc_jl">' in form
    resp = client.post(
        f"/staff/contacts/{contact.id}/appeal",
        data=staff_appeal_form(),
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    appeal = db.session.scalar(sa.select(Appeal))
    assert appeal.channel == "phone" and appeal.status == "received"
    assert appeal.case_no in html and appeal.complainant_name == "李四"
    code = html.split('class="code">')[1].split("<")[0]
    assert tracking.verify_access_code(code, appeal.access_code_hash) and code not in appeal.access_code_hash
    db.session.refresh(contact)
    assert contact.appeal_id == appeal.id
    submit = appeal.events[0]
    assert submit.action == "submit" and submit.actor_id == clerk.id and submit.actor_kind == "staff"
    assert appeal.deadline("decision") is not None
    # converting twice is refused
    assert client.get(f"/staff/contacts/{contact.id}/appeal").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 1


def test_a_visit_becomes_an_appeal_with_the_visit_channel_and_missing_art12_fields_are_asked_for(client, auth):
    auth.as_role("clerk")
    contact = make_consultation(channel="visit", at=utcnow())
    bad = client.post(f"/staff/contacts/{contact.id}/appeal", data={"complainant_name": "李四", "postcode": "12"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "邮政编码应为6位数字" in html and "此项为必填项" in html
    fields = {
        "complainant_name": "李四",
        "phone": "13912345678",
        "address": "吉林省吉林市船营区",
        "postcode": "132000",
        "operator": "unicom_jl",
        "service_type": "broadband",
        "service_number": "0432-1234567",
        "category": "network",
        "event_date": "2026-11-10",
        "operator_complaint_date": "2026-11-11",
        "request": "修复宽带",
        "facts": "断网三天",
        "received_at": "2026-11-20T10:00",
    }
    # the public portal's field rules apply: a number that is neither a mobile nor a fixed line with area code
    wrong = client.post(f"/staff/contacts/{contact.id}/appeal", data={**fields, "phone": "88888888"})
    assert wrong.status_code == 422 and "请填写11位手机号码" in wrong.get_data(as_text=True)
    ok = client.post(f"/staff/contacts/{contact.id}/appeal", data=fields)
    assert ok.status_code == 200
    appeal = db.session.scalar(sa.select(Appeal))
    assert appeal.channel == "visit" and appeal.operator.code == "unicom_jl"


def test_a_mediator_may_read_contacts_but_not_record_them_and_an_operator_sees_none(client, auth):
    make_consultation()
    auth.as_role("mediator")
    assert client.get("/staff/contacts").status_code == 200
    assert client.get("/staff/contacts/new").status_code == 403
    auth.logout()
    make_user("operator")
    auth.login("operator-cmcc_jl")
    assert client.get("/staff/contacts").status_code == 403


def test_an_unknown_contact_or_a_follow_up_call_is_not_shown_as_amake_consultation(client, auth):
    auth.as_role("clerk")
    assert client.get("/staff/contacts/999").status_code == 404


def test_the_contacts_pages_speak_english_when_asked(client, auth):
    auth.as_role("clerk")
    client.set_cookie("lang", "en")
    html = client.get("/staff/contacts/new").get_data(as_text=True)
    assert "Record a phone consultation or walk-in visit" in html and "Complained to the operator first?" in html


def test_absurd_page_numbers_ids_and_dates_are_answered_without_a_server_error(client, auth):
    auth.as_role("clerk")
    assert client.get("/staff/contacts?page=99999999999999999999999").status_code == 200
    assert client.get("/staff/contacts/99999999999999999999999").status_code == 404
    resp = client.get("/staff/contacts?date_from=0001-01-01&date_to=9999-12-31")
    assert resp.status_code == 200 and "日期应在 2000 年至 2099 年之间" in resp.get_data(as_text=True)
    resp = client.post(
        "/staff/contacts/new",
        data={
            "channel": "visit",
            "at": "0001-01-01T00:00",
            "topic": "x",
            "question": "y",
            "complained_to_operator": "na",
        },
    )
    assert resp.status_code == 422
