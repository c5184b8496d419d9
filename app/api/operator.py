"""The operator's API: its referrals (filters, cursor pages), replies and files, the webhook catch-up feed, scopes.

An operator token carries scopes (`cases.accounts.SCOPES`); `SCOPE_OF` names the one each endpoint needs, and
`_check_scope` refuses a token without it (403) before the view runs. An operator never sees a case not referred
to it (404), as everywhere in the API.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.cases import _operator_scope, _visible_case, case_summary
from app.api.models import (
    EventFeed,
    EventQuery,
    EvidenceUpload,
    FilesStored,
    ReferralList,
    ReferralQuery,
    ReplyUpload,
    TokenRotated,
    iso,
)
from app.api.spec import endpoint, query
from app.errors import error_response
from app.extensions import db
from cases import accounts, materials, operator_view, webhooks
from cases.materials import MaterialRejected
from cases.models import Appeal, Referral, utcnow
from workflows import engine, lifecycle

READ, WRITE = accounts.SCOPES
# The scope an operator's token needs on each endpoint it may use.
SCOPE_OF = {
    "api.cases_list": READ,
    "api.case_detail": READ,
    "api.operator_referrals": READ,
    "api.operator_events": READ,
    "api.case_action": WRITE,
    "api.case_settlement_proposal": WRITE,
    "api.case_terms_done": WRITE,
    "api.operator_reply": WRITE,
    "api.operator_materials": WRITE,
}
FILES_OVERHEAD = 256 * 1024  # the parts' headers and boundaries around the files of one request


@bp.before_request
def _check_scope():
    """An operator's token without the endpoint's scope is refused (403), naming the scope."""
    scope = SCOPE_OF.get(request.endpoint or "")
    user = g.get("user")
    if scope is None or user is None or user.role != lifecycle.OPERATOR:
        return None
    if not accounts.token_allows(g.get("api_token"), scope):
        return error_response(403, _("令牌没有“%(scope)s”权限。", scope=scope))
    return None


def _cursor(appeal: Appeal) -> str:
    raw = f"{appeal.updated_at.isoformat()}|{appeal.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """The (updated_at, id) a cursor stands after, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _sep, appeal_id = raw.partition("|")
        return dt.datetime.fromisoformat(at), int(appeal_id)
    except (ValueError, UnicodeDecodeError):
        return None


def referral_body(referral: Referral | None) -> dict[str, Any] | None:
    """The referral as the operator's system reads it: due, replied, signed, the instructions."""
    if referral is None:
        return None
    return {
        "referred_at": iso(referral.referred_at),
        "due_at": iso(referral.due_at),
        "replied_at": iso(referral.replied_at),
        "signed_at": iso(referral.signed_at),
        "instructions": [{"kind": i.kind, "confirmed_at": iso(i.confirmed_at)} for i in referral.instructions],
    }


@bp.route("/referrals")
@endpoint(query=ReferralQuery, ok={200: ReferralList}, auth="bearer", tags=("operator",))
def operator_referrals():
    """The cases referred to the token's operator, oldest change first, filtered; `cursor` pages on."""
    args: ReferralQuery = query()
    where = [operator_view.visible_to(_operator_scope())]
    current = Referral.id == operator_view.current_referral_id()
    if args.state:
        where.append(Appeal.status == args.state)
    if args.due_before:
        where.append(Referral.due_at < args.due_before.replace(tzinfo=None))
    if args.overdue is not None:
        late = sa.and_(Appeal.status == "referred", Referral.replied_at.is_(None), Referral.due_at < utcnow())
        where.append(late if args.overdue else sa.not_(late))
    if args.updated_since:
        where.append(Appeal.updated_at >= args.updated_since.replace(tzinfo=None))
    if args.cursor:
        after = _after_cursor(args.cursor)
        if after is None:
            return error_response(422, _("请检查填写的内容。"), {"cursor": [_("翻页标记无效。")]})
        where.append(sa.tuple_(Appeal.updated_at, Appeal.id) > sa.tuple_(*after))
    rows = list(
        db.session.execute(
            sa.select(Appeal, Referral)
            .join(Referral, current)
            .where(*where)
            .order_by(Appeal.updated_at, Appeal.id)
            .limit(args.limit + 1)
            .options(selectinload(Appeal.deadlines), selectinload(Referral.instructions))
        ).tuples()
    )
    more = len(rows) > args.limit
    rows = rows[: args.limit]
    items = [
        {
            **case_summary(appeal),
            "updated_at": iso(appeal.updated_at),
            "referral": referral_body(referral),
        }
        for appeal, referral in rows
    ]
    return {"items": items, "next_cursor": _cursor(rows[-1][0]) if more else None}, 200


def _store_files(appeal: Appeal, description: str) -> list[dict[str, Any]]:
    """The request's files (field `file`) stored as the operator's materials of the case (not committed)."""
    stored = []
    for upload in request.files.getlist("file"):
        if upload and upload.filename:
            m = materials.store_material(appeal, upload, source="operator", uploaded_by=g.user)
            m.description = description
            db.session.flush()
            stored.append(
                {"id": m.id, "name": m.original_name, "size": m.size, "type": m.mime_type, "sha256": m.sha256}
            )
    return stored


def _files_cap() -> int:
    return current_app.config["MAX_APPEAL_BYTES"] + FILES_OVERHEAD


def _commit_with_files(appeal: Appeal, status: int, description: str = ""):
    """Store the request's files with the change already made, and commit; a refused file undoes both."""
    try:
        files = _store_files(appeal, description)
    except MaterialRejected as exc:
        db.session.rollback()
        return {"error": exc.message, "reason": exc.reason_code, "errors": {"file": [exc.message]}}, exc.status
    db.session.commit()
    return {"case_no": appeal.case_no, "status": appeal.status, "version": appeal.version, "materials": files}, status


@bp.route("/cases/<case_no>/reply", methods=["POST"])
@endpoint(
    form=ReplyUpload,
    max_bytes=_files_cap,
    ok={200: FilesStored},
    errors=(404, 409, 413, 415, 507),
    auth="bearer",
    tags=("operator",),
)
def operator_reply(case_no: str):
    """The operator's reply (multipart: `text`, files in `file`); the files become the operator's materials."""
    appeal = _visible_case(case_no)
    reply: ReplyUpload = request.context.form
    version = request.form.get("version", type=int)
    engine.perform(appeal, "reply", role=g.user.role, actor=g.user, data={"text": reply.text}, expected_version=version)
    return _commit_with_files(appeal, 200)


@bp.route("/cases/<case_no>/files", methods=["POST"])
@endpoint(
    form=EvidenceUpload,
    max_bytes=_files_cap,
    ok={201: FilesStored},
    errors=(404, 413, 415, 507),
    auth="bearer",
    tags=("operator",),
)
def operator_materials(case_no: str):
    """Files for a case (multipart field `file`, repeated), e.g. evidence of the settlement terms carried out."""
    appeal = _visible_case(case_no)
    if not request.files.getlist("file"):
        return error_response(422, _("请选择要上传的文件。"), {"file": [_("请选择要上传的文件。")]})
    evidence: EvidenceUpload = request.context.form
    return _commit_with_files(appeal, 201, evidence.description or "")


@bp.route("/events")
@endpoint(query=EventQuery, ok={200: EventFeed}, auth="bearer", tags=("operator",))
def operator_events():
    """The operator's webhook events of the last 30 days, oldest first (for a receiver that was down)."""
    args: EventQuery = query()
    floor = utcnow() - dt.timedelta(days=webhooks.FEED_DAYS)
    since = max(args.since.replace(tzinfo=None), floor) if args.since else floor
    rows = webhooks.events_since(_operator_scope(), since, args.after or 0, args.limit + 1)
    more = len(rows) > args.limit
    rows = rows[: args.limit]
    return {"items": [webhooks.body(e) for e in rows], "next_after": rows[-1].id if more else None}, 200


@bp.route("/tokens/rotate", methods=["POST"])
@endpoint(ok={201: TokenRotated}, auth="bearer", tags=("tokens",))
def token_rotate():
    """Replace the token used for this call by a new one (same scopes), shown once; the old one stops now."""
    row, plain = accounts.rotate_token(g.api_token)
    db.session.commit()
    return {"token": plain, "label": row.label, "scopes": row.scopes}, 201
