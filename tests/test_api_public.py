"""The consumer's JSON API: reference lists, filing, tracking, materials, withdrawal, errors and rate limits."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db, limiter
from cases import tracking
from cases.models import Appeal, EligibilityStop, Material
from tests.conftest import REDIS_URL, needs_redis
from tests.test_public_portal import today
from tests.test_validation import valid_fields
from workflows import calendar, engine

PDF = b"%PDF-1.4\n%%EOF\n"
ELIGIBLE = {
    "complained_to_operator": True,
    "operator_replied": True,
    "satisfied": False,
    "court_or_arbitration": False,
    "settled_and_performed": False,
}


def appeal_body(**overrides) -> dict:
    body = valid_fields(
        event_date=(today() - dt.timedelta(days=30)).isoformat(),
        operator_complaint_date=(today() - dt.timedelta(days=20)).isoformat(),
    )
    body["eligibility"] = dict(ELIGIBLE)
    body.update(overrides)
    return body


def file_appeal(client, **overrides) -> dict:
    resp = client.post("/api/v1/appeals", json=appeal_body(**overrides))
    assert resp.status_code == 201, resp.json
    return resp.json


def code_header(code: str) -> dict:
    return {"X-Access-Code": code}


def test_the_reference_lists_give_codes_with_chinese_and_english_names(client):
    operators = client.get("/api/v1/operators").json
    assert {"code": "cmcc_jl", "name": "中国移动通信集团吉林有限公司"}.items() <= operators[0].items()
    assert {o["operator_type"] for o in operators} == {"basic", "resale"}
    lists = client.get("/api/v1/categories").json
    assert {"code": "charging", "name_zh": "收费争议", "name_en": "Charging dispute"} in lists["categories"]
    assert [s["code"] for s in lists["service_types"]] == ["mobile", "fixed", "broadband", "other"]


def test_a_consumer_files_tracks_adds_a_material_and_withdraws_through_the_api(client):
    receipt = file_appeal(client)
    assert set(receipt) == {"case_no", "access_code", "status", "decision_due", "decision_due_date"}
    assert receipt["status"] == "received"
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == receipt["case_no"]))
    assert appeal.channel == "online" and tracking.verify_access_code(receipt["access_code"], appeal.access_code_hash)
    assert receipt["decision_due"] == appeal.deadline("decision").due_at.isoformat() + "Z"
    assert receipt["decision_due_date"] == calendar.local_date(appeal.deadline("decision").due_at).isoformat()
    assert calendar.local_date(appeal.deadline("decision").due_at) > today()

    case = client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header(receipt["access_code"]))
    assert case.status_code == 200 and case.headers["Cache-Control"] == "no-store"
    assert case.json["status_text"] == "已收到您的申诉，正在审核是否受理。"
    assert [e["action"] for e in case.json["timeline"]] == ["submit"]
    assert {d["kind"] for d in case.json["deadlines"]} == {"decision", "consumer_reply"}
    assert "access_code" not in case.json and "phone" not in case.json

    added = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF), "bill.pdf")},
    )
    assert added.status_code == 201
    assert added.json["size"] == len(PDF) and added.json["type"] == "application/pdf"
    assert added.json["sha256"] == hashlib.sha256(PDF).hexdigest() and isinstance(added.json["id"], int)

    gone = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/withdraw",
        headers=code_header(receipt["access_code"]),
        json={"reason": "已与运营商协商解决"},
    )
    assert gone.status_code == 200 and gone.json["status"] == "withdrawn" and gone.json["open"] is False
    again = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/withdraw",
        headers=code_header(receipt["access_code"]),
        json={"reason": "再次撤回"},
    )
    assert again.status_code == 409
    late = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF), "late.pdf")},
    )
    assert late.status_code == 409


def test_materials_sent_while_the_centre_waits_for_them_resume_the_case(client):
    receipt = file_appeal(client)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == receipt["case_no"]))
    engine.perform(appeal, "request_materials", role="clerk", data={"missing": "合同"})
    db.session.commit()
    resp = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF), "contract.pdf")},
    )
    assert resp.status_code == 201 and resp.json["status"] == "received"


def test_upload_errors_are_413_415_and_422(app, client, monkeypatch):
    receipt = file_appeal(client)
    url = f"/api/v1/appeals/{receipt['case_no']}/materials"
    headers = code_header(receipt["access_code"])
    exe = client.post(url, headers=headers, data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\0" * 60), "a.pdf")})
    assert exe.status_code == 415 and exe.json["reason"] == "type_not_allowed" and "file" in exe.json["errors"]
    empty = client.post(url, headers=headers, data={"file": (io.BytesIO(b""), "a.pdf")})
    assert empty.status_code == 422
    missing = client.post(url, headers=headers, data={})
    assert missing.status_code == 422 and "file" in missing.json["errors"]
    monkeypatch.setitem(app.config, "MAX_FILE_BYTES", 1024)
    big = client.post(url, headers=headers, data={"file": (io.BytesIO(PDF + b"x" * 2000), "big.pdf")})
    assert big.status_code == 413 and big.json["reason"] == "file_too_large"
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    huge = client.post(url, headers=headers, data={"file": (io.BytesIO(b"x" * 10000), "huge.pdf")})
    assert huge.status_code == 413 and "error" in huge.json
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_a_wrong_code_a_missing_code_and_an_unknown_case_get_the_same_404(client):
    receipt = file_appeal(client)
    wrong = client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header("AAAAAAAAAA"))
    missing = client.get(f"/api/v1/appeals/{receipt['case_no']}")
    unknown = client.get("/api/v1/appeals/JL2026-999999", headers=code_header(receipt["access_code"]))
    assert wrong.status_code == missing.status_code == unknown.status_code == 404
    assert wrong.json == missing.json == unknown.json
    for path in ("materials", "withdraw"):
        resp = client.post(f"/api/v1/appeals/{receipt['case_no']}/{path}", headers=code_header("AAAAAAAAAA"), json={})
        assert resp.status_code == 404 and resp.json == wrong.json


def test_repeated_failures_through_the_api_are_rate_limited(client):
    receipt = file_appeal(client)
    for _ in range(10):
        assert client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header("WRONG")).status_code == 404
    blocked = client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header(receipt["access_code"]))
    assert blocked.status_code == 429 and "error" in blocked.json


def test_validation_errors_name_each_field(client):
    resp = client.post("/api/v1/appeals", json=appeal_body(phone="123", postcode="abc", id_number="110105194912310021"))
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"phone", "postcode", "id_number"}
    assert resp.json["error"] == "请检查填写的内容。"
    assert db.session.scalar(sa.select(sa.func.count(Appeal.id))) == 0


def test_the_api_speaks_english_when_asked(client):
    resp = client.post("/api/v1/appeals?lang=en", json=appeal_body(postcode="abc"))
    assert resp.json["errors"]["postcode"] == ["The postcode must be 6 digits."]


def test_eligibility_answers_are_required_and_must_be_booleans(client):
    none = client.post("/api/v1/appeals", json=appeal_body(eligibility=None))
    assert none.status_code == 422 and "eligibility" in none.json["errors"]
    wrong = client.post("/api/v1/appeals", json=appeal_body(eligibility={**ELIGIBLE, "satisfied": "no"}))
    assert wrong.status_code == 422 and "satisfied" in wrong.json["errors"]["eligibility"][0]
    partial = client.post("/api/v1/appeals", json=appeal_body(eligibility={"complained_to_operator": True}))
    assert partial.status_code == 422 and "eligibility" in partial.json["errors"]
    assert db.session.scalar(sa.select(sa.func.count(EligibilityStop.id))) == 0


def test_malformed_bodies_get_json_errors_not_crashes(client):
    for data, ctype in [("{not json", "application/json"), ("[1, 2]", "application/json"), ("a=b", "text/plain")]:
        resp = client.post("/api/v1/appeals", data=data, content_type=ctype)
        assert resp.status_code == 400 and resp.is_json
    huge = client.post("/api/v1/appeals", data='{"facts": "' + "x" * 300_000 + '"}', content_type="application/json")
    assert huge.status_code == 413 and huge.is_json
    receipt = file_appeal(client)
    bad = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/withdraw",
        headers=code_header(receipt["access_code"]),
        data="nope",
        content_type="application/json",
    )
    assert bad.status_code == 400
    no_reason = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/withdraw",
        headers=code_header(receipt["access_code"]),
        json={"reason": 5},
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]


def test_every_consumer_path_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").json
    for path, method in [
        ("/operators", "get"),
        ("/categories", "get"),
        ("/appeals", "post"),
        ("/appeals/{case_no}", "get"),
        ("/appeals/{case_no}/materials", "post"),
        ("/appeals/{case_no}/withdraw", "post"),
    ]:
        op = doc["paths"][path][method]
        assert op["responses"]
    assert doc["paths"]["/appeals"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AppealInput"
    }
    for name in ("AppealInput", "Eligibility", "AppealReceipt", "PublicCase", "MaterialReceipt"):
        assert name in doc["components"]["schemas"]


@pytest.fixture
def redis_app(app):
    """A second app whose rate limits live in Redis (the limiter's storage is restored afterwards)."""
    saved = (limiter._storage, limiter._limiter)
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "REDIS_URL": None,
            "SECRET_KEY": "test-secret",
        }
    )
    limiter.reset()
    yield other
    limiter.reset()
    limiter._storage, limiter._limiter = saved


@needs_redis
def test_an_appeal_is_filed_and_tracked_with_rate_limits_kept_in_redis(redis_app):
    import redis

    with redis_app.app_context():
        client = redis_app.test_client()
        receipt = file_appeal(client)
        ok = client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header(receipt["access_code"]))
        assert ok.status_code == 200
        for _ in range(10):
            client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header("WRONG"))
        assert client.get(f"/api/v1/appeals/{receipt['case_no']}", headers=code_header("WRONG")).status_code == 429
        keys = redis.Redis.from_url(REDIS_URL).keys("LIMITS*")
        assert keys, "the limiter wrote nothing to Redis"
        db.session.remove()


@pytest.fixture
def app_with_redis_down(app):
    """A second app whose rate-limit Redis is unreachable (the limiter's storage is restored afterwards)."""
    saved = (limiter._storage, limiter._limiter)
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
            "REDIS_URL": None,
            "SECRET_KEY": "test-secret",
        }
    )
    yield other
    # the limiter is one object for every app: undo the outage it noticed, and forget the fallback's counts
    limiter._storage, limiter._limiter = saved
    limiter._storage_dead = False
    if limiter._fallback_limiter is not None:
        limiter._fallback_limiter.storage.reset()
    limiter.reset()


def test_with_the_rate_limit_redis_down_consumers_still_file_and_failures_are_still_limited(app_with_redis_down):
    with app_with_redis_down.app_context():
        client = app_with_redis_down.test_client()
        receipt = file_appeal(client)
        url = f"/api/v1/appeals/{receipt['case_no']}"
        assert client.get(url, headers=code_header(receipt["access_code"])).status_code == 200
        for _ in range(10):
            assert client.get(url, headers=code_header("WRONG")).status_code == 404
        assert client.get(url, headers=code_header("WRONG")).status_code == 429
        db.session.remove()
