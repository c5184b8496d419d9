"""The staff case page: masking and the audit of viewing, internal notes, duplicates and repeats, assignment,
the dashboard, and the materials (download as attachment, sandboxed preview)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from cases.models import Appeal, PiiView, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal
from workflows import lifecycle

FULL = {
    "phone": "13800138000",
    "service_number": "13800138000",
    "id_number": "220102199001011234",
    "address": "吉林省长春市朝阳区人民大街100号",
    "email": "zhangsan@example.com",
}


def _fresh(appeal: Appeal) -> Appeal:
    """The appeal as the database has it now."""
    db.session.expire_all()
    return db.session.get(Appeal, appeal.id)


# --- masking and the audit of viewing --------------------------------------------------------------------


def test_personal_data_is_masked_on_the_case_page_by_default(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    html = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    for value in FULL.values():
        assert value not in html
    assert "138****8000" in html and "220102********1234" in html and "z***@example.com" in html
    assert "吉林省长春市****" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PiiView)) == 0


def test_a_mediator_reveals_one_field_and_the_viewing_is_recorded(client, auth):
    mediator = auth.as_role("mediator")
    a = make_appeal()
    resp = client.post(f"/staff/cases/{a.case_no}/reveal", data={"field": "phone"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert FULL["phone"] in html and FULL["id_number"] not in html
    views = db.session.scalars(sa.select(PiiView)).all()
    assert [(v.user_id, v.appeal_id, v.field) for v in views] == [(mediator.id, a.id, "phone")]
    assert views[0].at is not None


def test_revealing_all_shows_every_field_and_records_each(client, auth):
    clerk = auth.as_role("clerk")
    a = make_appeal()
    html = client.post(f"/staff/cases/{a.case_no}/reveal", data={"field": "all"}).get_data(as_text=True)
    for value in FULL.values():
        assert value in html
    fields = sorted(v.field for v in db.session.scalars(sa.select(PiiView).where(PiiView.user_id == clerk.id)))
    assert fields == sorted(FULL)
    # the next visit is masked again
    assert FULL["phone"] not in client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)


def test_an_admin_sees_the_case_masked_and_may_not_reveal(client, auth):
    auth.as_role("admin")
    a = make_appeal()
    html = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    assert "显示完整信息" not in html and FULL["phone"] not in html
    assert client.post(f"/staff/cases/{a.case_no}/reveal", data={"field": "phone"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PiiView)) == 0


def test_revealing_an_unknown_field_is_a_bad_request(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    assert client.post(f"/staff/cases/{a.case_no}/reveal", data={"field": "password_hash"}).status_code == 400
    assert client.post("/staff/cases/JL2026-999999/reveal", data={"field": "phone"}).status_code == 404


# --- internal notes -----------------------------------------------------------------------------------------


def test_an_internal_note_joins_the_timeline_without_changing_the_state(client, auth):
    clerk = auth.as_role("clerk")
    a = make_appeal()
    version = a.version
    resp = client.post(f"/staff/cases/{a.case_no}/notes", data={"text": "申诉人来电补充：已在营业厅投诉两次"})
    assert resp.status_code == 302
    a = _fresh(a)
    note = a.events[-1]
    assert (note.action, note.internal, note.actor_id) == ("note", True, clerk.id)
    assert note.details["text"] == "申诉人来电补充：已在营业厅投诉两次"
    assert a.status == "received" and a.version == version
    assert "申诉人来电补充" in client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)


def test_an_empty_note_is_refused_next_to_the_field(client, auth):
    auth.as_role("mediator")
    a = make_appeal()
    resp = client.post(f"/staff/cases/{a.case_no}/notes", data={"text": "  "})
    assert resp.status_code == 422 and 'id="text-error"' in resp.get_data(as_text=True)
    assert len(_fresh(a).events) == 1


# --- duplicates and repeat appeals (Art. 11(3)) ------------------------------------------------------------


def test_duplicates_are_shown_on_the_case_page_and_marked_in_the_new_queue(client, auth):
    auth.as_role("clerk")
    earlier = make_appeal(state="closed", at=utcnow() - dt.timedelta(days=300))
    too_old = make_appeal(state="closed", at=utcnow() - dt.timedelta(days=400))
    other_operator = make_appeal(operator_code="unicom_jl")
    other_number = make_appeal(service_number="13100000001")
    a = make_appeal()
    html = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    similar = html.split('id="similar-list"')[1].split("</ul>")[0]
    assert earlier.case_no in similar
    for unrelated in (too_old, other_operator, other_number):
        assert unrelated.case_no not in similar
    queue = client.get("/staff/queues/new").get_data(as_text=True)
    row = next(r for r in queue.split("<tr>") if a.case_no in r)
    assert "疑似重复" in row
    lonely = next(r for r in queue.split("<tr>") if other_number.case_no in r)
    assert "疑似重复" not in lonely


def test_a_clerk_marks_a_repeat_then_rejects_it_under_art_11_3(client, auth):
    clerk = auth.as_role("clerk")
    earlier = make_appeal(state="closed")
    a = make_appeal()
    resp = client.post(
        f"/staff/cases/{a.case_no}/repeat", data={"original": earlier.case_no, "version": str(a.version)}
    )
    assert resp.status_code == 302
    a = _fresh(a)
    assert a.repeat_of_id == earlier.id and a.status == "received"
    event = a.events[-1]
    assert (event.action, event.internal, event.actor_id) == ("mark_repeat", True, clerk.id)
    assert event.from_state == event.to_state == "received"
    assert event.details["repeat_of"] == earlier.case_no
    reject = lifecycle.transition_for("reject", "received")
    resp = client.post(
        f"/staff/cases/{a.case_no}/actions/reject",
        data={"reject-ground": "art11_3", "reject-explanation": "同一事项已处理", "reject-version": str(a.version)},
    )
    assert resp.status_code == 302 and reject.target == _fresh(a).status
    assert _fresh(a).rejection_ground == "art11_3"


def test_only_a_listed_duplicate_can_be_chosen_as_the_original(client, auth):
    auth.as_role("clerk")
    unrelated = make_appeal(service_number="13100000001")
    a = make_appeal()
    resp = client.post(
        f"/staff/cases/{a.case_no}/repeat", data={"original": unrelated.case_no, "version": str(a.version)}
    )
    assert resp.status_code == 422
    assert _fresh(a).repeat_of_id is None


def test_a_mediator_cannot_mark_repeats(client, auth):
    auth.as_role("mediator")
    earlier = make_appeal()
    a = make_appeal()
    resp = client.post(f"/staff/cases/{a.case_no}/repeat", data={"original": earlier.case_no, "version": "1"})
    assert resp.status_code == 403


# --- assignment -------------------------------------------------------------------------------------------


def test_a_supervisor_assigns_a_mediator_and_it_is_audited_without_a_state_change(client, auth):
    supervisor = auth.as_role("supervisor")
    mediator = make_user("mediator", "med1")
    a = make_appeal(state="accepted")
    resp = client.post(f"/staff/cases/{a.case_no}/assign", data={"mediator": str(mediator.id), "version": a.version})
    assert resp.status_code == 302
    a = _fresh(a)
    assert a.assignee_id == mediator.id and a.status == "accepted"
    event = a.events[-1]
    assert (event.action, event.actor_id, event.internal) == ("assign", supervisor.id, True)
    assert event.details["assignee"] == "med1"
    dashboard = client.get("/staff/dashboard").get_data(as_text=True)
    assert 'id="workload-med1">1<' in dashboard


def test_a_supervisor_cannot_assign_a_clerk_and_a_stale_page_is_refused(client, auth):
    auth.as_role("supervisor")
    clerk = make_user("clerk", "clerk9")
    mediator = make_user("mediator", "med1")
    a = make_appeal(state="accepted")
    assert (
        client.post(
            f"/staff/cases/{a.case_no}/assign", data={"mediator": str(clerk.id), "version": a.version}
        ).status_code
        == 422
    )
    stale = client.post(
        f"/staff/cases/{a.case_no}/assign", data={"mediator": str(mediator.id), "version": a.version - 1}
    )
    assert stale.status_code == 409
    assert _fresh(a).assignee_id is None


def test_a_mediator_takes_a_case_and_finds_it_under_my_cases(client, auth):
    mediator = auth.as_role("mediator")
    a = make_appeal(state="accepted")
    page = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    assert "我来办理" in page
    assert client.post(f"/staff/cases/{a.case_no}/take", data={"version": a.version}).status_code == 302
    a = _fresh(a)
    assert a.assignee_id == mediator.id
    assert a.events[-1].action == "assign" and a.events[-1].details["taken"] is True
    assert a.case_no in client.get("/staff/queues/mine").get_data(as_text=True)
    assert "我来办理" not in client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)


def test_a_clerk_may_neither_assign_nor_take(client, auth):
    auth.as_role("clerk")
    mediator = make_user("mediator")
    a = make_appeal(state="accepted")
    assert (
        client.post(
            f"/staff/cases/{a.case_no}/assign", data={"mediator": mediator.id, "version": a.version}
        ).status_code
        == 403
    )
    assert client.post(f"/staff/cases/{a.case_no}/take", data={"version": a.version}).status_code == 403


def test_a_closed_case_cannot_be_taken(client, auth):
    auth.as_role("mediator")
    a = make_appeal(state="closed")
    assert client.post(f"/staff/cases/{a.case_no}/take", data={"version": a.version}).status_code == 409


# --- the supervisor dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_states_overdue_clocks_by_kind_and_workload(client, auth):
    auth.as_role("supervisor")
    busy = make_user("mediator", "busy")
    make_user("mediator", "idle")
    make_appeal(at=dt.datetime(2026, 1, 5, 2, 0))  # decision and reply clocks both late
    make_appeal(service_number="13100000001")
    referred = make_appeal(state="referred", service_number="13100000002")
    referred.assignee_id = busy.id
    done = make_appeal(state="closed", service_number="13100000003")
    done.assignee_id = busy.id  # closed cases are not workload
    db.session.commit()
    html = client.get("/staff/dashboard").get_data(as_text=True)
    assert 'id="state-received">2<' in html and 'id="state-referred">1<' in html and 'id="state-closed">1<' in html
    assert 'id="overdue-decision">1<' in html and 'id="overdue-consumer_reply">1<' in html
    assert 'id="overdue-operator_reply">0<' in html
    assert 'id="workload-busy">1<' in html and 'id="workload-idle">0<' in html


def test_the_supervisor_sees_the_dashboard_link_and_a_clerk_does_not_reach_it(client, auth):
    auth.as_role("supervisor")
    assert "主管看板" in client.get("/staff/").get_data(as_text=True)
    auth.logout()
    auth.as_role("clerk")
    assert client.get("/staff/dashboard").status_code == 403


# --- materials ---------------------------------------------------------------------------------------------

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e2b1c5e50000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _store(appeal: Appeal, name: str, content: bytes):
    """Store a file as a consumer's material of the appeal (the public area's real storage)."""
    from cases.materials import store_material

    material = store_material(appeal, FileStorage(io.BytesIO(content), filename=name), source="consumer")
    db.session.commit()
    return material


@pytest.mark.parametrize(
    ("name", "content", "mime"), [("账单.png", PNG, "image/png"), ("bill.pdf", PDF, "application/pdf")]
)
def test_a_material_downloads_as_an_attachment_and_previews_inside_a_sandbox(client, auth, name, content, mime):
    auth.as_role("clerk")
    a = make_appeal()
    m = _store(a, name, content)
    page = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    assert f"/staff/cases/{a.case_no}/materials/{m.id}/preview" in page
    download = client.get(f"/staff/cases/{a.case_no}/materials/{m.id}")
    assert download.status_code == 200 and download.data == content
    assert download.mimetype == mime
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    preview = client.get(f"/staff/cases/{a.case_no}/materials/{m.id}/preview").get_data(as_text=True)
    assert f"/staff/cases/{a.case_no}/materials/{m.id}/inline" in preview
    inline = client.get(f"/staff/cases/{a.case_no}/materials/{m.id}/inline")
    assert inline.status_code == 200 and inline.data == content
    assert inline.headers["Content-Disposition"].startswith("inline")
    assert inline.headers["Content-Security-Policy"].startswith("sandbox")
    assert inline.headers["X-Content-Type-Options"] == "nosniff"


def test_a_material_of_another_case_or_a_document_is_not_previewed(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    b = make_appeal(service_number="13100000001")
    m = _store(a, "账单.png", PNG)
    assert client.get(f"/staff/cases/{b.case_no}/materials/{m.id}").status_code == 404
    assert client.get(f"/staff/cases/{b.case_no}/materials/{m.id}/inline").status_code == 404
    assert client.get(f"/staff/cases/{a.case_no}/materials/999999").status_code == 404


def test_an_admin_cannot_download_materials(client, auth):
    auth.as_role("admin")
    a = make_appeal()
    m = _store(a, "账单.png", PNG)
    assert client.get(f"/staff/cases/{a.case_no}/materials/{m.id}").status_code == 403
