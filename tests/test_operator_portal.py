"""The operator portal: a liaison sees only its company's referred appeals, replies, proposes terms, reports them done."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import g, request_started
from werkzeug.datastructures import FileStorage

from app.extensions import db
from cases import materials
from cases.models import CaseEvent, Material, PiiView, Settlement
from tests.conftest import PASSWORD, make_user
from tests.factories import make_appeal
from tests.test_api_public import appeal_body
from workflows import engine

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _material(appeal, name="bill.pdf") -> Material:
    """A stored consumer material of a case."""
    material = materials.store_material(appeal, FileStorage(io.BytesIO(PDF), filename=name), source="consumer")
    db.session.commit()
    return material


def test_the_liaison_lists_only_the_appeals_referred_to_its_company_with_deadlines(client, auth):
    mine = make_appeal(state="referred")
    replied = make_appeal(state="replied")
    other = make_appeal(state="referred", operator_code="unicom_jl")
    not_referred = make_appeal(state="accepted")
    auth.as_role("operator", "cmcc_jl")
    html = client.get("/operator/").get_data(as_text=True)
    assert mine.case_no in html and replied.case_no in html
    assert other.case_no not in html and not_referred.case_no not in html
    assert "共 2 件" in html and "答复期限" in html
    assert mine.case_no not in client.get("/operator/?category=network").get_data(as_text=True)
    assert mine.case_no in client.get("/operator/?category=charging").get_data(as_text=True)
    only_replied = client.get("/operator/?state=replied").get_data(as_text=True)
    assert replied.case_no in only_replied and mine.case_no not in only_replied
    by_number = client.get(f"/operator/?q={mine.case_no[-6:]}").get_data(as_text=True)
    assert mine.case_no in by_number and replied.case_no not in by_number
    assert client.get("/operator/?state=nonsense&page=abc").status_code == 200


def test_an_overdue_reply_is_highlighted_and_can_be_filtered(client, auth):
    import datetime as dt

    late = make_appeal(state="referred", at=dt.datetime(2026, 1, 5, 2, 0))
    fresh = make_appeal(state="referred")
    auth.as_role("operator")
    html = client.get("/operator/?overdue=1").get_data(as_text=True)
    assert late.case_no in html and fresh.case_no not in html and "已超期" in html


def test_the_case_page_shows_only_what_the_operator_needs_and_the_full_phone_view_is_audited(client, auth):
    appeal = make_appeal(state="referred")
    user = auth.as_role("operator")
    html = client.get(f"/operator/cases/{appeal.case_no}").get_data(as_text=True)
    assert "138****8000" in html and "张*" in html and appeal.request in html and appeal.facts in html
    assert appeal.id_number not in html and appeal.email not in html and appeal.address not in html
    assert "张三" not in html
    shown = client.post(f"/operator/cases/{appeal.case_no}/phone").get_data(as_text=True)
    assert '<strong class="full-phone">13800138000</strong>' in shown
    view = db.session.scalar(sa.select(PiiView))
    assert view.user_id == user.id and view.appeal_id == appeal.id and view.field == "phone"


def test_an_operator_never_reaches_another_operators_case_or_material_by_guessing(client, auth):
    theirs = make_appeal(state="referred", operator_code="unicom_jl")
    accepted = make_appeal(state="accepted")
    material = _material(theirs)
    unreferred_material = _material(accepted)
    auth.as_role("operator", "cmcc_jl")
    for path in (
        f"/operator/cases/{theirs.case_no}",
        f"/operator/cases/{accepted.case_no}",
        "/operator/cases/JL2026-999999",
        f"/operator/materials/{material.id}",
        f"/operator/materials/{unreferred_material.id}",
        "/operator/materials/999999",
    ):
        assert client.get(path).status_code == 404, path
    for path in ("phone", "reply", "settlement", "terms-done"):
        assert client.post(f"/operator/cases/{theirs.case_no}/{path}", data={"text": "x"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(PiiView.id))) == 0
    assert theirs.status == "referred"


def test_a_re_referral_to_another_company_takes_the_case_away_from_the_first(client, auth):
    appeal = make_appeal(state="referred")
    engine.perform(appeal, "refer", role="mediator", data={"operator": "unicom_jl"})
    db.session.commit()
    auth.as_role("operator", "cmcc_jl")
    assert client.get(f"/operator/cases/{appeal.case_no}").status_code == 404
    auth.logout()
    auth.as_role("operator", "unicom_jl")
    assert client.get(f"/operator/cases/{appeal.case_no}").status_code == 200


def test_the_operator_replies_with_an_attachment_and_the_reply_reaches_the_timeline(client, auth):
    appeal = make_appeal(state="referred")
    consumer_file = _material(appeal)
    user = auth.as_role("operator")
    download = client.get(f"/operator/materials/{consumer_file.id}")
    assert download.status_code == 200 and download.data == PDF
    resp = client.post(
        f"/operator/cases/{appeal.case_no}/reply",
        data={
            "text": "已核实，多收流量费30元已退还",
            "version": str(appeal.version),
            "attachments": [(io.BytesIO(PDF), "refund.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    db.session.refresh(appeal)
    assert appeal.status == "replied"
    reply = appeal.events[-1]
    assert reply.action == "reply" and reply.actor_id == user.id and reply.actor_kind == "operator"
    assert reply.details["text"] == "已核实，多收流量费30元已退还" and not reply.internal
    uploaded = db.session.scalar(sa.select(Material).where(Material.source == "operator"))
    assert uploaded.original_name == "refund.pdf" and uploaded.uploaded_by_id == user.id
    assert "已核实，多收流量费30元已退还" in client.get(f"/operator/cases/{appeal.case_no}").get_data(as_text=True)


def test_an_empty_reply_a_stale_version_and_a_bad_attachment_are_refused(client, auth):
    appeal = make_appeal(state="referred")
    auth.as_role("operator")
    empty = client.post(f"/operator/cases/{appeal.case_no}/reply", data={"text": "  "})
    assert empty.status_code == 422 and "请填写答复内容" in empty.get_data(as_text=True)
    stale = client.post(f"/operator/cases/{appeal.case_no}/reply", data={"text": "好", "version": "0"})
    assert stale.status_code == 409
    bad = client.post(
        f"/operator/cases/{appeal.case_no}/reply",
        data={"text": "见附件", "attachments": [(io.BytesIO(b"MZ\x90\x00 not allowed"), "virus.exe")]},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 415
    db.session.refresh(appeal)
    assert appeal.status == "referred"
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_the_operator_proposes_a_settlement_that_the_mediator_sees_and_then_reports_the_terms_done(
    client, auth, separate_identities
):
    appeal = make_appeal(state="replied")
    auth.as_role("operator")
    bad = client.post(f"/operator/cases/{appeal.case_no}/settlement", data={"refund_amount": "-5"})
    assert bad.status_code == 422
    resp = client.post(
        f"/operator/cases/{appeal.case_no}/settlement",
        data={"refund_amount": "30.00", "apology": "y", "perform_by": "2036-12-20"},
    )
    assert resp.status_code == 302
    proposal = db.session.scalar(sa.select(Settlement))
    assert proposal.proposed_by == "operator" and proposal.agreed_at is None and proposal.apology
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "propose_settlement"))
    assert event.internal and event.details["refund_amount"] == "30.00"
    mediator_view = client.application.test_client()
    make_user("mediator", "mediator-view")
    mediator_view.post("/auth/login", data={"username": "mediator-view", "password": PASSWORD})
    calls_page = mediator_view.get(f"/staff/cases/{appeal.case_no}/calls").get_data(as_text=True)
    assert "企业提出的和解方案" in calls_page and "30.00" in calls_page
    # not settled yet: nothing to report done
    assert client.post(f"/operator/cases/{appeal.case_no}/terms-done").status_code == 409
    engine.perform(appeal, "settle", role="mediator", data={"refund_amount": "30", "perform_by": "2036-12-20"})
    db.session.commit()
    page = client.get(f"/operator/cases/{appeal.case_no}").get_data(as_text=True)
    assert "已达成和解" in page and "报告履行完毕" in page
    assert client.post(f"/operator/cases/{appeal.case_no}/terms-done", data={"note": "已退款"}).status_code == 302
    agreed = db.session.scalar(sa.select(Settlement).where(Settlement.agreed_at.is_not(None)))
    assert agreed.operator_reported_done_at is not None and agreed.confirmed_at is None
    done = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "terms_done"))
    assert done.internal and done.actor_kind == "operator"


def test_staff_cannot_use_the_operator_portal(client, auth):
    auth.as_role("mediator")
    assert client.get("/operator/").status_code == 403


def _staff_action(client, appeal, action: str, **fields):
    """POST a lifecycle action through the staff case page's form (field names carry the action as prefix)."""
    db.session.refresh(appeal)
    data = {f"{action}-{k}": v for k, v in fields.items()}
    data[f"{action}-version"] = str(appeal.version)
    resp = client.post(f"/staff/cases/{appeal.case_no}/actions/{action}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    db.session.refresh(appeal)
    return resp


@pytest.fixture
def separate_identities(app):
    """Several signed-in clients in one test: forget the previous request's user (the test app context is shared)."""

    def forget(sender, **extra):
        """Drop the previous request's identity from the shared g."""
        g.pop("_login_user", None)
        g.pop("user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def test_the_full_path_from_filing_to_closing_through_the_web_pages_leaves_an_audit_trail(app, separate_identities):

    from cases.models import Appeal, Contact

    consumer = app.test_client()
    filed = consumer.post(
        "/api/v1/appeals",
        json=appeal_body(),
    )
    assert filed.status_code == 201, filed.get_json()
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == filed.get_json()["case_no"]))

    clerk, mediator, liaison = app.test_client(), app.test_client(), app.test_client()
    for client, role in ((clerk, "clerk"), (mediator, "mediator"), (liaison, "operator")):
        user = make_user(role)
        assert client.post("/auth/login", data={"username": user.username, "password": PASSWORD}).status_code == 302

    _staff_action(clerk, appeal, "accept", note="材料齐全")
    _staff_action(mediator, appeal, "refer", note="请核实扣费")
    assert appeal.status == "referred"

    page = liaison.get(f"/operator/cases/{appeal.case_no}").get_data(as_text=True)
    assert "138****8000" in page
    resp = liaison.post(
        f"/operator/cases/{appeal.case_no}/reply",
        data={"text": "经核实多扣50元，同意退还", "version": str(appeal.version)},
    )
    assert resp.status_code == 302
    db.session.refresh(appeal)
    assert appeal.status == "replied"
    staff_page = mediator.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert "经核实多扣50元，同意退还" in staff_page and "回访记录" in staff_page

    resp = mediator.post(
        f"/staff/cases/{appeal.case_no}/calls",
        data={"callee": "consumer", "at": "2026-11-25T10:00", "reached": "yes", "notes": "申诉人同意退费方案"},
    )
    assert resp.status_code == 302
    _staff_action(mediator, appeal, "settle", refund_amount="50.00", perform_by="2036-12-31", note="双方和解")
    assert appeal.status == "settled"

    assert liaison.post(f"/operator/cases/{appeal.case_no}/terms-done", data={"note": "已退款"}).status_code == 302
    resp = mediator.post(
        f"/staff/cases/{appeal.case_no}/calls",
        data={
            "callee": "consumer",
            "at": "2026-11-26T10:00",
            "reached": "yes",
            "terms_carried_out": "yes",
            "satisfaction": "5",
            "notes": "退款已到账",
        },
    )
    assert resp.status_code == 302
    _staff_action(mediator, appeal, "close", note="回访确认已履行")
    assert appeal.status == "closed" and appeal.outcome == "settled"

    trail = [(e.action, e.actor_kind) for e in appeal.events]
    assert trail == [
        ("submit", "consumer"),
        ("accept", "staff"),
        ("refer", "staff"),
        ("reply", "operator"),
        ("callback", "staff"),
        ("settle", "staff"),
        ("terms_done", "operator"),
        ("callback", "staff"),
        ("close", "staff"),
    ]
    assert all(e.actor_id is not None for e in appeal.events[1:])
    assert db.session.scalar(sa.select(sa.func.count(Contact.id)).where(Contact.channel == "callback")) == 2


def test_absurd_page_numbers_ids_and_dates_never_break_the_pages(client, auth):
    auth.as_role("operator")
    assert client.get("/operator/?page=99999999999999999999999").status_code == 200
    assert client.get("/operator/materials/99999999999999999999999").status_code == 404


def test_the_operator_portal_speaks_english_when_asked(client, auth):
    appeal = make_appeal(state="referred")
    auth.as_role("operator")
    client.set_cookie("lang", "en")
    listing = client.get("/operator/").get_data(as_text=True)
    assert "Operator liaison desk" in listing and "Reply due" in listing
    page = client.get(f"/operator/cases/{appeal.case_no}").get_data(as_text=True)
    assert "Show the full number" in page and "Submit the reply" in page and "Referred to operator" in page
