"""Phone sign-in (手机号验证), 我的申诉, 找回查询码, the messages list and how the appellant is told, against a real local
HTTP SMS gateway that captures the JSON it receives."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import ConfigurationError
from app.extensions import db
from cases import consumers, tracking
from cases.models import CaseEvent, ConsumerSession, Notification, OutboxJob, PhoneCode, utcnow
from tests.conftest import REDIS_URL, needs_redis
from tests.factories import make_appeal
from tests.test_api_public import redis_app  # noqa: F401  (a second app with its limits in Redis)
from tests.test_notifications import sms, smtp  # noqa: F401  (a real HTTP SMS gateway, a real SMTP server)

PHONE = "13800138000"
OTHER = "13900139000"
ENUM_TEXT = "如果该号码有申诉记录，验证码已发送"


def _codes_sent(gateway, phone: str = PHONE) -> list[str]:
    """The 6-digit codes the gateway received for a number, in order."""
    found = []
    for item in gateway.received:
        if item["json"]["to"] == phone and "验证码" in item["json"]["text"]:
            found.append(re.search(r"验证码是(\d{6})", item["json"]["text"]).group(1))
    return found


def _ask(client, phone: str = PHONE, **extra):
    return client.post("/my/sign-in", data={"phone": phone, **extra})


def _sign_in(client, gateway, phone: str = PHONE):
    assert _ask(client, phone).status_code == 302
    code = _codes_sent(gateway, phone)[-1]
    resp = client.post("/my/verify", data={"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my")
    return resp


def test_the_full_sign_in_lists_the_numbers_appeals_newest_first_and_audits_each_case_opened(app, client, sms):  # noqa: F811
    older = make_appeal(at=utcnow() - dt.timedelta(days=3))
    newer = make_appeal(state="closed", at=utcnow() - dt.timedelta(days=1))
    someone_elses = make_appeal(phone=OTHER)
    resp = _ask(client)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my/verify")
    sent = [r for r in sms.received if "验证码" in r["json"]["text"]]
    assert len(sent) == 1 and sent[0]["auth"] == "Bearer gateway-secret"
    assert sent[0]["json"]["to"] == PHONE and re.search(r"验证码是\d{6}，5分钟内有效", sent[0]["json"]["text"])
    # only the HMAC is kept, and the sealed copy is gone once sent
    row = db.session.scalar(sa.select(PhoneCode))
    code = _codes_sent(sms)[0]
    assert code not in row.code_hash and row.sealed_code is None
    note = db.session.scalar(sa.select(Notification).where(Notification.event_key.like(f"phone-code-{row.id}-%")))
    assert note.status == "sent" and code not in note.body and "******" in note.body

    page = client.get("/my/verify").get_data(as_text=True)
    assert "138****8000" in page and PHONE not in page
    assert client.post("/my/verify", data={"code": code}).status_code == 302
    html = client.get("/my").get_data(as_text=True)
    assert html.index(newer.case_no) < html.index(older.case_no)
    assert someone_elses.case_no not in html
    assert "138****8000" in html

    opened = client.get(f"/my/cases/{older.case_no}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/track/case")
    case_page = client.get("/track/case").get_data(as_text=True)
    assert older.case_no in case_page and "补充材料" in case_page and "撤回申诉" in case_page
    views = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.action == "consumer_view")).all()
    assert [(v.appeal_id, v.actor_kind, v.internal) for v in views] == [(older.id, "consumer", True)]
    # the code is used up: a second sign-in with it fails
    client.post("/my/sign-out")
    client.post("/my/sign-in", data={"phone": PHONE})  # within the minute: refused, no new code
    assert client.get("/my").status_code == 302


def test_the_answer_is_the_same_whether_or_not_the_number_has_appeals_and_no_sms_goes_to_an_unknown_one(
    app,
    client,
    sms,  # noqa: F811
):
    make_appeal()
    known = _ask(client, PHONE)
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    other = app.test_client()
    unknown = _ask(other, "13700137000")
    unknown_page = other.get(unknown.headers["Location"]).get_data(as_text=True)
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert ENUM_TEXT in known_page and ENUM_TEXT in unknown_page
    strip = lambda html: re.sub(r"1[37]\d\*{4}\d{4}|csrf_token[^>]*", "", html)  # noqa: E731
    assert strip(known_page) == strip(unknown_page)
    assert [r["json"]["to"] for r in sms.received if "验证码" in r["json"]["text"]] == [PHONE]
    # the unknown number cannot get in with a guessed code either
    assert other.post("/my/verify", data={"code": "123456"}).status_code == 422


def test_a_wrong_code_is_refused_and_after_five_the_code_is_dead(app, client, sms):  # noqa: F811
    make_appeal()
    _ask(client)
    code = _codes_sent(sms)[0]
    wrong = "000000" if code != "000000" else "111111"
    for _attempt in range(1, 5):
        resp = client.post("/my/verify", data={"code": wrong})
        assert resp.status_code == 422 and "验证码不正确或已过期" in resp.get_data(as_text=True)
    resp = client.post("/my/verify", data={"code": wrong})
    assert resp.status_code == 429 and "错误次数过多" in resp.get_data(as_text=True)
    assert client.post("/my/verify", data={"code": code}).status_code == 429  # even the right one now
    assert client.get("/my").status_code == 302
    bad = client.post("/my/verify", data={"code": "12ab"})
    assert bad.status_code == 422 and "6位数字" in bad.get_data(as_text=True)


def test_an_expired_code_is_refused(app, client, sms):  # noqa: F811
    make_appeal()
    _ask(client)
    code = _codes_sent(sms)[0]
    db.session.execute(sa.update(PhoneCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    resp = client.post("/my/verify", data={"code": code})
    assert resp.status_code == 422 and "已过期" in resp.get_data(as_text=True)


def test_a_new_request_replaces_the_old_code(app, client, sms):  # noqa: F811
    make_appeal()
    _ask(client)
    first = _codes_sent(sms)[0]
    db.session.execute(sa.update(PhoneCode).values(created_at=utcnow() - dt.timedelta(minutes=2)))
    db.session.commit()
    from app.extensions import limiter

    limiter.reset()  # past the per-minute limit of the number
    assert _ask(client).status_code == 302
    second = _codes_sent(sms)[1]
    if first != second:
        assert client.post("/my/verify", data={"code": first}).status_code == 422
    assert client.post("/my/verify", data={"code": second}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 0


def test_requests_are_limited_per_number_and_per_client_address(app, client, sms):  # noqa: F811
    make_appeal()
    assert _ask(client).status_code == 302
    again = _ask(client)
    assert again.status_code == 429 and "过于频繁" in again.get_data(as_text=True)
    assert len(_codes_sent(sms)) == 1
    # the client address: 10 an hour, whatever the numbers
    for n in range(1, 10):
        assert _ask(client, f"1370013{n:04d}").status_code == 302
    refused = _ask(client, "13600136000")
    assert refused.status_code == 429


def test_the_session_is_bound_to_its_number_and_ends_after_thirty_minutes(app, client, sms):  # noqa: F811
    mine = make_appeal()
    theirs = make_appeal(phone=OTHER)
    _sign_in(client, sms)
    assert client.get(f"/my/cases/{theirs.case_no}").status_code == 404
    assert client.get("/my/cases/JL2099-999999").status_code == 404  # the same answer as an unknown case
    assert client.post(f"/my/cases/{theirs.case_no}/access-code").status_code == 404
    assert client.get(f"/my/cases/{mine.case_no}").status_code == 302
    row = db.session.scalar(sa.select(ConsumerSession))
    assert row.phone == PHONE and row.expires_at - row.created_at == dt.timedelta(minutes=30)
    assert client.get("/track/case").status_code == 200
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    resp = client.get("/my")
    assert resp.status_code == 302 and "/my/sign-in" in resp.headers["Location"]
    # the case opened from 我的申诉 ends with the session too
    gone = client.get("/track/case")
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/track")


def test_a_new_access_code_replaces_the_old_one_at_once_and_is_sent_by_sms(app, client, sms):  # noqa: F811
    appeal = make_appeal(notify_by="sms")
    old = "ABCDEFGHJK"
    appeal.access_code_hash = tracking.hash_access_code(old)
    db.session.commit()
    _sign_in(client, sms)
    resp = client.post(f"/my/cases/{appeal.case_no}/access-code")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    new = re.search(r'id="access-code"[^>]*>([^<]+)<', html).group(1).replace(" ", "")
    assert re.fullmatch(f"[{tracking.ALPHABET}]{{10}}", new) and "原查询码已经失效" in html
    assert tracking.find_case(appeal.case_no, old) is None
    assert tracking.find_case(appeal.case_no, new).id == appeal.id
    texts = [r["json"]["text"] for r in sms.received if "新查询码" in r["json"]["text"]]
    assert len(texts) == 1 and " ".join([new[:4], new[4:8], new[8:]]) in texts[0]
    note = db.session.scalar(sa.select(Notification).where(Notification.event_key.like("access-code-%")))
    assert note.status == "sent" and new[:4] not in note.body
    assert db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "access_code_reissued")).internal
    sent = db.session.scalar(sa.select(OutboxJob).where(OutboxJob.name == "send_access_code"))
    assert sent.status == "done" and "sealed" not in sent.args  # the sealed code is not kept once it is out


def test_the_tracking_page_lists_every_message_sent_to_the_appellant(app, client, sms):  # noqa: F811
    appeal = make_appeal(state="accepted")
    _sign_in(client, sms)
    client.get(f"/my/cases/{appeal.case_no}")
    html = client.get("/track/case").get_data(as_text=True)
    assert "发给我的消息" in html and "已受理" in html and "已发送" in html
    assert html.count('id="materials"') <= 1  # the heading no longer shares the file field's id


def test_the_appellant_chooses_how_to_be_told(app, client, sms):  # noqa: F811
    appeal = make_appeal()
    _sign_in(client, sms)
    assert client.post(f"/my/cases/{appeal.case_no}/notify-by", data={"notify_by": "email"}).status_code == 302
    db.session.refresh(appeal)
    assert appeal.notify_by == "email"
    bad = client.post(f"/my/cases/{appeal.case_no}/notify-by", data={"notify_by": "fax"}, follow_redirects=True)
    assert "请选择通知方式" in bad.get_data(as_text=True)
    no_mail = make_appeal(email="")
    refused = client.post(f"/my/cases/{no_mail.case_no}/notify-by", data={"notify_by": "email"}, follow_redirects=True)
    assert "只能用短信通知" in refused.get_data(as_text=True)
    db.session.refresh(no_mail)
    assert no_mail.notify_by == "both"


def test_without_a_gateway_the_development_backend_keeps_the_sms_for_the_admin(app, client, auth, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "SMS_DEV_BACKEND", True)
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", "")
    make_appeal()
    caplog.set_level("DEBUG")
    _ask(client)
    row = db.session.scalar(sa.select(Notification).where(Notification.event_key.like("phone-code-%")))
    assert row.status == "dev" and re.search(r"验证码是\d{6}", row.body)
    code = re.search(r"验证码是(\d{6})", row.body).group(1)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "development SMS backend" in logged and "138****8000" in logged
    assert PHONE not in logged and code not in logged
    auth.as_role("admin")
    page = client.get("/staff/admin/notifications").get_data(as_text=True)
    assert "开发设置" in page and code in page and "138****8000" in page and PHONE not in page


def test_production_refuses_to_start_with_verification_required_and_no_gateway(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "the same on every node")
    with pytest.raises(ConfigurationError):
        create_app({"APP_ENV": "production", "REQUIRE_PHONE_VERIFICATION": True, "SMS_GATEWAY_URL": ""})
    create_app({"APP_ENV": "production", "REQUIRE_PHONE_VERIFICATION": True, "SMS_GATEWAY_URL": "http://gw/"})


def test_the_domain_refuses_what_is_not_a_mobile_number(app):
    assert consumers.normalise_mobile("+86 138 0013 8000") == PHONE
    for bad in ("0431-88888888", "1380013800", "abc", None, 13800138000):
        assert consumers.normalise_mobile(bad) is None


def test_when_verification_is_required_filing_needs_a_verified_phone_and_uses_it(app, client, sms, monkeypatch):  # noqa: F811
    from tests.test_public_portal import form_data, pass_the_check

    monkeypatch.setitem(app.config, "REQUIRE_PHONE_VERIFICATION", True)
    pass_the_check(client)
    resp = client.get("/appeal/new")
    assert resp.status_code == 302 and "/my/sign-in?for=file" in resp.headers["Location"]
    new_number = "13500135000"  # no appeals yet: a filing code is sent all the same
    assert client.post("/my/sign-in", data={"phone": new_number, "for": "file"}).status_code == 302
    code = _codes_sent(sms, new_number)[-1]
    resp = client.post("/my/verify", data={"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/appeal/check")
    pass_the_check(client)
    form = client.get("/appeal/new").get_data(as_text=True)
    assert f'value="{new_number}"' in form and "readonly" in form
    resp = client.post("/appeal/new", data=form_data(phone="13700000000"), content_type="multipart/form-data")
    assert resp.status_code == 302
    from cases.models import Appeal

    assert db.session.scalar(sa.select(Appeal.phone)) == new_number


@needs_redis
def test_the_limits_live_in_redis_so_every_web_worker_sees_them(redis_app):  # noqa: F811
    """A code asked through one worker (its limiter on Redis) is counted for another worker's limiter on the same
    Redis; the number is hashed in Redis' keys."""
    import redis
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    with redis_app.app_context():
        from app.extensions import limiter

        consumers.request_code(PHONE, consumers.SIGN_IN, "10.1.1.1", limiter.limiter, "secret")  # this worker
        db.session.rollback()
        other_worker = MovingWindowRateLimiter(RedisStorage(REDIS_URL))
        assert consumers._within_limits(other_worker, PHONE, "10.9.9.9") is False  # the number's minute is used
        assert consumers._within_limits(other_worker, "13911112222", "10.9.9.9") is True
        keys = b" ".join(redis.Redis.from_url(REDIS_URL).keys("*"))
        assert b"consumer-code-phone" in keys and PHONE.encode() not in keys


def test_the_staff_timeline_names_what_the_appellant_did_after_signing_in(app, client, auth, sms):  # noqa: F811
    appeal = make_appeal(state="closed")
    _sign_in(client, sms)
    client.get(f"/my/cases/{appeal.case_no}")
    client.post(f"/my/cases/{appeal.case_no}/access-code")
    assert client.post("/track/rating", data={"score": "5"}).status_code == 302
    client.post("/my/sign-out")
    auth.as_role("clerk")
    html = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert "申诉人验证手机号后查看" in html and "换发查询码" in html and "申诉人满意度评价" in html
    assert "途径" in html and "网站" in html and "5（满分5）" in html


def test_the_appellant_chooses_how_to_be_told_when_filing(app, client):
    from tests.test_api_public import appeal_body
    from tests.test_public_portal import form_data, pass_the_check

    pass_the_check(client)
    form = client.get("/appeal/new").get_data(as_text=True)
    assert 'name="notify_by"' in form and "办理进度通知方式" in form
    refused = client.post(
        "/appeal/new", data=form_data(notify_by="email", email=""), content_type="multipart/form-data"
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "选择电子邮件通知时，请填写电子邮箱" in html
    assert 'value="email" checked' in html  # what was chosen is kept
    filed = client.post("/appeal/new", data=form_data(notify_by="sms"), content_type="multipart/form-data")
    assert filed.status_code == 302
    from cases.models import Appeal

    assert db.session.scalar(sa.select(Appeal.notify_by)) == "sms"
    by_api = client.post("/api/v1/appeals", json=appeal_body(notify_by="email", email="a@example.com"))
    assert by_api.status_code == 201
    assert db.session.scalar(sa.select(Appeal.notify_by).where(Appeal.case_no == by_api.json["case_no"])) == "email"
    bad = client.post("/api/v1/appeals", json=appeal_body(notify_by="fax"))
    assert bad.status_code == 422 and "notify_by" in bad.json["errors"]
    default = client.post("/api/v1/appeals", json=appeal_body())
    assert db.session.scalar(sa.select(Appeal.notify_by).where(Appeal.case_no == default.json["case_no"])) == "both"


def test_messages_go_by_the_chosen_channels(app, sms, smtp):  # noqa: F811
    by_email = make_appeal(state="accepted", notify_by="email")
    by_sms = make_appeal(state="accepted", notify_by="sms", phone=OTHER)
    email_but_no_address = make_appeal(state="accepted", notify_by="email", email="", phone="13600136000")
    sms_to = [r["json"]["to"] for r in sms.received]
    assert PHONE not in sms_to and OTHER in sms_to and "13600136000" in sms_to
    mailed = [m.get_content() for m in smtp.messages]
    assert len(mailed) == 1 and by_email.case_no in mailed[0]
    assert by_sms.case_no not in "".join(mailed) and email_but_no_address.case_no not in "".join(mailed)
