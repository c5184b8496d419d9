"""Personal data never reaches the logs, and the consumer's access code is kept only as a hash."""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.extensions import db
from cases import accounts
from cases.models import Appeal, Notification, OutboxJob
from tests.conftest import make_user

PHONE = "13987650123"
ID_NUMBER = "220102198805056788"
EMAIL = "wang.privacy@example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _RefusingServer:
    """An aiosmtpd handler that refuses every recipient (a mailbox that does not exist)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable"


@pytest.fixture
def refusing_smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 that refuses every recipient, and the app configured to use it."""
    controller = Controller(_RefusingServer(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    yield controller
    controller.stop()


def appeal_body(**overrides) -> dict:
    """A complete, eligible appeal for the public API, with the distinctive personal data."""
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
    body = {
        "complainant_name": "王隐私",
        "phone": PHONE,
        "id_number": ID_NUMBER,
        "email": EMAIL,
        "address": "吉林省长春市朝阳区隐私路1号",
        "postcode": "130000",
        "operator": "cmcc_jl",
        "service_type": "mobile",
        "service_number": PHONE,
        "category": "charging",
        "event_date": (today - dt.timedelta(days=30)).isoformat(),
        "operator_complaint_date": (today - dt.timedelta(days=20)).isoformat(),
        "request": "退费",
        "facts": "多扣流量费",
        "pledge": True,
        "eligibility": {
            "complained_to_operator": True,
            "operator_replied": True,
            "satisfied": False,
            "court_or_arbitration": False,
            "settled_and_performed": False,
        },
    }
    body.update(overrides)
    return body


def test_a_whole_journey_with_failures_logs_no_phone_id_number_email_or_access_code(  # noqa: PLR0915
    app, client, auth, caplog, refusing_smtp
):
    caplog.set_level(logging.DEBUG)  # the root logger: every record of every library and of the app

    filed = client.post("/api/v1/appeals", json=appeal_body())
    assert filed.status_code == 201, filed.get_json()
    case_no, code = filed.get_json()["case_no"], filed.get_json()["access_code"]

    # the consumer tracks the case (API and web), with a wrong code and an unknown case on the way
    assert client.get(f"/api/v1/appeals/{case_no}", headers={"X-Access-Code": code}).status_code == 200
    assert client.get(f"/api/v1/appeals/{case_no}", headers={"X-Access-Code": "AAAAAAAAAA"}).status_code == 404
    assert client.get("/api/v1/appeals/JL2026-999999", headers={"X-Access-Code": code}).status_code == 404
    assert client.post("/track", data={"case_no": case_no, "access_code": code}).status_code == 302
    # a refused appeal (422) that carries the same personal data
    assert client.post("/api/v1/appeals", json=appeal_body(postcode="1")).status_code == 422
    # someone types the phone number and the access code into the staff sign-in
    assert client.post("/auth/login", data={"username": PHONE, "password": code}).status_code == 200

    # the clerk looks the case up by phone, shows the personal data in full and accepts it
    clerk = auth.as_role("clerk")
    assert PHONE in client.get(f"/staff/search?q={PHONE}").get_data(as_text=True)
    assert ID_NUMBER in client.post(f"/staff/cases/{case_no}/reveal", data={"field": "all"}).get_data(as_text=True)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    resp = client.post(f"/staff/cases/{case_no}/actions/accept", data={"accept-version": appeal.version})
    assert resp.status_code == 302
    assert client.get("/staff/cases/JL2026-999999").status_code == 404

    # the mediator takes and refers it: the consumer's notification e-mail is refused by the mail server
    auth.logout()
    auth.as_role("mediator")
    db.session.expire_all()
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    assert client.post(f"/staff/cases/{case_no}/take", data={"version": appeal.version}).status_code == 302
    db.session.expire_all()
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    resp = client.post(f"/staff/cases/{case_no}/actions/refer", data={"refer-version": appeal.version})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(Appeal.status).where(Appeal.case_no == case_no)) == "referred"
    failed_jobs = db.session.scalars(sa.select(OutboxJob).where(OutboxJob.status != "done")).all()
    assert failed_jobs, "the refused e-mail makes the notification job fail (and log it)"

    # the consumer phones in (a consultation with the phone number, one refused for a missing topic)
    auth.logout()
    assert auth.login(clerk.username).status_code == 302
    consultation = {
        "channel": "phone_consultation",
        "at": "2026-11-20T09:30",
        "topic": "进度咨询",
        "operator": "cmcc_jl",
        "person_name": "王隐私",
        "phone": PHONE,
        "complained_to_operator": "yes",
        "question": f"询问{case_no}的进度",
    }
    assert client.post("/staff/contacts/new", data=consultation).status_code == 302
    assert client.post("/staff/contacts/new", data={**consultation, "topic": ""}).status_code == 422

    # the staff API finds the case by phone; the operator's liaison replies through the API
    _token, secret = accounts.create_token(clerk, "隐私测试")
    db.session.commit()
    found = client.get(f"/api/v1/cases?q={PHONE}", headers={"Authorization": f"Bearer {secret}"})
    assert found.status_code == 200 and found.get_json()["items"]
    liaison = make_user("operator", "privacy-liaison")
    _token, secret = accounts.create_token(liaison, "企业对接")
    db.session.commit()
    replied = client.post(
        f"/api/v1/cases/{case_no}/actions/reply",
        json={"text": "已核实并退费"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert replied.status_code == 200, replied.get_json()

    # the consumer signs in with the phone (SMS through the development backend): a wrong code, the right one,
    # 我的申诉, the case, and a new access code (找回查询码)
    auth.logout()
    app.config["SMS_DEV_BACKEND"] = True
    try:
        assert client.post("/my/sign-in", data={"phone": PHONE}).status_code == 302
        assert client.post("/my/verify", data={"code": "000000"}).status_code in (302, 422)
        kept = db.session.scalar(sa.select(Notification.body).where(Notification.event_key.like("phone-code-%")))
        sign_in_code = re.search(r"验证码是(\d{6})", kept).group(1)
        assert client.post("/my/verify", data={"code": sign_in_code}).status_code == 302
        assert case_no in client.get("/my").get_data(as_text=True)
        assert client.get(f"/my/cases/{case_no}").status_code == 302
        reissued = client.post(f"/my/cases/{case_no}/access-code").get_data(as_text=True)
        new_code = re.search(r'id="access-code"[^>]*>([^<]+)<', reissued).group(1).replace(" ", "")
        # and through the API: a code by SMS, a wrong one, the token, the case with it
        from app.extensions import limiter

        limiter.reset()  # past the number's one-a-minute limit
        assert client.post("/api/v1/consumer/verification", json={"phone": PHONE}).status_code == 202
        bad = client.post("/api/v1/consumer/sessions", json={"phone": PHONE, "code": "000000"})
        assert bad.status_code in (201, 401)
        kept = db.session.scalar(
            sa.select(Notification.body)
            .where(Notification.event_key.like("phone-code-%"))
            .order_by(Notification.id.desc())
        )
        api_code = re.search(r"验证码是(\d{6})", kept).group(1)
        token = client.post("/api/v1/consumer/sessions", json={"phone": PHONE, "code": api_code}).get_json()["token"]
        assert client.get(f"/api/v1/appeals/{case_no}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        app.config["SMS_DEV_BACKEND"] = False

    records = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test's own mail server
    assert any(r.levelno >= logging.WARNING for r in records), "the failures above were logged"
    assert any("development SMS backend" in r.getMessage() for r in records)
    leaks = [
        (r.name, r.levelname, secret)
        for r in records
        for secret in (PHONE, ID_NUMBER, EMAIL, code, sign_in_code, new_code, api_code, token)
        if secret in r.getMessage() or secret in (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
    ]
    assert leaks == []


def test_the_access_code_is_stored_only_as_a_salted_hash(app, client):
    filed = client.post("/api/v1/appeals", json=appeal_body())
    assert filed.status_code == 201
    case_no, code = filed.get_json()["case_no"], filed.get_json()["access_code"]
    row = db.session.execute(sa.select(Appeal.__table__).where(Appeal.__table__.c.case_no == case_no)).one()
    values = [str(v) for v in row._mapping.values() if v is not None]
    assert not any(code in v for v in values)
    assert row.access_code_hash.startswith("hmac_sha256$")
    algorithm, salt, digest = row.access_code_hash.split("$")
    assert len(bytes.fromhex(salt)) == 16 and len(digest) == 64 and code not in digest
    # two appeals never share a hash, even for the same code, because of the salt
    other = client.post("/api/v1/appeals", json=appeal_body()).get_json()
    other_hash = db.session.scalar(sa.select(Appeal.access_code_hash).where(Appeal.case_no == other["case_no"]))
    assert other_hash != row.access_code_hash
