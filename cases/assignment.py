"""Who handles a case: a supervisor assigns a mediator, or a mediator takes the case ("我来办理")."""

from __future__ import annotations

import sqlalchemy as sa

from cases.db import db
from cases.models import Appeal, CaseEvent, User, utcnow
from cases.states import ASSIGNABLE_ROLES, CLOSED_STATES


class NotAssignable(ValueError):
    """The person cannot be given this case."""


def mediators() -> list[User]:
    """The active mediators, by name."""
    return list(
        db.session.scalars(
            sa.select(User).where(User.role.in_(ASSIGNABLE_ROLES), User.active).order_by(User.full_name, User.id)
        )
    )


def assign(appeal: Appeal, assignee: User, by: User) -> CaseEvent:
    """Give the case to a mediator; audited as an `assign` event (the state does not change)."""
    if assignee.role not in ASSIGNABLE_ROLES or not assignee.active:
        raise NotAssignable(assignee.username)
    if appeal.status in CLOSED_STATES:
        raise NotAssignable(appeal.case_no)
    previous = appeal.assignee.username if appeal.assignee else None
    appeal.assignee_id = assignee.id
    appeal.assignee = assignee
    event = CaseEvent(
        appeal=appeal,
        action="assign",
        from_state=appeal.status,
        to_state=appeal.status,
        at=utcnow(),
        actor_id=by.id,
        actor_kind="staff",
        details={"assignee": assignee.username, "previous": previous, "taken": assignee.id == by.id},
        internal=True,
    )
    db.session.add(event)
    return event
