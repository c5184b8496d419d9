"""The operator's API: referrals with filters and cursor pages, signing, instructions, reply with files, evidence,
the webhook catch-up feed, token scopes and rotation, and the 404 for other operators' cases."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import accounts
from cases.models import ApiToken, Material, WebhookEvent, utcnow
from tests.conftest import make_user
from tests.factories import give_instructions, make_appeal
from workflows import engine

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def operator_token(app):
    """The Authorization header of a cmcc liaison's token with the given scopes (default: both)."""

    def issue(*scopes: str, code: str = "cmcc_jl") -> dict[str, str]:
        user = db.session.scalar(sa.select(accounts.User).where(accounts.User.username == f"liaison-{code}"))
        user = user or make_user("operator", f"liaison-{code}", code)
        _, plain = accounts.create_token(user, "complaint system", list(scopes) or list(accounts.SCOPES))
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return issue


def test_referrals_are_listed_with_filters_and_cursor_pages_and_never_another_operators(client, operator_token):
    """Five referred cases (one urgent, one overdue), one of another operator: filters and pages see only ours."""
    headers = operator_token()
    now = utcnow()
    mine = [make_appeal(state="referred", at=now - dt.timedelta(days=d)) for d in (20, 3, 2, 1, 0)]
    theirs = make_appeal(state="referred", operator_code="unicom_jl")
    engine.perform(mine[4], "mark_urgent", role="clerk", data={"reason": "medical"})
    db.session.commit()
    seen, cursor = [], None
    for _ in range(4):
        url = "/api/v1/referrals?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        seen += [i["case_no"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(a.case_no for a in mine) and len(seen) == 5
    assert theirs.case_no not in seen
    overdue = client.get("/api/v1/referrals?overdue=true", headers=headers).get_json()["items"]
    assert [i["case_no"] for i in overdue] == [mine[0].case_no]
    due = mine[3].deadline("operator_reply").due_at + dt.timedelta(seconds=1)
    before = client.get(f"/api/v1/referrals?due_before={due.isoformat()}Z", headers=headers).get_json()["items"]
    # the urgent case's reply is due in 2 days, so before the case received a day earlier
    assert {i["case_no"] for i in before} == {a.case_no for a in mine}
    due = mine[2].deadline("operator_reply").due_at + dt.timedelta(seconds=1)
    before = client.get(f"/api/v1/referrals?due_before={due.isoformat()}Z", headers=headers).get_json()["items"]
    assert {i["case_no"] for i in before} == {mine[0].case_no, mine[1].case_no, mine[2].case_no, mine[4].case_no}
    since = (utcnow() - dt.timedelta(seconds=1)).isoformat() + "Z"
    engine.perform(mine[1], "reply", role="operator", data={"text": "已处理"})
    db.session.commit()
    changed = client.get(f"/api/v1/referrals?updated_since={since}", headers=headers).get_json()["items"]
    assert mine[1].case_no in {i["case_no"] for i in changed}
    replied = client.get("/api/v1/referrals?state=replied", headers=headers).get_json()["items"]
    assert [i["case_no"] for i in replied] == [mine[1].case_no]
    urgent = next(i for i in client.get("/api/v1/referrals", headers=headers).get_json()["items"] if i["urgent"])
    assert urgent["case_no"] == mine[4].case_no and urgent["urgent_reason"] == "medical"
    bad = client.get("/api/v1/referrals?cursor=@@@&limit=500&overdue=perhaps", headers=headers)
    assert bad.status_code == 422 and {"limit", "overdue"} <= set(bad.get_json()["errors"])
    assert client.get("/api/v1/referrals?cursor=bm9wZQ", headers=headers).status_code == 422
    assert client.get(f"/api/v1/cases/{theirs.case_no}", headers=headers).status_code == 404


def test_the_operator_signs_confirms_instructions_and_replies_with_a_file(client, operator_token):
    """Sign for the referral, confirm an instruction, reply with a PDF: the file is the operator's material."""
    headers = operator_token()
    appeal = give_instructions(make_appeal(state="referred"), ("keep_records",))
    since = (utcnow() - dt.timedelta(milliseconds=1)).isoformat() + "Z"
    assert client.get(f"/api/v1/referrals?updated_since={since}", headers=headers).get_json()["items"] == []
    signed = client.post(f"/api/v1/cases/{appeal.case_no}/actions/sign_referral", headers=headers, json={})
    assert signed.status_code == 200 and signed.get_json()["status"] == "referred"
    changed = client.get(f"/api/v1/referrals?updated_since={since}", headers=headers).get_json()["items"]
    assert [i["case_no"] for i in changed] == [appeal.case_no]  # signing is a change the operator's sync sees
    confirmed = client.post(
        f"/api/v1/cases/{appeal.case_no}/actions/confirm_instruction",
        headers=headers,
        json={"instruction": "keep_records"},
    )
    assert confirmed.status_code == 200
    wrong = client.post(
        f"/api/v1/cases/{appeal.case_no}/actions/confirm_instruction", headers=headers, json={"instruction": "nonsense"}
    )
    assert wrong.status_code == 422 and "instruction" in wrong.get_json()["errors"]
    item = client.get("/api/v1/referrals", headers=headers).get_json()["items"][0]
    assert item["referral"]["signed_at"] and item["referral"]["instructions"][0]["confirmed_at"]
    detail = client.get(f"/api/v1/cases/{appeal.case_no}", headers=headers).get_json()
    assert detail["referral"]["signed_at"] == item["referral"]["signed_at"] and detail["urgent"] is False
    assert [e["action"] for e in detail["events"]][-2:] == ["sign_referral", "confirm_instruction"]
    resp = client.post(
        f"/api/v1/cases/{appeal.case_no}/reply",
        headers=headers,
        data={"text": "已退还多收费用", "file": (io.BytesIO(PDF), "退费凭证.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["status"] == "replied" and [m["name"] for m in body["materials"]] == ["退费凭证.pdf"]
    material = db.session.scalar(sa.select(Material))
    assert material.source == "operator" and material.appeal_id == appeal.id
    empty = client.post(
        f"/api/v1/cases/{appeal.case_no}/reply", headers=headers, data={}, content_type="multipart/form-data"
    )
    assert empty.status_code == 422 and "text" in empty.get_json()["errors"]


def test_evidence_of_the_terms_carried_out_is_attached_then_reported(client, operator_token):
    """A settled case: the operator uploads evidence files, then reports the terms done."""
    headers = operator_token()
    appeal = make_appeal(state="settled")
    resp = client.post(
        f"/api/v1/cases/{appeal.case_no}/files",
        headers=headers,
        data={"description": "退费到账截图", "file": [(io.BytesIO(PDF), "到账.pdf"), (io.BytesIO(PDF), "短信.pdf")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201 and len(resp.get_json()["materials"]) == 2
    assert client.post(f"/api/v1/cases/{appeal.case_no}/terms-done", headers=headers, json={}).status_code == 200
    none = client.post(
        f"/api/v1/cases/{appeal.case_no}/files", headers=headers, data={}, content_type="multipart/form-data"
    )
    assert none.status_code == 422 and "file" in none.get_json()["errors"]
    refused = client.post(
        f"/api/v1/cases/{appeal.case_no}/files",
        headers=headers,
        data={"file": (io.BytesIO(b"MZ\x90\x00 not a document"), "x.exe")},
        content_type="multipart/form-data",
    )
    assert refused.status_code in (415, 422) and "file" in refused.get_json()["errors"]


def test_the_catch_up_feed_gives_the_last_30_days_of_events_in_pages(client, operator_token):
    """Events as delivered, oldest first, only this operator's, none older than 30 days; `after` pages on."""
    headers = operator_token()
    make_appeal(state="settled")
    make_appeal(state="referred", operator_code="unicom_jl")
    old = db.session.scalar(sa.select(WebhookEvent).order_by(WebhookEvent.id))
    make_appeal(state="closed")
    old.created_at = utcnow() - dt.timedelta(days=31)
    db.session.commit()
    page = client.get("/api/v1/events?limit=2", headers=headers).get_json()
    types = [e["type"] for e in page["items"]]
    assert types == ["case.settled", "referral.created"] and page["next_after"]
    rest = client.get(f"/api/v1/events?after={page['next_after']}", headers=headers).get_json()
    assert [e["type"] for e in rest["items"]] == ["case.closed"] and rest["next_after"] is None
    every = page["items"] + rest["items"]
    assert all(set(e) == {"id", "type", "created_at", "data"} for e in every)
    assert old.public_id not in json.dumps(every)
    ancient = client.get("/api/v1/events?since=2020-01-01T00:00:00Z", headers=headers).get_json()["items"]
    assert len(ancient) == 3


def test_scopes_limit_what_a_token_may_do(client, operator_token):
    """A read-only token reads but cannot act or upload; a write-only token cannot read (403 naming the scope)."""
    appeal = make_appeal(state="referred")
    read = operator_token("referrals:read")
    assert client.get("/api/v1/referrals", headers=read).status_code == 200
    assert client.get(f"/api/v1/cases/{appeal.case_no}", headers=read).status_code == 200
    acted = client.post(f"/api/v1/cases/{appeal.case_no}/actions/sign_referral", headers=read, json={})
    assert acted.status_code == 403 and "referrals:write" in acted.get_json()["error"]
    upload = client.post(
        f"/api/v1/cases/{appeal.case_no}/reply", headers=read, data={"text": "x"}, content_type="multipart/form-data"
    )
    assert upload.status_code == 403
    write = operator_token("referrals:write")
    assert client.get("/api/v1/events", headers=write).status_code == 403
    assert (
        client.post(f"/api/v1/cases/{appeal.case_no}/actions/sign_referral", headers=write, json={}).status_code == 200
    )


def test_a_token_is_rotated_and_shows_when_it_was_last_used(client, operator_token, runner):
    """The rotated token works with the same scopes, the old one is refused; last use is recorded and listed."""
    headers = operator_token("referrals:read")
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    row = db.session.scalar(sa.select(ApiToken))
    assert row.last_used_at is not None
    resp = client.post("/api/v1/tokens/rotate", headers=headers)
    assert resp.status_code == 201
    new = resp.get_json()
    assert new["scopes"] == ["referrals:read"]
    assert client.get("/api/v1/referrals", headers=headers).status_code == 401
    assert client.get("/api/v1/referrals", headers={"Authorization": f"Bearer {new['token']}"}).status_code == 200
    listing = runner.invoke(args=["tokens", "list"]).output
    assert "referrals:read" in listing and "last used" in listing and "revoked" in listing


def test_staff_tokens_cannot_use_the_operator_endpoints(client, app):
    """The operator's list, files and feed are for operator tokens only."""
    user = make_user("supervisor")
    _, plain = accounts.create_token(user)
    db.session.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/referrals", headers=headers).status_code == 403
    assert client.get("/api/v1/events", headers=headers).status_code == 403


def test_an_admin_gives_a_liaison_a_read_only_token_on_the_tokens_page(client, auth, app):
    """Scopes ticked on the page are kept, listed, and enforced; an unknown scope is refused by the form."""
    import re

    from tests.factories import open_as

    auth.as_role("admin")
    liaison = make_user("operator", "liaison-page")
    page = client.get("/staff/admin/tokens").get_data(as_text=True)
    once = re.search(r'name="once" type="hidden" value="([^"]+)"', page).group(1)
    form = {"user": str(liaison.id), "label": "投诉系统（只读）", "scopes": ["referrals:read"], "once": once}
    html = client.post("/staff/admin/tokens/new", data=form).get_data(as_text=True)
    plain = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert db.session.scalar(sa.select(ApiToken.scopes).where(ApiToken.user_id == liaison.id)) == ["referrals:read"]
    assert "referrals:read" in client.get("/staff/admin/tokens").get_data(as_text=True)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert open_as(api, "GET", "/api/v1/referrals", headers=headers).status_code == 200
    assert open_as(api, "GET", "/api/v1/events", headers=headers).status_code == 200
    bad = open_as(client, "POST", "/staff/admin/tokens/new", data={**form, "scopes": ["cases:everything"]})
    assert bad.status_code == 422
