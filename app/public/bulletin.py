"""The public bulletin pages: the published figures of each period, charts with data tables, exports."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_babel import gettext as _

from app import bulletin_export as export
from app.i18n import is_english
from app.public import bp
from cases import bulletin
from cases.bulletin import Period, PeriodError


def _label(p: Period) -> str:
    """The period's name in the page's language."""
    return p.label_en() if is_english() else p.label_zh()


def _period_or_404(code: str) -> Period:
    """The period of the URL, or 404."""
    try:
        return Period.parse(code)
    except PeriodError:
        abort(404)


def _trend() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accepted appeals and the settlement rate of every published period, oldest first."""
    accepted, rate = [], []
    for code in bulletin.published_periods():
        figures = bulletin.published_revision(code).figures
        label = _label(Period.parse(code))
        accepted.append((label, figures.get("appeals_accepted", 0)))
        rate.append((label, float(figures.get("settlement_rate_pct") or 0)))
    return export.bars(accepted), export.bars(rate)


def _per_million_trend(upto: Period) -> dict[str, Any]:
    """Appeals per million users of each operator over the published periods up to this one that have them."""
    periods, rates = [], {}
    for code in bulletin.published_periods():
        if Period.parse(code).first_day > upto.first_day:
            continue
        rows = [o for o in bulletin.published_revision(code).figures.get("by_operator", []) if o.get("per_million")]
        if not rows:
            continue
        for o in rows:
            rates.setdefault(o["operator"], {})[code] = o["per_million"]
        periods.append(code)
    return {"periods": periods, "operator": {op: [r.get(c) for c in periods] for op, r in sorted(rates.items())}}


def _with_trends(figures: dict[str, Any], p: Period) -> dict[str, Any]:
    """A published revision's figures with the per-million trend over the published periods."""
    return dict(figures, per_million_trend=_per_million_trend(p))


@bp.route("/bulletin")
def bulletin_index():
    """The list of published periods and the trend over them."""
    periods = [
        {
            "code": c,
            "label": _label(Period.parse(c)),
            "provisional": bulletin.provisional(bulletin.published_revision(c)),
        }
        for c in bulletin.published_periods()
    ]
    trend_accepted, trend_rate = _trend()
    return render_template(
        "public/bulletin/index.html", periods=periods, trend_accepted=trend_accepted, trend_rate=trend_rate
    )


@bp.route("/bulletin/<period>")
def bulletin_period(period: str):
    """A period's published bulletin: the paragraph, the tables and the charts."""
    p = _period_or_404(period)
    rev = bulletin.published_revision(p.code)
    if rev is None:
        abort(404)
    trend_accepted, _rate = _trend()
    figures = _with_trends(rev.figures, p)
    return render_template(
        "public/bulletin/period.html",
        period=p.code,
        label=_label(p),
        revision=rev,
        tables=export.tables(figures),
        trend_charts=export.trend_charts(figures),
        trend_accepted=trend_accepted,
        **export.chart_rows(rev.figures),
    )


@bp.route("/bulletin/<period>/export.<fmt>")
def bulletin_export(period: str, fmt: str):
    """A published period as CSV (one table, ?table=), XLSX (every table), JSON or PDF."""
    p = _period_or_404(period)
    rev = bulletin.published_revision(p.code)
    if rev is None or fmt not in ("csv", "xlsx", "json", "pdf"):
        abort(404)
    figures = _with_trends(rev.figures, p)
    tables = export.tables(figures)
    provisional = bulletin.provisional(rev)
    name = f"bulletin-{p.code}-r{rev.number}" + ("-provisional" if provisional else "")
    if fmt == "csv":
        key = request.args.get("table", "summary")
        table = next((t for t in tables if t.key == key), None)
        if table is None:
            abort(404)
        return export.csv_response(table, f"{name}-{key}")
    if fmt == "xlsx":
        return export.xlsx_response(tables, name)
    if fmt == "json":
        return export.json_response(
            {
                "period": p.code,
                "revision": rev.number,
                "published_at": rev.published_at.isoformat() + "Z",
                "provisional": provisional,
                "paragraph": rev.paragraph,
                "figures": rev.figures,
            },
            name,
        )
    title = _("%(period)s申诉受理情况", period=_label(p)) + (_("（暂定）") if provisional else "")
    charts = export.pdf_charts(figures)
    return export.pdf_response(title, _label(p), rev.paragraph, tables, charts, name)
