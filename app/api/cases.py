"""The staff and operator API: cases and lifecycle actions (bearer token; an operator sees only its referred cases)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, g
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.models import (
    ActionInput,
    ActionResult,
    CaseDetail,
    CaseList,
    CaseQuery,
    SettlementInput,
    TermsDoneInput,
    iso,
    paging,
)
from app.api.models import (
    Settlement as SettlementOut,
)
from app.api.spec import body, endpoint, query
from app.errors import error_response
from app.extensions import db
from cases import followups, operator_view, pii, queues
from cases.models import Appeal, Settlement, utcnow
from workflows import engine, lifecycle


def _operator_scope() -> int | None:
    """The operator a liaison's token is limited to; None for staff."""
    if g.user.role != lifecycle.OPERATOR:
        return None
    if g.user.operator_id is None:
        abort(404)
    return g.user.operator_id


def _visible_case(case_no: str) -> Appeal:
    """A case the caller may see, else 404 (an operator only the cases referred to it)."""
    scope = _operator_scope()
    if scope is None:
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    else:
        appeal = operator_view.appeal_for(scope, case_no)
    if appeal is None:
        abort(404)
    return appeal


def _deadlines(appeal: Appeal) -> list[dict[str, Any]]:
    """The case's clocks as JSON."""
    return [
        {
            "kind": d.kind,
            "due_at": iso(d.due_at),
            "stopped_at": iso(d.stopped_at),
            "paused": d.paused_at is not None,
            "met": d.met,
            "overdue": d.stopped_at is None and d.paused_at is None and d.due_at < utcnow(),
        }
        for d in appeal.deadlines
    ]


def case_summary(appeal: Appeal) -> dict[str, Any]:
    """A case as a list shows it: personal data always masked."""
    deadlines = _deadlines(appeal)
    return {
        "case_no": appeal.case_no,
        "status": appeal.status,
        "outcome": appeal.outcome,
        "version": appeal.version,
        "channel": appeal.channel,
        "operator": appeal.operator.code,
        "operator_name": appeal.operator.display_name,
        "category": appeal.category,
        "service_type": appeal.service_type,
        "service_number": pii.mask_phone(appeal.service_number),
        "complainant_name": pii.mask_name(appeal.complainant_name),
        "phone": pii.mask_phone(appeal.phone),
        "received_at": iso(appeal.received_at),
        "accepted_at": iso(appeal.accepted_at),
        "closed_at": iso(appeal.closed_at),
        "assignee": appeal.assignee.username if appeal.assignee else None,
        "overdue": appeal.overdue or any(d["overdue"] for d in deadlines),
        "urgent": bool(appeal.urgent),
        "urgent_reason": appeal.urgent_reason,
        "deadlines": deadlines,
    }


def case_detail_body(appeal: Appeal, for_operator: bool) -> dict[str, Any]:
    """One case: the summary plus the matter, the referral, settlements and the events the caller may see."""
    body = case_summary(appeal)
    body.update(
        {
            "request": appeal.request,
            "facts": appeal.facts,
            "event_date": iso(appeal.event_date),
            "operator_complaint_date": iso(appeal.operator_complaint_date),
            "operator_ticket_no": appeal.operator_ticket_no,
            "allowed_actions": sorted({t.action for t in lifecycle.allowed_actions(appeal.status, g.user.role)}),
        }
    )
    if not for_operator:  # the operator never gets the ID number, email or address, even masked
        body.update(
            {
                "id_number": pii.mask_id_number(appeal.id_number),
                "address": pii.mask_address(appeal.address),
                "postcode": appeal.postcode,
                "email": pii.mask_email(appeal.email),
                "rejection_ground": appeal.rejection_ground,
            }
        )
    referral = operator_view.current_referral(appeal)
    body["referral"] = (
        {
            "operator": referral.operator.code,
            "referred_at": iso(referral.referred_at),
            "due_at": iso(referral.due_at),
            "replied_at": iso(referral.replied_at),
            "reply_text": referral.reply_text,
            "signed_at": iso(referral.signed_at),
            "instructions": [{"kind": i.kind, "confirmed_at": iso(i.confirmed_at)} for i in referral.instructions],
        }
        if referral
        else None
    )
    settlement = followups.agreed_settlement(appeal)
    body["settlement"] = (
        {
            "refund_amount": str(settlement.refund_amount),
            "service_restored": settlement.service_restored,
            "apology": settlement.apology,
            "other_terms": settlement.other_terms,
            "perform_by": iso(settlement.perform_by),
            "operator_reported_done_at": iso(settlement.operator_reported_done_at),
            "confirmed_at": iso(settlement.confirmed_at),
            "missed": settlement.missed,
            "terms_status": followups.terms_status(settlement),
        }
        if settlement
        else None
    )
    events = [e for e in appeal.events if not for_operator or not e.internal or e.actor_kind == "operator"]
    body["events"] = [
        {
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "at": iso(e.at),
            "actor_kind": e.actor_kind,
            "internal": e.internal,
            "details": e.details if not for_operator or e.actor_kind == "operator" or e.action == "refer" else {},
            "public_message": e.public_message,
        }
        for e in events
    ]
    return body


@bp.route("/cases")
@endpoint(query=CaseQuery, ok={200: CaseList}, auth="bearer", tags=("cases",))
def cases_list():
    """List cases with the staff queues' filters and pages (an operator token: only the cases referred to it)."""
    args: CaseQuery = query()
    page, per_page = args.page, args.per_page
    where = queues.filter_conditions(args.filters())
    scope = _operator_scope()
    if scope is not None:
        where.append(operator_view.visible_to(scope))
    select = sa.select(Appeal).where(*where).order_by(Appeal.received_at.desc(), Appeal.id.desc())
    result = queues.page_of(select, where, page, per_page, options=(selectinload(Appeal.deadlines),))
    facts = {**paging(page, per_page, result.total), "total_exact": result.total_exact}
    return {"items": [case_summary(a) for a in result.items], **facts}, 200


@bp.route("/cases/<case_no>")
@endpoint(ok={200: CaseDetail}, errors=(404,), auth="bearer", tags=("cases",))
def case_detail(case_no: str):
    """One case with masked personal data (an operator only its own, else 404)."""
    appeal = _visible_case(case_no)
    return case_detail_body(appeal, for_operator=g.user.role == lifecycle.OPERATOR), 200


@bp.route("/cases/<case_no>/actions/<action>", methods=["POST"])
@endpoint(
    body=ActionInput, optional_body=True, ok={200: ActionResult}, errors=(404, 409), auth="bearer", tags=("cases",)
)
def case_action(case_no: str, action: str):
    """Take a lifecycle action on a case: the action's fields and an optional `version` in a JSON body."""
    appeal = _visible_case(case_no)
    if action not in lifecycle.ACTIONS or action == "submit":
        abort(404)
    given: ActionInput | None = body()
    version = given.version if given else None
    extra = (given.model_extra or {}) if given else {}
    data = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in extra.items()}
    event = engine.perform(appeal, action, role=g.user.role, actor=g.user, data=data, expected_version=version)
    db.session.commit()
    result = {
        "case_no": appeal.case_no,
        "status": appeal.status,
        "outcome": appeal.outcome,
        "version": appeal.version,
        "event": {
            "action": event.action,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "at": iso(event.at),
        },
    }
    return result, 200


def settlement_body(settlement: Settlement) -> dict[str, Any]:
    """A settlement row (proposed or agreed) as JSON."""
    return {
        "id": settlement.id,
        "proposed_by": settlement.proposed_by,
        "refund_amount": str(settlement.refund_amount),
        "service_restored": settlement.service_restored,
        "apology": settlement.apology,
        "other_terms": settlement.other_terms,
        "perform_by": iso(settlement.perform_by),
        "agreed_at": iso(settlement.agreed_at),
        "operator_reported_done_at": iso(settlement.operator_reported_done_at),
    }


@bp.route("/cases/<case_no>/settlement-proposal", methods=["POST"])
@endpoint(
    body=SettlementInput, optional_body=True, ok={201: SettlementOut}, errors=(404, 409), auth="bearer", tags=("cases",)
)
def case_settlement_proposal(case_no: str):
    """The operator proposes settlement terms to the mediator (operator tokens; checked like the terms of `settle`)."""
    appeal = _visible_case(case_no)
    terms_in: SettlementInput | None = body()
    settle = lifecycle.transition_for("settle", appeal.status)
    if settle is None:
        return error_response(409, _("案件当前状态不能提出和解方案。"))
    given = terms_in.model_dump(exclude_unset=True) if terms_in else {}
    data = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in given.items()}
    terms = engine.clean_fields(settle, data)
    terms.pop("note", None)
    proposal = operator_view.propose_settlement(appeal, g.user, **terms)
    db.session.commit()
    return settlement_body(proposal), 201


@bp.route("/cases/<case_no>/terms-done", methods=["POST"])
@endpoint(
    body=TermsDoneInput, optional_body=True, ok={200: SettlementOut}, errors=(404, 409), auth="bearer", tags=("cases",)
)
def case_terms_done(case_no: str):
    """The operator reports the agreed terms carried out (operator tokens); a follow-up call confirms it."""
    appeal = _visible_case(case_no)
    given: TermsDoneInput | None = body()
    note = given.note if given else None
    settlement = followups.agreed_settlement(appeal)
    if appeal.status != "settled" or settlement is None:
        return error_response(409, _("案件尚未和解，没有需要履行的条款。"))
    operator_view.report_terms_done(appeal, settlement, g.user, (note or "").strip())
    db.session.commit()
    return settlement_body(settlement), 200
