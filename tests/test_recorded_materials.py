"""Materials that came by post or at the counter, recorded by staff: a scan or a described paper item; both count."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import recorded_materials, statistics
from cases.bulletin import Period
from cases.models import CaseEvent, Material
from tests.factories import make_appeal
from workflows.calendar import local_date

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _today() -> str:
    return local_date(dt.datetime.now(dt.UTC).replace(tzinfo=None)).isoformat()


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Material))


def test_a_clerk_records_a_scanned_letter_and_a_paper_item_and_both_count(client, auth):
    """Upload a scan that came by post; record a receipt handed in at the counter; the figure counts both."""
    auth.as_role("clerk")
    appeal = make_appeal(state="received")
    form = client.get(f"/staff/cases/{appeal.case_no}/materials/record").get_data(as_text=True)
    assert "登记邮寄或窗口递交的材料" in form and f'value="{_today()}"' in form
    resp = client.post(
        f"/staff/cases/{appeal.case_no}/materials/record",
        data={
            "kind": "upload",
            "arrived_by": "post",
            "received_on": _today(),
            "file": (io.BytesIO(PDF), "来信扫描.pdf"),
            "description": "申诉人来信及附件",
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/staff/cases/{appeal.case_no}#h-materials")
    resp = client.post(
        f"/staff/cases/{appeal.case_no}/materials/record",
        data={"kind": "paper", "arrived_by": "counter", "received_on": _today(), "description": "缴费发票原件2张"},
    )
    assert resp.status_code == 302
    scan, paper = db.session.scalars(sa.select(Material).order_by(Material.id)).all()
    assert (scan.source, scan.arrived_by, scan.mime_type, scan.stored_name is not None) == (
        "staff",
        "post",
        "application/pdf",
        True,
    )
    assert (paper.source, paper.arrived_by, paper.stored_name, paper.description) == (
        "staff",
        "counter",
        None,
        "缴费发票原件2张",
    )
    page = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert "来信扫描.pdf" in page and "缴费发票原件2张" in page and "窗口递交" in page and "邮寄" in page
    audit = db.session.scalars(sa.select(CaseEvent.action).where(CaseEvent.action == "record_material")).all()
    assert audit == ["record_material", "record_material"]
    p = Period.containing(scan.received_at)
    assert statistics.compute(p.start_utc, p.end_utc, p)["materials_received"] == 2


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "paper", "arrived_by": "post", "description": ""}, "description", "请说明这份纸质材料是什么"),
        ({"kind": "paper", "description": "发票"}, "arrived_by", "请选择材料的递交方式"),
        (
            {"kind": "paper", "arrived_by": "post", "description": "发票", "received_on": "2999-01-01"},
            "received_on",
            "不能晚于今天",
        ),
        (
            {"kind": "paper", "arrived_by": "post", "description": "发票", "received_on": "2001-01-01"},
            "received_on",
            "不能早于收到申诉",
        ),
        ({"kind": "upload", "arrived_by": "post"}, "file", "请选择要上传的文件"),
    ],
)
def test_a_wrong_entry_is_explained_and_what_was_typed_is_kept(client, auth, data, field, message):
    auth.as_role("clerk")
    appeal = make_appeal(state="received")
    data = {"received_on": _today(), **data}
    resp = client.post(f"/staff/cases/{appeal.case_no}/materials/record", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html and f'id="{field}-error"' in html
    if data.get("description"):
        assert data["description"] in html
    assert _count() == 0


def test_a_file_refused_for_its_content_is_named_and_nothing_is_kept(client, auth):
    auth.as_role("clerk")
    appeal = make_appeal(state="received")
    resp = client.post(
        f"/staff/cases/{appeal.case_no}/materials/record",
        data={
            "kind": "upload",
            "arrived_by": "counter",
            "received_on": _today(),
            "file": (io.BytesIO(b"MZ\x90"), "a.exe"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 415 and "不支持这种文件类型" in resp.get_data(as_text=True)
    assert _count() == 0


def test_the_domain_lists_a_cases_materials_and_finds_one_only_in_its_own_case(app):
    appeal, other = make_appeal(state="received"), make_appeal(state="received", service_number="13900000001")
    item = recorded_materials.record_paper(
        appeal, description="身份证复印件", arrived_by="counter", received_on=local_date(appeal.received_at), user=None
    )
    db.session.commit()
    assert [m.id for m in recorded_materials.case_materials(appeal)] == [item.id]
    assert recorded_materials.case_material(appeal, item.id) is item
    assert recorded_materials.case_material(other, item.id) is None


def test_an_operator_or_an_admin_cannot_record_materials(client, auth):
    appeal = make_appeal(state="received")
    auth.as_role("operator")
    resp = client.post(
        f"/staff/cases/{appeal.case_no}/materials/record",
        data={"kind": "paper", "arrived_by": "post", "description": "x", "received_on": _today()},
    )
    assert resp.status_code in (302, 403) and _count() == 0
