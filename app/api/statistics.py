"""The statistics API: published bulletin figures (public), revisions, rollups, publishing and any date range (staff)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g
from flask_babel import gettext as _

from app.api import bp
from app.api.models import (
    BulletinRevision as RevisionOut,
)
from app.api.models import (
    PublishedPeriods,
    PublishQuery,
    RangeFigures,
    RangeQuery,
    RevisionList,
    RollupQueued,
)
from app.api.spec import endpoint, query
from app.errors import error_response
from app.extensions import db
from cases import bulletin, statistics
from cases.bulletin import Period, PeriodError
from cases.models import BulletinRevision
from workflows import outbox
from workflows.calendar import local_midnight_utc


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
@endpoint(ok={200: PublishedPeriods}, tags=("bulletin",))
def bulletin_periods():
    """Periods with a published bulletin."""
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
    return out, 200


@bp.route("/bulletin/<period>")
@endpoint(ok={200: RevisionOut}, errors=(404,), tags=("bulletin",))
def bulletin_published(period: str):
    """A period's published figures and paragraph."""
    p = _period(period)
    rev = bulletin.published_revision(p.code) if p else None
    if rev is None:
        return error_response(404, _("该统计期尚未发布。"))
    return revision_json(rev), 200


@bp.route("/bulletin/<period>/revisions")
@endpoint(ok={200: RevisionList}, auth="bearer", tags=("bulletin",))
def bulletin_revisions(period: str):
    """Every revision of a period, newest first, with the changes against the one before (staff)."""
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
    return out, 200


@bp.route("/bulletin/<period>/rollup", methods=["POST"])
@endpoint(ok={202: RollupQueued}, auth="bearer", tags=("bulletin",))
def bulletin_rollup(period: str):
    """Queue the rollup of a period (supervisor; it runs inline without Redis)."""
    p = _period(period)
    if p is None:
        return error_response(422, _("请检查填写的内容。"), {"period": [_("统计期格式应为 2022H2 或 2023Q1。")]})
    row = outbox.record("rollup_period", {"period": p.code})
    job_id = row.id
    db.session.commit()
    latest = bulletin.latest_revision(p.code)
    return {"job_id": job_id, "latest": revision_json(latest) if latest else None}, 202


@bp.route("/bulletin/<period>/revisions/<int:number>/publish", methods=["POST"])
@endpoint(query=PublishQuery, ok={200: RevisionOut}, errors=(404, 409), auth="bearer", tags=("bulletin",))
def bulletin_publish(period: str, number: int):
    """Publish a revision (supervisor; 409 when it already is: a published revision never changes)."""
    p = _period(period)
    rev = bulletin.get_revision(p.code, number) if p else None
    if rev is None:
        return error_response(404, _("没有这个版本。"))
    try:
        done = bulletin.publish(rev, g.user.id, provisional=query().provisional == "yes")
    except bulletin.ProvisionalNotConfirmed:
        message = _(
            "本版本的数字可能不完整（统计期尚未结束，或在结束前计算）。如确实要发布暂定数据，请加 ?provisional=yes。"
        )
        return error_response(422, message, {"provisional": [message]})
    if not done:
        return error_response(409, _("该版本已发布，不能更改。"))
    db.session.commit()
    return revision_json(rev), 200


@bp.route("/statistics")
@endpoint(query=RangeQuery, ok={200: RangeFigures}, auth="bearer", tags=("statistics",))
def statistics_range():
    """The figures and breakdowns for any date range (staff; ?from=YYYY-MM-DD&to=YYYY-MM-DD, Asia/Shanghai, inclusive)."""
    args: RangeQuery = query()
    dates = {"from": args.date_from, "to": args.date_to}
    start = local_midnight_utc(dates["from"])
    end = local_midnight_utc(dates["to"] + dt.timedelta(days=1))
    figures = statistics.compute(start, end)
    return {"from": dates["from"].isoformat(), "to": dates["to"].isoformat(), "figures": figures}, 200
