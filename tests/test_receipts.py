"""One appeal per form, and a receipt that cannot be lost: a second submission of the same form shows the
first receipt; the receipt can be reloaded for a few minutes in the browser that filed (the session cookie
holds a random key, never the code); the SMS and e-mail receipt go through the outbox with the code masked in
the log; on PostgreSQL two submissions of one form at the same moment file one appeal."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import threading
import zlib

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import pii, receipts
from cases.models import Appeal, FilingReceipt, Notification, OutboxJob, utcnow
from tests.conftest import on_postgres
from tests.factories import make_appeal, make_consultation, staff_appeal_form
from tests.test_notifications import sms, smtp  # noqa: F401  (fixtures: a real SMS gateway and SMTP server)
from tests.test_public_portal import form_data, pass_the_check, receipt_codes

TOKEN = "t" * 20 + "RECEIPT-TEST-TOKEN-0001"


def appeals() -> int:
    return db.session.scalar(sa.select(sa.func.count(Appeal.id)))


def file_form(client, token: str = TOKEN, **overrides):
    """Pass the check and submit the form with a one-time token; returns the answer (not followed)."""
    pass_the_check(client)
    return client.post("/appeal/new", data=form_data(form_token=token, **overrides), content_type="multipart/form-data")


def session_payload(client) -> str:
    """The decoded contents of the signed session cookie (itsdangerous: base64, maybe zlib)."""
    cookie = client.get_cookie("session").value
    body = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return (zlib.decompress(raw) if cookie.startswith(".") else raw).decode()


def test_the_form_carries_a_one_time_token(client):
    pass_the_check(client)
    html = client.get("/appeal/new").get_data(as_text=True)
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', html).group(1)
    assert receipts.KEY_RE.fullmatch(token)
    again = client.get("/appeal/new").get_data(as_text=True)
    assert token not in again  # a new form, a new token


def test_a_second_submission_of_the_same_form_shows_the_first_receipt_and_files_nothing(client):
    first = file_form(client)
    assert first.status_code == 302
    case_no, code = receipt_codes(client.get("/appeal/receipt").get_data(as_text=True))
    second = client.post("/appeal/new", data=form_data(form_token=TOKEN), content_type="multipart/form-data")
    assert second.status_code == 302 and second.headers["Location"].endswith("/appeal/receipt")
    page = client.get("/appeal/receipt").get_data(as_text=True)
    assert receipt_codes(page) == (case_no, code)
    assert "没有重复提交" in page
    assert appeals() == 1


def test_a_refused_submission_keeps_the_token_and_the_corrected_form_files_once(client):
    refused = file_form(client, postcode="x")
    assert refused.status_code == 422
    assert f'value="{TOKEN}"' in refused.get_data(as_text=True)  # the page shown again carries the same token
    assert appeals() == 0
    assert client.post("/appeal/new", data=form_data(form_token=TOKEN)).status_code == 302
    assert client.post("/appeal/new", data=form_data(form_token=TOKEN)).status_code == 302
    assert appeals() == 1


def test_a_rejected_file_frees_the_token(client):
    refused = file_form(client, materials=[(io.BytesIO(b"MZ not a document"), "setup.exe")])
    assert refused.status_code == 415 and appeals() == 0
    assert db.session.scalar(sa.select(sa.func.count(FilingReceipt.id))) == 0  # rolled back with the filing
    assert client.post("/appeal/new", data=form_data(form_token=TOKEN)).status_code == 302
    assert appeals() == 1


def test_the_receipt_reloads_for_a_few_minutes_and_the_cookie_never_holds_the_code(client):
    file_form(client)
    case_no, code = receipt_codes(client.get("/appeal/receipt").get_data(as_text=True))
    reload = client.get("/appeal/receipt")
    assert reload.status_code == 200 and receipt_codes(reload.get_data(as_text=True)) == (case_no, code)
    assert "no-store" in reload.headers["Cache-Control"]
    assert code not in session_payload(client) and TOKEN in session_payload(client)
    # the stored record does not hold the code in clear either
    record = db.session.scalar(sa.select(FilingReceipt))
    stored = b"".join(v for v in (record.sealed_code, record.notice_code) if v)
    assert code.encode() not in stored and TOKEN not in record.key_hash
    assert receipts.unseal("another key", b"receipt", record.sealed_code) is None
    # past the window the page sends the consumer to the case page and says where the code went
    record.created_at = utcnow() - dt.timedelta(minutes=receipts.RECEIPT_MINUTES + 1)
    db.session.commit()
    late = client.get("/appeal/receipt")
    assert late.status_code == 302 and late.headers["Location"].endswith("/track/case")
    case_page = client.get("/track/case", follow_redirects=True).get_data(as_text=True)
    assert "短信" in case_page and code not in case_page


def test_another_browser_cannot_open_the_receipt(client, app):
    file_form(client)
    other = app.test_client()
    resp = other.get("/appeal/receipt")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/track")


def test_the_receipt_page_groups_the_code_for_reading_aloud_and_can_be_printed(client):
    file_form(client)
    html = client.get("/appeal/receipt").get_data(as_text=True)
    _case_no, code = receipt_codes(html)
    grouped = re.search(r'id="access-code"[^>]*>([^<]+)<', html).group(1)
    assert grouped == f"{code[:4]} {code[4:8]} {code[8:]}"
    assert f'<span class="sr-only">{" ".join(code[:4])}, {" ".join(code[4:8])}, {" ".join(code[8:])}</span>' in html
    assert 'class="code nowrap" id="case-no"' in html and "data-print" in html
    assert "0431-88888888" not in html and pii.mask_phone("0431-88888888") in html  # where the SMS goes, masked


def test_the_receipt_goes_by_sms_and_email_with_the_code_masked_in_the_log(client, app, sms, smtp):  # noqa: F811
    file_form(client)
    _case_no, code = receipt_codes(client.get("/appeal/receipt").get_data(as_text=True))
    grouped = receipts.group_code(code)
    texts = [m["json"]["text"] for m in sms.received]
    assert len(texts) == 1 and grouped in texts[0] and "查询码" in texts[0]
    assert len(smtp.messages) == 1 and grouped in smtp.messages[0].get_content()
    logged = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
    assert {n.channel for n in logged} == {"sms", "email"} and all(n.status == "sent" for n in logged)
    assert all(grouped not in n.body and "*" * len(grouped) in n.body for n in logged)
    job = db.session.scalar(sa.select(OutboxJob).where(OutboxJob.name == "send_receipt"))
    assert job.status == "done" and code not in str(job.args)
    assert db.session.scalar(sa.select(FilingReceipt.notice_code)) is None  # the SMS's copy is forgotten


def test_purge_forgets_receipts_no_longer_shown_and_keys_past_their_window(client):
    file_form(client)
    record = db.session.scalar(sa.select(FilingReceipt))
    record.created_at = utcnow() - dt.timedelta(minutes=receipts.RECEIPT_MINUTES + 1)
    db.session.commit()
    assert receipts.purge()["receipts_cleared"] == 1
    db.session.commit()
    assert db.session.scalar(sa.select(FilingReceipt.sealed_code)) is None
    assert receipts.find("form", TOKEN) is not None  # a second submission still finds the case
    record = db.session.scalar(sa.select(FilingReceipt))
    record.created_at = utcnow() - dt.timedelta(hours=receipts.KEEP_HOURS + 1)
    db.session.commit()
    assert receipts.purge()["keys_removed"] == 1


def test_an_api_key_reused_with_other_content_is_refused(app):
    """The record the API's Idempotency-Key will use: same content finds the case, other content is refused."""
    appeal = make_appeal()
    record = receipts.claim("api", "client-key-1", receipts.fingerprint({"facts": "多扣费"}))
    receipts.complete(record, appeal, "ABCDEFGHJK", key="client-key-1", app_secret="s")
    db.session.commit()
    assert receipts.replay("api", "client-key-1", receipts.fingerprint({"facts": "多扣费"})) == appeal
    with pytest.raises(receipts.KeyReused):
        receipts.replay("api", "client-key-1", receipts.fingerprint({"facts": "另一件事"}))
    assert receipts.replay("form", "client-key-1") is None  # scopes do not mix


@pytest.mark.skipif(not on_postgres, reason="concurrent transactions need PostgreSQL")
def test_two_submissions_of_one_form_at_the_same_moment_file_one_appeal(app):
    """Two browsers' worth of requests (same session, same token) race; the unique key lets one file."""
    clients = [app.test_client() for _ in range(2)]
    pass_the_check(clients[0])
    clients[1].set_cookie("session", clients[0].get_cookie("session").value)
    start = threading.Barrier(2)
    answers = []

    def submit(c):
        with app.app_context():
            start.wait()
            answers.append(c.post("/appeal/new", data=form_data(form_token=TOKEN)))

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a.status_code for a in answers] == [302, 302]
    assert all(a.headers["Location"].endswith("/appeal/receipt") for a in answers)
    db.session.expire_all()
    assert appeals() == 1


def test_an_appeal_staff_file_for_a_caller_sends_the_same_receipt_by_sms_and_email(client, auth, sms, smtp):  # noqa: F811
    """A consultation turned into an appeal by a clerk: the appellant gets the case number and access code by SMS
    and e-mail, the code masked in the log and forgotten once sent; the clerk's page says where it went."""
    auth.as_role("clerk")
    contact = make_consultation(topic="流量费")
    data = staff_appeal_form(email="lisi@example.cn", facts="套餐外流量被多收费")
    resp = client.post(f"/staff/contacts/{contact.id}/appeal", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:1500]
    code = html.split('class="code">')[1].split("<")[0]
    appeal = db.session.scalar(sa.select(Appeal))
    assert 'id="receipt-sent"' in html and pii.mask_phone("13912345678") in html and "13912345678" not in html
    grouped = receipts.group_code(code)
    texts = [m["json"]["text"] for m in sms.received]
    assert len(texts) == 1 and grouped in texts[0] and appeal.case_no in texts[0]
    assert sms.received[0]["json"]["to"] == "13912345678"
    assert len(smtp.messages) == 1 and grouped in smtp.messages[0].get_content()
    logged = db.session.scalars(sa.select(Notification)).all()
    assert {n.channel for n in logged} == {"sms", "email"} and all(grouped not in n.body for n in logged)
    record = db.session.scalar(sa.select(FilingReceipt))
    assert record.scope == "staff" and record.appeal_id == appeal.id
    assert record.notice_code is None and record.sealed_code is None  # sent, and no receipt page to reload
