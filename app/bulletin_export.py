"""The bulletin's figures as tables, and those tables as CSV, XLSX, JSON and PDF (for staff and public pages)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app
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
    "urgent_marked": _l("标记为紧急的案件（件）"),
    "urgent_decisions_on_time_pct": _l("紧急案件按期作出受理决定（%）"),
    "urgent_operator_replies_on_time_pct": _l("紧急案件企业按期答复（%）"),
}
TREND_TITLES = {
    "operator": _l("受理用户申诉趋势：按被申诉企业（件）"),
    "category": _l("受理用户申诉趋势：按类别（件）"),
    "service_type": _l("受理用户申诉趋势：按业务类型（件）"),
}
TREND_HEADERS = {"operator": _l("企业"), "category": _l("类别"), "service_type": _l("业务类型")}


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
    return _breakdown_tables(figures, summary, operators, timeliness) + trend_tables(figures)


def _breakdown_tables(figures, summary, operators, timeliness) -> list[Table]:
    """The tables of the period's figures and breakdowns."""
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
            [[_ground_name(k), v] for k, v in figures.get("rejected_by_ground", {}).items()],
        ),
        Table(
            "timeliness",
            _("办理时效"),
            [_("指标"), _("数值")],
            [[str(label), _value(timeliness.get(key), key)] for key, label in TIMELINESS_LABELS.items()],
        ),
    ]


def operator_names() -> dict[str, str]:
    """Operator code -> the short name, else the full name."""
    import sqlalchemy as sa

    from app.extensions import db
    from cases.models import Operator

    rows = db.session.execute(sa.select(Operator.code, Operator.short_name, Operator.name))
    return {code: short or name for code, short, name in rows}


def _series_names(dimension: str, keys: list[str]) -> dict[str, str]:
    """Display names of a trend's series."""
    if dimension == "operator":
        names = operator_names()
        return {k: names.get(k, k) for k in keys}
    return {k: code_name(k, dimension) for k in keys}


def bucket_label(day: str, unit: str) -> str:
    """2022-07 for a month, 2022-07-04 (its Monday) for a week."""
    return day[:7] if unit == "month" else day


def trend_tables(figures: dict[str, Any]) -> list[Table]:
    """The trends' data tables (one series a row, one month or week a column), when the figures carry them."""
    out = []
    trends = figures.get("trends")
    if trends:
        columns = [bucket_label(d, trends["unit"]) for d in trends["buckets"]]
        for dimension in ("operator", "category", "service_type"):
            names = _series_names(dimension, list(trends[dimension]))
            rows = [[names[k], *v] for k, v in trends[dimension].items()]
            rows.append([_("合计"), *trends["total"]])
            out.append(
                Table(
                    f"trend_{dimension}", str(TREND_TITLES[dimension]), [str(TREND_HEADERS[dimension]), *columns], rows
                )
            )
    rates = figures.get("per_million_trend")
    if rates and rates["operator"]:
        names = _series_names("operator", list(rates["operator"]))
        labels = [_period_label(code) for code in rates["periods"]]
        rows = [[names[k], *(_value(v) for v in values)] for k, values in rates["operator"].items()]
        out.append(Table("per_million", _("百万用户申诉率趋势（按被申诉企业）"), [_("企业"), *labels], rows))
    return out


def _period_label(code: str) -> str:
    from cases.bulletin import Period

    p = Period.parse(code)
    return p.label_en() if is_english() else p.label_zh()


def trend_charts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The trends as line charts, each with the key of its data table (for the table and the CSV link)."""
    from app.charts import line_chart

    charts = []
    for t in trend_tables(figures):
        series_rows = t.rows[:-1] if t.key.startswith("trend_") else t.rows  # the total row is in the table only
        series = {str(row[0]): [None if v == "—" else v for v in row[1:]] for row in series_rows}
        charts.append({"key": t.key, "title": t.title, "chart": line_chart(short_labels(t.headers[1:]), series, {})})
    return charts


def short_labels(labels: list[str]) -> list[str]:
    """Labels under a chart's axis: a week's Monday as MM-DD (the table keeps the full date)."""
    return [label[5:] if len(label) == 10 else label for label in labels]


def _ground_name(code: str) -> str:
    """A rejection ground's name; "unknown" for rejections an older system recorded without their ground."""
    return _("理由不详（原系统未记录）") if code == "unknown" else code_name(code, "rejection_ground")


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


def pdf_response(
    title: str, period_label: str, paragraph: str, all_tables: list[Table], charts: list[Any], filename: str
) -> Response:
    """The bulletin as a PDF: the centre and the period atop each page, page numbers, charts, then tables."""
    from app import bulletin_pdf

    data = bulletin_pdf.build(
        title=title,
        header_left=current_app.config["CENTRE_NAME"],
        header_right=period_label,
        page_label=_("第 {n} 页，共 {nb} 页"),
        paragraph=paragraph,
        charts=charts,
        tables=all_tables,
        charts_heading=_("图表"),
        tables_heading=_("数据表"),
        font_path=current_app.config.get("PDF_FONT_PATH") or bulletin_pdf.DEFAULT_FONT,
        lang="en" if is_english() else "zh-CN",
    )
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}.pdf"'},
    )


def pdf_charts(figures: dict[str, Any]) -> list[Any]:
    """The charts of a set of figures, for the PDF."""
    from app.bulletin_pdf import Chart

    rows = chart_rows(figures)
    trend = figures.get("trends")
    over_time = []
    if trend:
        title = _("受理用户申诉按月（件）") if trend["unit"] == "month" else _("受理用户申诉按周（件）")
        buckets = [bucket_label(d, trend["unit"]) for d in trend["buckets"]]
        over_time = [Chart(title, list(zip(buckets, trend["total"], strict=True)))]
    return over_time + [
        Chart(_("受理用户申诉按被申诉企业（件）"), [(r["label"], r["value"]) for r in rows["chart_operator"]]),
        Chart(_("受理用户申诉按类别（件）"), [(r["label"], r["value"]) for r in rows["chart_category"]]),
        Chart(_("办理结果（件）"), [(r["label"], r["value"]) for r in rows["chart_outcome"]]),
    ]
