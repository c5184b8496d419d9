"""The staff and operator API for cases: filters, pages, masking, operator isolation, and every status code."""

from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from cases import accounts
from tests.conftest import make_user
from tests.factories import make_appeal
from workflows import engine


@pytest.fixture
def token(app):
    """A bearer-token header for a new user of a role (operator: of a company)."""

    def issue(role: str, operator_code: str | None = None, username: str | None = None) -> dict[str, str]:
        """Create the user and its token; the Authorization header."""
        user = make_user(role, username or f"api-{role}-{operator_code or 'x'}", operator_code)
        _, plain = accounts.create_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return issue


def test_without_a_valid_token_the_api_answers_401_json(client, token):
    assert client.get("/api/v1/cases").status_code == 401
    resp = client.get("/api/v1/cases", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and "error" in resp.get_json()


def test_a_staff_token_lists_cases_with_masked_personal_data_and_filters(client, token):
    headers = token("supervisor")
    a = make_appeal(state="received", at=dt.datetime(2026, 3, 1, 2, 0))
    b = make_appeal(state="referred", category="network", operator_code="unicom_jl", phone="13712345678")
    c = make_appeal(state="accepted", at=dt.datetime(2026, 3, 31, 17, 0))  # 1 April in Shanghai
    body = client.get("/api/v1/cases", headers=headers).get_json()
    assert body["total"] == 3 and body["page"] == 1
    item = next(i for i in body["items"] if i["case_no"] == a.case_no)
    assert item["phone"] == "138****8000" and item["complainant_name"] == "张*"
    assert "id_number" not in item and "13800138000" not in str(body)

    def cases(query: str) -> set[str]:
        resp = client.get(f"/api/v1/cases?{query}", headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return {i["case_no"] for i in resp.get_json()["items"]}

    assert cases("state=referred") == {b.case_no}
    assert cases("operator=unicom_jl") == {b.case_no}
    assert cases("category=network") == {b.case_no}
    assert cases("received_from=2026-03-01&received_to=2026-03-31") == {a.case_no}
    assert cases("received_from=2026-04-01&received_to=2026-04-01") == {c.case_no}
    assert cases("q=12345678") == {b.case_no}
    assert cases(f"q={a.case_no}") == {a.case_no}
    assert cases("overdue=true") == {a.case_no, c.case_no}  # their decision clocks ran out long ago
    assert cases("assignee=none") == {a.case_no, b.case_no, c.case_no}
    assert client.get("/api/v1/cases?assignee=nobody", headers=headers).status_code == 422


def test_pages_hold_at_most_100_cases_and_bad_filters_are_422(client, token):
    headers = token("clerk")
    for _ in range(3):
        make_appeal()
    first = client.get("/api/v1/cases?per_page=2", headers=headers).get_json()
    second = client.get("/api/v1/cases?per_page=2&page=2", headers=headers).get_json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and first["pages"] == 2
    assert not {i["case_no"] for i in first["items"]} & {i["case_no"] for i in second["items"]}
    resp = client.get("/api/v1/cases?per_page=101&state=lost&received_from=yesterday&overdue=maybe", headers=headers)
    errors = resp.get_json()["errors"]
    assert resp.status_code == 422 and {"per_page", "state", "received_from", "overdue"} <= set(errors)
    assert client.get("/api/v1/cases?operator=nope", headers=headers).status_code == 422


def test_an_operator_token_sees_only_its_referred_cases_and_404_for_others(client, token):
    headers = token("operator", "cmcc_jl")
    mine = make_appeal(state="received")
    engine.perform(mine, "accept", role="clerk", data={"note": "申诉人情绪激动，注意沟通"})
    engine.perform(mine, "refer", role="mediator", data={"note": "请核实扣费"})
    db.session.commit()
    theirs = make_appeal(state="referred", operator_code="unicom_jl")
    unreferred = make_appeal(state="accepted")
    body = client.get("/api/v1/cases", headers=headers).get_json()
    assert [i["case_no"] for i in body["items"]] == [mine.case_no]
    assert body["items"][0]["operator"] == "cmcc_jl"
    assert client.get("/api/v1/cases?operator=unicom_jl", headers=headers).get_json()["items"] == []
    detail = client.get(f"/api/v1/cases/{mine.case_no}", headers=headers).get_json()
    assert detail["phone"] == "138****8000" and "id_number" not in detail and "email" not in detail
    assert "address" not in detail and detail["allowed_actions"] == ["confirm_instruction", "reply", "sign_referral"]
    assert [e["action"] for e in detail["events"]] == ["submit", "accept", "refer"]
    assert detail["events"][1]["details"] == {}  # the centre's own notes stay with the centre
    assert detail["events"][2]["details"]["note"] == "请核实扣费"
    for case in (theirs, unreferred):
        assert client.get(f"/api/v1/cases/{case.case_no}", headers=headers).status_code == 404
        resp = client.post(f"/api/v1/cases/{case.case_no}/actions/reply", json={"text": "x"}, headers=headers)
        assert resp.status_code == 404
    assert client.get("/api/v1/cases/JL2026-999999", headers=headers).status_code == 404


def test_staff_see_the_case_detail_masked(client, token):
    appeal = make_appeal(state="received")
    body = client.get(f"/api/v1/cases/{appeal.case_no}", headers=token("mediator")).get_json()
    assert body["id_number"] == "220102********1234" and body["email"] == "z***@example.com"
    assert body["address"].endswith("****") and body["events"][0]["action"] == "submit"


def test_actions_through_the_api_answer_200_403_404_409_and_422(client, token):
    clerk, mediator, operator = token("clerk"), token("mediator"), token("operator")
    appeal = make_appeal()
    url = f"/api/v1/cases/{appeal.case_no}/actions"
    ok = client.post(f"{url}/accept", json={"note": "材料齐全", "version": appeal.version}, headers=clerk)
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert body["status"] == "accepted" and body["version"] == appeal.version and body["event"]["action"] == "accept"
    # stale version
    stale = client.post(f"{url}/refer", json={"version": body["version"] - 1}, headers=mediator)
    assert stale.status_code == 409
    # a role the lifecycle does not allow
    assert client.post(f"{url}/refer", json={}, headers=clerk).status_code == 403
    # not allowed from this state
    assert client.post(f"{url}/settle", json={"perform_by": "2036-12-31"}, headers=mediator).status_code == 409
    # unknown action, unknown case
    assert client.post(f"{url}/explode", json={}, headers=mediator).status_code == 404
    assert client.post("/api/v1/cases/JL2000-000001/actions/refer", json={}, headers=mediator).status_code == 404
    assert client.post(f"{url}/refer", json={}, headers=mediator).status_code == 200
    # bad fields
    bad = client.post(f"{url}/reply", json={"text": ""}, headers=operator)
    assert bad.status_code == 422 and "text" in bad.get_json()["errors"]
    assert client.post(f"{url}/reply", json={"text": ["list"]}, headers=operator).status_code == 422
    assert client.post(f"{url}/reply", json={"text": "x", "version": "3"}, headers=operator).status_code == 422
    assert client.post(f"{url}/reply", data="not json", headers=operator).status_code == 400  # not JSON
    done = client.post(f"{url}/reply", json={"text": "已退费"}, headers=operator)
    assert done.status_code == 200 and done.get_json()["status"] == "replied"


def test_the_openapi_document_describes_the_case_paths_with_the_bearer_scheme(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/cases", "/cases/{case_no}", "/cases/{case_no}/actions/{action}", "/contacts"):
        assert path in doc["paths"]
    assert doc["paths"]["/cases"]["get"]["security"] == [{"bearer": []}]
    assert "CaseSummary" in doc["components"]["schemas"] and "bearer" in doc["components"]["securitySchemes"]
    assert set(doc["paths"]["/cases/{case_no}/actions/{action}"]["post"]["responses"]) >= {
        "200",
        "401",
        "403",
        "404",
        "409",
        "422",
    }


def test_an_operator_token_proposes_terms_and_reports_them_done(client, token):
    operator = token("operator", "cmcc_jl")
    appeal = make_appeal(state="replied")
    url = f"/api/v1/cases/{appeal.case_no}"
    assert client.post(f"{url}/terms-done", headers=operator).status_code == 409  # nothing agreed yet
    bad = client.post(f"{url}/settlement-proposal", json={"refund_amount": "lots"}, headers=operator)
    assert bad.status_code == 422 and {"refund_amount", "perform_by"} <= set(bad.get_json()["errors"])
    resp = client.post(
        f"{url}/settlement-proposal",
        json={"refund_amount": 30, "apology": True, "perform_by": "2036-12-20"},
        headers=operator,
    )
    assert resp.status_code == 201, resp.get_json()
    proposal = resp.get_json()
    assert (
        proposal["proposed_by"] == "operator" and proposal["agreed_at"] is None and proposal["refund_amount"] == "30.00"
    )
    assert client.post(f"{url}/settlement-proposal", json={}, headers=token("mediator")).status_code == 403
    engine.perform(appeal, "settle", role="mediator", data={"refund_amount": "30", "perform_by": "2036-12-20"})
    db.session.commit()
    assert (
        client.post(f"{url}/settlement-proposal", json={"perform_by": "2036-12-20"}, headers=operator).status_code
        == 409
    )
    done = client.post(f"{url}/terms-done", json={"note": "已退款"}, headers=operator)
    assert done.status_code == 200 and done.get_json()["operator_reported_done_at"] is not None
    other = token("operator", "unicom_jl")
    assert client.post(f"{url}/terms-done", json={}, headers=other).status_code == 404
