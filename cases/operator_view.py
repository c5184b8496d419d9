"""What an operator liaison may see: the appeals referred to its company, and their materials."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from cases.db import db
from cases.models import Appeal, CaseEvent, Material, PiiView, Referral, Settlement, User, utcnow

# States in which the operator whose referral is the current one still follows the case.
FOLLOWING_STATES = ("referred", "replied", "mediating", "settled")


def _latest_referral(column: str) -> sa.ScalarSelect:
    """A column of the appeal's latest referral, as a subquery correlated to `Appeal`."""
    latest = aliased(Referral)
    return (
        sa.select(getattr(latest, column))
        .where(latest.appeal_id == Appeal.id)
        .order_by(latest.id.desc())
        .limit(1)
        .correlate(Appeal)
        .scalar_subquery()
    )


def current_referral_id() -> sa.ScalarSelect:
    """The id of the appeal's latest referral, as a subquery correlated to `Appeal`."""
    return _latest_referral("id")


def _current_referral_operator() -> sa.ScalarSelect:
    """The operator of the appeal's latest referral, as a subquery correlated to `Appeal`."""
    return _latest_referral("operator_id")


def visible_to(operator_id: int) -> sa.ColumnElement[bool]:
    """The condition for an appeal an operator may see: an active referral to it, or it holds the current one."""
    ref = aliased(Referral)
    active = (
        sa.exists()
        .where(ref.appeal_id == Appeal.id, ref.operator_id == operator_id, ref.active.is_(True))
        .correlate(Appeal)
    )
    current = sa.and_(Appeal.status.in_(FOLLOWING_STATES), _current_referral_operator() == operator_id)
    return sa.or_(active, current)


def appeal_for(operator_id: int, case_no: str) -> Appeal | None:
    """A case by number, only when it is referred to this operator."""
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no, visible_to(operator_id)))


def material_for(operator_id: int, material_id: int) -> Material | None:
    """A material item, only when its case is referred to this operator."""
    return db.session.scalar(
        sa.select(Material)
        .join(Appeal, Appeal.id == Material.appeal_id)
        .where(Material.id == material_id, visible_to(operator_id))
    )


def current_referral(appeal: Appeal) -> Referral | None:
    """The latest referral of a case."""
    return db.session.scalar(
        sa.select(Referral).where(Referral.appeal_id == appeal.id).order_by(Referral.id.desc()).limit(1)
    )


def referral_note(appeal: Appeal) -> str:
    """The centre's note to the operator with the latest referral (the `refer` action's note), or ""."""
    refers = [e for e in appeal.events if e.action == "refer"]
    return str((refers[-1].details or {}).get("note") or "") if refers else ""


def latest_settlement(appeal: Appeal) -> Settlement | None:
    """The latest settlement row of a case, proposed or agreed."""
    return db.session.scalar(
        sa.select(Settlement).where(Settlement.appeal_id == appeal.id).order_by(Settlement.id.desc()).limit(1)
    )


def propose_settlement(appeal: Appeal, user: User, **terms) -> Settlement:
    """The operator proposes terms: a Settlement without agreed_at, and an internal event for the mediator."""
    proposal = Settlement(appeal_id=appeal.id, proposed_by="operator", **terms)
    db.session.add(proposal)
    db.session.flush()
    db.session.add(
        CaseEvent(
            appeal_id=appeal.id,
            action="propose_settlement",
            actor_id=user.id,
            actor_kind="operator",
            internal=True,
            details={
                "settlement_id": proposal.id,
                "refund_amount": str(proposal.refund_amount),
                "service_restored": proposal.service_restored,
                "apology": proposal.apology,
                "other_terms": proposal.other_terms,
                "perform_by": proposal.perform_by.isoformat() if proposal.perform_by else None,
            },
        )
    )
    db.session.flush()
    return proposal


def report_terms_done(appeal: Appeal, settlement: Settlement, user: User, note: str = "") -> None:
    """The operator reports the agreed terms carried out; a follow-up call confirms it later."""
    settlement.operator_reported_done_at = utcnow()
    db.session.add(
        CaseEvent(
            appeal_id=appeal.id,
            action="terms_done",
            actor_id=user.id,
            actor_kind="operator",
            internal=True,
            details={"settlement_id": settlement.id, "note": note},
        )
    )
    db.session.flush()


def record_pii_view(appeal: Appeal, user: User, field: str) -> None:
    """Audit that a user saw a full personal value."""
    db.session.add(PiiView(appeal_id=appeal.id, user_id=user.id, field=field))
    db.session.flush()
