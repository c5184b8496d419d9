"""The bulletin's figures as tables, and those tables as CSV, XLSX, JSON and PDF (for staff and public pages)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.i18n import code_name, is_english
from app.spreadsheets import Percent, inert, xlsx_bytes

FIGURE_LABELS = {
    "phone_consultations": _l("电话咨询（件）"),
    "callbacks": _l("回访呼出（件）"),
    "visits": _l("现场来访（人次）"),
    "materials_received": _l("用户提交材料（件）"),
    "appeals_received": _l("收到申诉（件）"),
    "appeals_accepted": _l("受理用户申诉（件）"),
    "appeals_accepted_basic": _l("其中：基础电信业务企业（件）"),
    "appeals_accepted_resale_other": _l("其中：移动转售等其他企业（件）"),
    "appeals_accepted_year_before": _l("上年同期受理（件）"),
    "yoy_change_pct": _l("同比变化（%）"),
    "appeals_rejected": _l("不予受理（件）"),
    "withdrawn": _l("撤回（件）"),
    "settled": _l("达成和解（件）"),
    "settlement_rate_pct": _l("和解率（%）"),
}
TIMELINESS_LABELS = {
    "decisions": _l("受理决定（件）"),
    "decisions_on_time_pct": _l("按期作出受理决定（%）"),
    "operator_replies": _l("企业答复（件）"),
    "operator_replies_on_time_pct": _l("企业按期答复（%）"),
    "closed": _l("办结（件）"),
    "median_days_to_close": _l("受理至办结天数中位数"),
}
TABLE_KEYS = ("summary", "by_operator", "by_category", "by_outcome", "rejected_by_ground", "timeliness")


@dataclass
class Table:
    """A titled table: column headers and rows of plain values."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


def _value(v: Any, key: str = "") -> Any:
    """A figure for a table cell (a dash when missing; a percentage marked as one)."""
    if v is None:
        return "—"
    if key.endswith("_pct"):
        try:
            return Percent(v)
        except (TypeError, ValueError):
            return v
    return v


def tables(figures: dict[str, Any]) -> list[Table]:
    """Every table of a set of figures, with headers in the page's language."""
    summary = [[str(label), _value(figures.get(key), key)] for key, label in FIGURE_LABELS.items() if key in figures]
    operators = [
        [
            o["name"] or o["operator"],
            code_name(o["operator_type"], "operator_type"),
            o["accepted"],
            o["settled"],
            _value(o.get("subscribers")),
            _value(o.get("per_million")),
        ]
        for o in figures.get("by_operator", [])
    ]
    timeliness = figures.get("timeliness", {})
    return [
        Table("summary", _("主要数据"), [_("指标"), _("数值")], summary),
        Table(
            "by_operator",
            _("按被申诉企业"),
            [_("企业"), _("类型"), _("受理（件）"), _("和解（件）"), _("用户数"), _("百万用户申诉率")],
            operators,
        ),
        Table(
            "by_category",
            _("受理申诉按类别"),
            [_("类别"), _("件数")],
            [[code_name(k, "category"), v] for k, v in figures.get("by_category", {}).items()],
        ),
        Table(
            "by_outcome",
            _("办理结果"),
            [_("结果"), _("件数")],
            [[code_name(k, "outcome"), v] for k, v in figures.get("by_outcome", {}).items()],
        ),
        Table(
            "rejected_by_ground",
            _("不予受理理由"),
            [_("理由"), _("件数")],
            [[code_name(k, "rejection_ground"), v] for k, v in figures.get("rejected_by_ground", {}).items()],
        ),
        Table(
            "timeliness",
            _("办理时效"),
            [_("指标"), _("数值")],
            [[str(label), _value(timeliness.get(key), key)] for key, label in TIMELINESS_LABELS.items()],
        ),
    ]


def bars(rows: list[tuple[str, float | int]]) -> list[dict[str, Any]]:
    """Rows of a bar chart with each bar's length in percent of the largest (for server-rendered SVG)."""
    top = max((float(v or 0) for _, v in rows), default=0) or 1
    return [{"label": label, "value": v, "pct": round(100 * float(v or 0) / top, 1)} for label, v in rows]


def chart_rows(figures: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The bar rows of the breakdown charts."""
    return {
        "chart_operator": bars([(o["name"] or o["operator"], o["accepted"]) for o in figures["by_operator"]]),
        "chart_category": bars([(code_name(k, "category"), v) for k, v in figures["by_category"].items()]),
        "chart_outcome": bars([(code_name(k, "outcome"), v) for k, v in figures["by_outcome"].items()]),
    }


def csv_response(table: Table, filename: str) -> Response:
    """One table as a CSV download (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([inert(h) for h in table.headers])
    writer.writerows([inert(v) for v in row] for row in table.rows)
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def xlsx_response(all_tables: list[Table], filename: str) -> Response:
    """Every table as one sheet of an XLSX workbook (app.spreadsheets: named, typed, sized, header frozen)."""
    return Response(
        xlsx_bytes(all_tables),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


def json_response(payload: dict[str, Any], filename: str) -> Response:
    """The figures as a JSON download."""
    return Response(
        json.dumps(payload, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
    )


def pdf_response(title: str, paragraph: str, all_tables: list[Table], filename: str) -> Response:
    """The bulletin as a PDF, in the built-in CID font STSong-Light (renders Chinese without a font file)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    heading = ParagraphStyle("h", fontName=font, fontSize=16, leading=22, spaceAfter=6)
    sub = ParagraphStyle("s", fontName=font, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("b", fontName=font, fontSize=10.5, leading=17, wordWrap="CJK" if not is_english() else None)
    cell = ParagraphStyle("c", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    story: list[Any] = [Paragraph(title, heading)]
    if paragraph:
        story += [Paragraph(paragraph, body), Spacer(1, 4 * mm)]
    for t in all_tables:
        if not t.rows:
            continue
        story.append(Paragraph(t.title, sub))
        data = [[Paragraph(str(h), cell) for h in t.headers]] + [
            [Paragraph(str(v), cell) for v in row] for row in t.rows
        ]
        table = PdfTable(data, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, title=title, leftMargin=18 * mm, rightMargin=18 * mm).build(story)
    return Response(
        buf.getvalue(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}.pdf"'},
    )
