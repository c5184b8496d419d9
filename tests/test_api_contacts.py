"""The contacts API: staff record and list consultations, visits and follow-up calls; operators may not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import accounts, followups
from cases.models import CaseEvent, Contact
from tests.conftest import make_user
from tests.factories import make_appeal


@pytest.fixture
def token(app):
    """A bearer-token header for a new user of a role."""

    def issue(role: str, operator_code: str | None = None) -> dict[str, str]:
        """Create the user and its token; the Authorization header."""
        user = make_user(role, f"api-{role}", operator_code)
        _, plain = accounts.create_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return issue


def test_a_clerk_records_a_consultation_through_the_api_and_lists_it_masked(client, token):
    headers = token("clerk")
    resp = client.post(
        "/api/v1/contacts",
        json={
            "channel": "phone_consultation",
            "at": "2026-11-20T09:30:00+08:00",
            "topic": "携号转网",
            "operator": "telecom_jl",
            "person_name": "赵六",
            "phone": "13512345678",
            "question": "能否携号转网？",
            "answer": "可以，需满足条件。",
            "complained_to_operator": None,
        },
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["at"] == "2026-11-20T01:30:00Z" and body["phone"] == "135****5678" and body["person_name"] == "赵*"
    listed = client.get("/api/v1/contacts?channel=phone_consultation&operator=telecom_jl", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["topic"] == "携号转网"
    assert client.get("/api/v1/contacts?date_to=2026-11-19", headers=headers).get_json()["total"] == 0


def test_the_art13_triage_answer_is_recorded_when_the_caller_skipped_the_operator(client, token):
    resp = client.post(
        "/api/v1/contacts",
        json={"channel": "visit", "topic": "扣费", "question": "被乱扣费", "complained_to_operator": False},
        headers=token("supervisor"),
    )
    assert resp.status_code == 201 and resp.get_json()["answer"] == "先向运营商投诉"


def test_bad_contacts_are_422_with_a_message_per_field(client, token):
    headers = token("clerk")
    resp = client.post(
        "/api/v1/contacts",
        json={"channel": "visit", "phone": "call me", "at": "soon", "complained_to_operator": "yes", "operator": "x"},
        headers=headers,
    )
    errors = resp.get_json()["errors"]
    assert resp.status_code == 422
    assert {"topic", "question", "phone", "at", "complained_to_operator", "operator"} <= set(errors)
    assert client.post("/api/v1/contacts", json={"channel": "fax"}, headers=headers).status_code == 422
    assert client.post("/api/v1/contacts", json=[1, 2], headers=headers).status_code == 400  # not an object
    assert client.get("/api/v1/contacts?per_page=500", headers=headers).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0


def test_a_follow_up_call_through_the_api_confirms_the_settlement_terms(client, token):
    headers = token("mediator")
    appeal = make_appeal(state="settled")
    missing = client.post(
        "/api/v1/contacts",
        json={"channel": "callback", "case_no": appeal.case_no, "callee": "consumer", "reached": True},
        headers=headers,
    )
    assert missing.status_code == 422 and "terms_carried_out" in missing.get_json()["errors"]
    resp = client.post(
        "/api/v1/contacts",
        json={
            "channel": "callback",
            "case_no": appeal.case_no,
            "callee": "consumer",
            "reached": True,
            "satisfaction": 5,
            "terms_carried_out": True,
            "notes": "退款已到账",
        },
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["case_no"] == appeal.case_no and resp.get_json()["satisfaction"] == 5
    assert followups.agreed_settlement(appeal).confirmed_at is not None
    assert db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "callback")).internal
    calls = client.get("/api/v1/contacts?channel=callback", headers=headers).get_json()
    assert calls["total"] == 1
    bad = client.post(
        "/api/v1/contacts",
        json={
            "channel": "callback",
            "case_no": "JL1999-000001",
            "callee": "operator",
            "reached": "y",
            "satisfaction": 9,
        },
        headers=headers,
    )
    assert bad.status_code == 422 and {"case_no", "reached", "satisfaction"} <= set(bad.get_json()["errors"])


def test_operators_and_anonymous_callers_cannot_use_the_contacts_api(client, token):
    operator = token("operator", "cmcc_jl")
    assert client.get("/api/v1/contacts", headers=operator).status_code == 403
    assert client.post("/api/v1/contacts", json={"channel": "visit"}, headers=operator).status_code == 403
    assert client.get("/api/v1/contacts").status_code == 401
    admin = token("admin")
    assert client.get("/api/v1/contacts", headers=admin).status_code == 200
    assert client.post("/api/v1/contacts", json={"channel": "visit"}, headers=admin).status_code == 403


def test_dates_outside_the_centres_years_are_422_not_a_crash(client, token):
    headers = token("clerk")
    old = client.post(
        "/api/v1/contacts",
        json={"channel": "visit", "at": "0001-01-01T00:00:00", "topic": "x", "question": "y"},
        headers=headers,
    )
    assert old.status_code == 422 and "at" in old.get_json()["errors"]
    assert client.get("/api/v1/contacts?date_to=9999-12-31", headers=headers).status_code == 422
    assert client.get("/api/v1/cases?received_from=0001-01-01", headers=headers).status_code == 422
