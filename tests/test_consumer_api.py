"""The consumer's phone sign-in through the API, against a real local HTTP SMS gateway: verification (202 either
way, 429 over the limits), sessions (201 token, 401 wrong code, 429 after five), the number's appeals, the token on
the case endpoints (another number's case is the same 404 as a wrong code), a new access code, ratings, filing."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from cases import tracking
from cases.models import Appeal, CaseEvent, Rating
from tests.conftest import make_user
from tests.factories import make_appeal
from tests.test_api_public import PDF, appeal_body
from tests.test_notifications import sms  # noqa: F401  (the real HTTP gateway fixture)

PHONE = "13800138000"
OTHER = "13900139000"


def _code(gateway, phone: str = PHONE) -> str:
    texts = [
        r["json"]["text"] for r in gateway.received if r["json"]["to"] == phone and "验证码是" in r["json"]["text"]
    ]
    return re.search(r"验证码是(\d{6})", texts[-1]).group(1)


def _token(client, gateway, phone: str = PHONE, purpose: str = "sign_in") -> str:
    assert client.post("/api/v1/consumer/verification", json={"phone": phone, "purpose": purpose}).status_code == 202
    resp = client.post("/api/v1/consumer/sessions", json={"phone": phone, "code": _code(gateway, phone)})
    assert resp.status_code == 201, resp.json
    return resp.json["token"]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_verification_answers_202_either_way_and_429_over_the_limit(app, client, sms):  # noqa: F811
    make_appeal()
    known = client.post("/api/v1/consumer/verification", json={"phone": PHONE})
    unknown = client.post("/api/v1/consumer/verification", json={"phone": "13700137000"})
    assert known.status_code == unknown.status_code == 202 and known.json == unknown.json
    assert "如果该号码有申诉记录" in known.json["message"]
    assert [r["json"]["to"] for r in sms.received if "验证码是" in r["json"]["text"]] == [PHONE]
    again = client.post("/api/v1/consumer/verification", json={"phone": PHONE})
    assert again.status_code == 429 and again.json["errors"]["phone"]
    bad = client.post("/api/v1/consumer/verification", json={"phone": "0431-88888888"})
    assert bad.status_code == 422 and "phone" in bad.json["errors"]
    assert client.post("/api/v1/consumer/verification", json={}).status_code == 422


def test_a_wrong_code_is_401_with_a_json_body_and_the_fifth_is_429(app, client, sms):  # noqa: F811
    make_appeal()
    client.post("/api/v1/consumer/verification", json={"phone": PHONE})
    right = _code(sms)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        resp = client.post("/api/v1/consumer/sessions", json={"phone": PHONE, "code": wrong})
        assert resp.status_code == 401 and resp.json["error"] and resp.json["errors"]["code"]
    assert client.post("/api/v1/consumer/sessions", json={"phone": PHONE, "code": wrong}).status_code == 429
    assert client.post("/api/v1/consumer/sessions", json={"phone": PHONE, "code": right}).status_code == 429


def test_the_token_lists_the_numbers_appeals_and_opens_only_them(app, client, sms):  # noqa: F811
    older = make_appeal(state="referred")
    newer = make_appeal(state="closed")
    theirs = make_appeal(phone=OTHER)
    token = _token(client, sms)
    assert client.get("/api/v1/consumer/appeals").status_code == 401
    listed = client.get("/api/v1/consumer/appeals", headers=_bearer(token))
    assert listed.status_code == 200 and listed.json["phone"] == "138****8000"
    assert [i["case_no"] for i in listed.json["items"]] == [newer.case_no, older.case_no]
    assert listed.json["items"][0]["can_rate"] is True

    seen = client.get(f"/api/v1/appeals/{older.case_no}", headers=_bearer(token))
    assert seen.status_code == 200 and seen.json["case_no"] == older.case_no
    view = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "consumer_view"))
    assert view.appeal_id == older.id and view.details == {"via": "api"} and view.internal
    wrong_code = client.get(f"/api/v1/appeals/{theirs.case_no}", headers={"X-Access-Code": "AAAAAAAAAA"})
    not_mine = client.get(f"/api/v1/appeals/{theirs.case_no}", headers=_bearer(token))
    assert not_mine.status_code == wrong_code.status_code == 404 and not_mine.json == wrong_code.json
    expired = client.get(f"/api/v1/appeals/{older.case_no}", headers=_bearer("x" * 43))
    assert expired.status_code == 404

    added = client.post(
        f"/api/v1/appeals/{older.case_no}/materials",
        headers=_bearer(token),
        data={"file": (__import__("io").BytesIO(PDF), "bill.pdf")},
        content_type="multipart/form-data",
    )
    assert added.status_code == 201, added.json
    withdrawn = client.post(
        f"/api/v1/appeals/{older.case_no}/withdraw", headers=_bearer(token), json={"reason": "已解决"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    # the consumer's token is no staff token
    assert client.get("/api/v1/cases", headers=_bearer(token)).status_code == 401


def test_a_new_access_code_by_api_kills_the_old_one(app, client, sms):  # noqa: F811
    appeal = make_appeal(notify_by="sms")
    appeal.access_code_hash = tracking.hash_access_code("ABCDEFGHJK")
    db.session.commit()
    token = _token(client, sms)
    assert client.post(f"/api/v1/appeals/{appeal.case_no}/access-code").status_code == 401
    resp = client.post(f"/api/v1/appeals/{appeal.case_no}/access-code", headers=_bearer(token))
    assert resp.status_code == 202
    assert client.get(f"/api/v1/appeals/{appeal.case_no}", headers={"X-Access-Code": "ABCDEFGHJK"}).status_code == 404
    text = next(r["json"]["text"] for r in sms.received if "新查询码" in r["json"]["text"])
    new = re.search(r"新查询码：([A-Z0-9 ]+)", text).group(1).replace(" ", "")
    assert client.get(f"/api/v1/appeals/{appeal.case_no}", headers={"X-Access-Code": new}).status_code == 200
    theirs = make_appeal(phone=OTHER)
    assert client.post(f"/api/v1/appeals/{theirs.case_no}/access-code", headers=_bearer(token)).status_code == 404


def test_rating_by_api_is_201_once_after_the_case_ends(app, client, sms):  # noqa: F811
    open_case = make_appeal(state="referred")
    closed = make_appeal(state="closed")
    token = _token(client, sms)
    early = client.post(f"/api/v1/appeals/{open_case.case_no}/rating", headers=_bearer(token), json={"score": 5})
    assert early.status_code == 409 and early.json["errors"]["score"]
    bad = client.post(f"/api/v1/appeals/{closed.case_no}/rating", headers=_bearer(token), json={"score": 9})
    assert bad.status_code == 422 and "score" in bad.json["errors"]
    rated = client.post(
        f"/api/v1/appeals/{closed.case_no}/rating", headers=_bearer(token), json={"score": 4, "comment": "及时"}
    )
    assert rated.status_code == 201 and rated.json["score"] == 4 and rated.json["comment"] == "及时"
    again = client.post(f"/api/v1/appeals/{closed.case_no}/rating", headers=_bearer(token), json={"score": 1})
    assert again.status_code == 409
    assert db.session.scalar(sa.select(Rating.score)) == 4
    # with the access code too
    closed.access_code_hash = tracking.hash_access_code("ABCDEFGHJK")
    other = make_appeal(state="closed", phone=OTHER)
    other.access_code_hash = tracking.hash_access_code("ABCDEFGHJK")
    db.session.commit()
    by_code = client.post(
        f"/api/v1/appeals/{other.case_no}/rating", headers={"X-Access-Code": "ABCDEFGHJK"}, json={"score": 2}
    )
    assert by_code.status_code == 201


def test_filing_uses_the_verified_phone_and_requires_it_when_configured(app, client, sms, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "REQUIRE_PHONE_VERIFICATION", True)
    refused = client.post("/api/v1/appeals", json=appeal_body())
    assert refused.status_code == 401 and "/api/v1/consumer/verification" in refused.json["error"]
    bad_token = client.post("/api/v1/appeals", json=appeal_body(), headers=_bearer("y" * 43))
    assert bad_token.status_code == 401
    new_number = "13500135000"
    token = _token(client, sms, new_number, purpose="file")
    filed = client.post("/api/v1/appeals", json=appeal_body(phone="13711112222"), headers=_bearer(token))
    assert filed.status_code == 201, filed.json
    assert db.session.scalar(sa.select(Appeal.phone).where(Appeal.case_no == filed.json["case_no"])) == new_number
    listed = client.get("/api/v1/consumer/appeals", headers=_bearer(token)).json["items"]
    assert [i["case_no"] for i in listed] == [filed.json["case_no"]]


def test_a_staff_token_opens_no_consumer_route(app, client):
    from cases import accounts

    clerk = make_user("clerk")
    _row, plain = accounts.create_token(clerk)
    db.session.commit()
    appeal = make_appeal()
    assert client.get("/api/v1/consumer/appeals", headers=_bearer(plain)).status_code == 401
    assert client.post(f"/api/v1/appeals/{appeal.case_no}/access-code", headers=_bearer(plain)).status_code == 401
    assert client.get(f"/api/v1/appeals/{appeal.case_no}", headers=_bearer(plain)).status_code == 404
