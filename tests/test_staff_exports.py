"""Case lists as CSV and XLSX: masked for every member of staff, full (and audited) for supervisors only."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.staff import exports
from cases.models import PiiView
from tests.factories import make_appeal

PHONE, ID_NUMBER = "13912345678", "220102199001011234"


def _csv_rows(resp) -> list[list[str]]:
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")  # the BOM spreadsheet programs need to read Chinese
    return list(csv.reader(io.StringIO(text[1:])))


def test_a_clerk_exports_a_filtered_queue_with_personal_data_masked(client, auth):
    make_appeal(state="received", phone=PHONE, service_number=PHONE, category="network", facts="宽带断网三天")
    make_appeal(state="received", category="charging")
    auth.as_role("clerk")
    resp = client.get("/staff/queues/new/export.csv?category=network")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="queue-new-')
    assert resp.headers["Cache-Control"] == "no-store"
    rows = _csv_rows(resp)
    assert rows[0][:3] == ["案件编号", "状态", "收到时间"] and len(rows) == 2  # the header and the one network case
    body = resp.get_data(as_text=True)
    assert "139****5678" in body and PHONE not in body and "宽带断网" not in body and ID_NUMBER not in body
    page = client.get("/staff/queues/new?category=network").get_data(as_text=True)
    assert "/staff/queues/new/export.csv?category=network" in page and "export-full" not in page


def test_xlsx_cells_that_look_like_formulas_stay_text(client, auth):
    make_appeal(state="received", complainant_name='=HYPERLINK("http://x")', facts="+1+1")
    auth.as_role("supervisor")
    resp = client.post("/staff/queues/new/export-full.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert '\'=HYPERLINK("http://x")' in values and "'+1+1" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_a_supervisor_exports_full_data_and_each_case_is_audited(client, auth):
    first = make_appeal(state="received", phone=PHONE, id_number=ID_NUMBER, facts="多扣了流量费")
    second = make_appeal(state="received")
    supervisor = auth.as_role("supervisor")
    masked = client.get("/staff/queues/new").get_data(as_text=True)
    assert "export-full.xlsx" in masked
    resp = client.post("/staff/queues/new/export-full.csv")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and PHONE in body and ID_NUMBER in body and "多扣了流量费" in body
    views = db.session.execute(sa.select(PiiView.appeal_id, PiiView.user_id, PiiView.field)).all()
    assert sorted(views) == sorted([(first.id, supervisor.id, "export"), (second.id, supervisor.id, "export")])
    audit = client.get("/staff/audit").get_data(as_text=True)
    assert "导出（全部个人信息和陈述）" in audit


def test_only_a_supervisor_may_export_full_data(client, auth):
    make_appeal(state="received")
    auth.as_role("mediator")
    assert client.post("/staff/queues/new/export-full.csv").status_code == 403
    assert client.post("/staff/search/export-full.csv?q=JL").status_code == 403
    assert client.get("/staff/queues/new/export-full.csv").status_code == 405
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PiiView)) == 0


def test_search_results_export_and_bad_requests(client, auth):
    make_appeal(state="received", phone=PHONE)
    make_appeal(state="received")
    auth.as_role("mediator")
    rows = _csv_rows(client.get(f"/staff/search/export.csv?q={PHONE}&key=phone"))
    assert len(rows) == 2 and rows[1][7] == "139****5678"
    assert client.get("/staff/search/export.pdf?q=JL").status_code == 404
    assert client.get("/staff/queues/nope/export.csv").status_code == 404
    assert client.get("/staff/search/export.csv").status_code == 302  # nothing searched: back to the search page
    assert client.get("/staff/queues/new/export.csv?received_from=2026-02-30&operator=99999999999").status_code == 200


def test_a_list_longer_than_an_export_takes_is_refused_with_a_message(client, auth, monkeypatch):
    for _ in range(3):
        make_appeal(state="received")
    monkeypatch.setattr(exports, "MAX_ROWS", 2)
    auth.as_role("clerk")
    resp = client.get("/staff/queues/new/export.xlsx")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/queues/new")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "列表超过 2 件，请用筛选条件缩小范围后再导出。" in page


def test_figures_keep_their_sign_and_only_formula_like_text_is_guarded():
    from app.spreadsheets import inert as cell

    assert [cell("-12.50"), cell("+3"), cell("58.69%"), cell(-4), cell("正常")] == [
        "-12.50",
        "+3",
        "58.69%",
        -4,
        "正常",
    ]
    assert [cell("=1+1"), cell("-cmd|' /C calc'!A0"), cell("@SUM(A1)"), cell("＝1")] == [
        "'=1+1",
        "'-cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "'＝1",
    ]
