"""The XLSX exports, read back with openpyxl: Chinese sheet names, the header row frozen, columns as wide as their
labels, numbers stored as numbers and percentages as fractions with a percent format."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from app.spreadsheets import Percent, display_width, sheet_names, xlsx_bytes
from cases import bulletin
from tests.factories import make_appeal
from workflows import engine, jobs

AT = dt.datetime(2022, 9, 1, 2, 0)  # 2022H2


def published_period(client) -> None:
    for n in range(4):
        appeal = make_appeal(state="accepted", at=AT, service_number=f"1310000000{n}")
        if n < 3:
            engine.perform(appeal, "refer", role="mediator", at=AT)
            engine.perform(appeal, "reply", role="operator", data={"text": "已核实"}, at=AT)
            engine.perform(
                appeal, "settle", role="mediator", data={"refund_amount": "20", "perform_by": "2022-10-01"}, at=AT
            )
    jobs.rollup_period("2022H2")
    bulletin.publish(bulletin.get_revision("2022H2", 1), None)


def test_the_bulletin_workbook_is_typed_named_sized_and_frozen(client):
    published_period(client)
    wb = load_workbook(io.BytesIO(client.get("/bulletin/2022H2/export.xlsx").data))
    assert wb.sheetnames[:6] == ["主要数据", "按被申诉企业", "受理申诉按类别", "办理结果", "不予受理理由", "办理时效"]
    assert all(name.startswith("受理用户申诉趋势") for name in wb.sheetnames[6:])  # the trends, test_bulletin.py
    summary = wb["主要数据"]
    assert summary.freeze_panes == "A2" and [c.value for c in summary[1]] == ["指标", "数值"]
    rows = {row[0].value: row[1] for row in summary.iter_rows(min_row=2)}
    accepted = rows["受理用户申诉（件）"]
    assert accepted.value == 4 and accepted.data_type == "n"
    rate = rows["和解率（%）"]
    assert rate.data_type == "n" and abs(rate.value - 0.75) < 1e-9 and rate.number_format == "0.00%"
    longest = max(display_width(row[0].value) for row in summary.iter_rows())
    assert summary.column_dimensions["A"].width >= longest  # the labels fit
    operators = wb["按被申诉企业"]
    assert operators.freeze_panes == "A2"
    assert all(isinstance(row[2].value, int) for row in operators.iter_rows(min_row=2))  # 受理（件）as numbers


def test_a_case_list_exports_with_its_queues_name_as_the_sheet(client, auth):
    auth.as_role("clerk")
    make_appeal(facts="多扣费")
    wb = load_workbook(io.BytesIO(client.get("/staff/queues/new/export.xlsx").data))
    assert wb.sheetnames == ["待受理"]
    sheet = wb["待受理"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].value == "案件编号"
    assert sheet.column_dimensions["A"].width >= len(sheet["A2"].value)


def test_sheet_names_are_what_excel_accepts():
    assert sheet_names(["受理/不予受理", "a" * 40, "a" * 40]) == ["受理 不予受理", "a" * 31, "a" * 27 + " (2)"]
    assert display_width("和解率") == 6 and display_width(Percent(58.69)) == len("58.69%")


def test_percentages_and_dates_keep_their_types():
    class T:
        title, headers, rows = "表", ["比例", "时间"], [[Percent(12.5), dt.datetime(2026, 1, 5, 8, 30)]]

    sheet = load_workbook(io.BytesIO(xlsx_bytes([T]))).active
    assert sheet["A2"].value == 0.125 and sheet["A2"].number_format == "0.00%"
    assert sheet["B2"].value == dt.datetime(2026, 1, 5, 8, 30) and sheet["B2"].is_date
