"""The statistics API: published bulletin figures (public), revisions, rollups, publishing and any date range (staff)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _

from app.api import bp, openapi
from app.errors import error_response
from app.extensions import db
from cases import bulletin, statistics
from cases.bulletin import Period, PeriodError
from cases.models import BulletinRevision
from workflows import outbox
from workflows.calendar import local_midnight_utc

MAX_RANGE_DAYS = 366 * 5


def _iso(value: dt.datetime | None) -> str | None:
    """A stored UTC time as ISO 8601 with Z."""
    return value.isoformat() + "Z" if value else None


def revision_json(rev: BulletinRevision) -> dict[str, Any]:
    """A revision as JSON."""
    return {
        "period": rev.period,
        "revision": rev.number,
        "computed_at": _iso(rev.computed_at),
        "published_at": _iso(rev.published_at),
        "provisional": bulletin.provisional(rev),
        "paragraph": rev.paragraph,
        "figures": rev.figures,
    }


def _period(code: str) -> Period | None:
    """The period of the URL, or None."""
    try:
        return Period.parse(code)
    except PeriodError:
        return None


@bp.route("/bulletin")
def bulletin_periods():
    """The periods with a published bulletin."""
    out = []
    for code in bulletin.published_periods():
        rev = bulletin.published_revision(code)
        out.append(
            {
                "period": code,
                "revision": rev.number,
                "published_at": _iso(rev.published_at),
                "provisional": bulletin.provisional(rev),
            }
        )
    return jsonify(out)


@bp.route("/bulletin/<period>")
def bulletin_published(period: str):
    """A period's published figures and paragraph."""
    p = _period(period)
    rev = bulletin.published_revision(p.code) if p else None
    if rev is None:
        return error_response(404, _("该统计期尚未发布。"))
    return jsonify(revision_json(rev))


@bp.route("/bulletin/<period>/revisions")
def bulletin_revisions(period: str):
    """Every revision of a period, newest first, with the changes against the one before."""
    p = _period(period)
    if p is None:
        return error_response(422, _("请检查填写的内容。"), {"period": [_("统计期格式应为 2022H2 或 2023Q1。")]})
    revs = bulletin.revisions(p.code)
    out = []
    for i, rev in enumerate(revs):
        before = revs[i + 1] if i + 1 < len(revs) else None
        item = revision_json(rev)
        item["changes"] = bulletin.diff(rev.figures, before.figures if before else None)
        out.append(item)
    return jsonify(out)


@bp.route("/bulletin/<period>/rollup", methods=["POST"])
def bulletin_rollup(period: str):
    """Queue the rollup of a period (it runs inline without Redis)."""
    p = _period(period)
    if p is None:
        return error_response(422, _("请检查填写的内容。"), {"period": [_("统计期格式应为 2022H2 或 2023Q1。")]})
    row = outbox.record("rollup_period", {"period": p.code})
    job_id = row.id
    db.session.commit()
    latest = bulletin.latest_revision(p.code)
    return jsonify({"job_id": job_id, "latest": revision_json(latest) if latest else None}), 202


@bp.route("/bulletin/<period>/revisions/<int:number>/publish", methods=["POST"])
def bulletin_publish(period: str, number: int):
    """Publish a revision (409 when it already is: a published revision never changes)."""
    p = _period(period)
    rev = bulletin.get_revision(p.code, number) if p else None
    if rev is None:
        return error_response(404, _("没有这个版本。"))
    try:
        done = bulletin.publish(rev, g.user.id, provisional=request.args.get("provisional") == "yes")
    except bulletin.ProvisionalNotConfirmed:
        message = _("本版本的数字可能不完整（统计期尚未结束，或在结束前计算）。如确实要发布暂定数据，请加 ?provisional=yes。")
        return error_response(422, message, {"provisional": [message]})
    if not done:
        return error_response(409, _("该版本已发布，不能更改。"))
    db.session.commit()
    return jsonify(revision_json(rev))


@bp.route("/statistics")
def statistics_range():
    """The figures and breakdowns for any date range (?from=YYYY-MM-DD&to=YYYY-MM-DD, Asia/Shanghai, inclusive)."""
    errors: dict[str, list[str]] = {}
    dates: dict[str, dt.date] = {}
    for name in ("from", "to"):
        raw = request.args.get(name, "")
        try:
            dates[name] = dt.date.fromisoformat(raw)
        except ValueError:
            errors[name] = [_("日期格式应为 YYYY-MM-DD。")]
            continue
        if not dt.date(2000, 1, 1) <= dates[name] <= dt.date(2100, 12, 31):
            errors[name] = [_("日期应在2000年至2100年之间。")]
    if not errors and dates["to"] < dates["from"]:
        errors["to"] = [_("截止日期不能早于起始日期。")]
    if not errors and (dates["to"] - dates["from"]).days > MAX_RANGE_DAYS:
        errors["to"] = [_("日期范围最长五年。")]
    if errors:
        return error_response(422, _("请检查填写的内容。"), errors)
    start = local_midnight_utc(dates["from"])
    end = local_midnight_utc(dates["to"] + dt.timedelta(days=1))
    return jsonify(
        {"from": dates["from"].isoformat(), "to": dates["to"].isoformat(), "figures": statistics.compute(start, end)}
    )


_REVISION = {"$ref": "#/components/schemas/BulletinRevision"}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PERIOD_PARAM = {"name": "period", "in": "path", "required": True, "schema": {"type": "string", "example": "2022H2"}}

openapi.SCHEMAS["BulletinRevision"] = {
    "type": "object",
    "properties": {
        "period": {"type": "string", "example": "2022H2"},
        "revision": {"type": "integer"},
        "computed_at": {"type": "string", "format": "date-time"},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "provisional": {"type": "boolean", "description": "published with figures computed before the period ended"},
        "paragraph": {"type": "string"},
        "figures": {"$ref": "#/components/schemas/BulletinFigures"},
    },
}
openapi.SCHEMAS["BulletinFigures"] = {
    "type": "object",
    "description": "Counts of events in the period by Asia/Shanghai time; percentages as strings with two decimals.",
    "properties": {
        **{
            k: {"type": "integer"}
            for k in (
                "phone_consultations",
                "callbacks",
                "visits",
                "materials_received",
                "appeals_received",
                "appeals_accepted",
                "appeals_accepted_basic",
                "appeals_accepted_resale_other",
                "appeals_rejected",
                "withdrawn",
                "settled",
            )
        },
        "appeals_accepted_year_before": {"type": ["integer", "null"]},
        "yoy_change_pct": {"type": ["string", "null"], "example": "13.04"},
        "settlement_rate_pct": {"type": ["string", "null"], "example": "58.69"},
        "rejected_by_ground": {"type": "object", "additionalProperties": {"type": "integer"}},
        "by_operator": {"type": "array", "items": {"type": "object"}},
        "by_category": {"type": "object", "additionalProperties": {"type": "integer"}},
        "by_outcome": {"type": "object", "additionalProperties": {"type": "integer"}},
        "timeliness": {"type": "object"},
    },
}
openapi.PATHS["/bulletin"] = {
    "get": {
        "summary": "Periods with a published bulletin",
        "security": [],
        "responses": {
            "200": {"description": "The periods", "content": {"application/json": {"schema": {"type": "array"}}}}
        },
    }
}
openapi.PATHS["/bulletin/{period}"] = {
    "get": {
        "summary": "A period's published figures and paragraph",
        "security": [],
        "parameters": [_PERIOD_PARAM],
        "responses": {
            "200": {"description": "The published revision", "content": {"application/json": {"schema": _REVISION}}},
            "404": {"description": "Not published", **_ERROR},
        },
    }
}
openapi.PATHS["/bulletin/{period}/revisions"] = {
    "get": {
        "summary": "Every revision of a period with its changes (staff)",
        "security": [{"bearer": []}],
        "parameters": [_PERIOD_PARAM],
        "responses": {
            "200": {
                "description": "Revisions, newest first",
                "content": {"application/json": {"schema": {"type": "array", "items": _REVISION}}},
            },
            "422": {"description": "Bad period", **_ERROR},
        },
    }
}
openapi.PATHS["/bulletin/{period}/rollup"] = {
    "post": {
        "summary": "Queue the rollup of a period (supervisor)",
        "security": [{"bearer": []}],
        "parameters": [_PERIOD_PARAM],
        "responses": {
            "202": {"description": "Queued; the latest revision so far"},
            "422": {"description": "Bad period", **_ERROR},
        },
    }
}
openapi.PATHS["/bulletin/{period}/revisions/{number}/publish"] = {
    "post": {
        "summary": "Publish a revision (supervisor); a published revision never changes",
        "security": [{"bearer": []}],
        "parameters": [
            _PERIOD_PARAM,
            {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}},
            {
                "name": "provisional",
                "in": "query",
                "required": False,
                "description": "yes: publish figures computed before the period ended (marked provisional)",
                "schema": {"type": "string", "enum": ["yes"]},
            },
        ],
        "responses": {
            "200": {"description": "Published", "content": {"application/json": {"schema": _REVISION}}},
            "404": {"description": "No such revision", **_ERROR},
            "409": {"description": "Already published", **_ERROR},
            "422": {"description": "Figures may be incomplete and provisional=yes was not given", **_ERROR},
        },
    }
}
openapi.PATHS["/statistics"] = {
    "get": {
        "summary": "Figures for any date range (staff)",
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
        ],
        "responses": {
            "200": {"description": "The figures", "content": {"application/json": {"schema": {"type": "object"}}}},
            "422": {"description": "Bad dates", **_ERROR},
        },
    }
}
