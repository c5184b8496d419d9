"""Replaying historical case events through the lifecycle table, for the import of legacy records."""

from __future__ import annotations

from typing import Any

from cases.models import Appeal
from workflows import engine, lifecycle
from workflows.engine import InvalidFields


def check_events(events: list[dict[str, Any]]) -> list[str]:
    """The problems of an event list replayed from `received` (empty when the lifecycle table allows it all)."""
    state = "received"
    for i, ev in enumerate(events, 1):
        t = lifecycle.transition_for(ev["action"], state)
        if t is None:
            known = ev["action"] in lifecycle.ACTIONS
            reason = f"not allowed from state {state}" if known else "unknown action"
            return [f"events[{i}]: {ev['action']} {reason}"]
        try:
            engine.clean_fields(t, ev["data"], lenient=True)
        except InvalidFields as exc:
            detail = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
            return [f"events[{i}] ({ev['action']}): {detail}"]
        state = t.target
    return []


def replay_events(appeal: Appeal, events: list[dict[str, Any]]) -> None:
    """Submit the appeal at its receipt time, then take each event's action at its time, as the import actor.

    Leniently: an event without the details an older system did not keep is taken and marked so.
    """
    steps = [{"action": "submit", "at": appeal.received_at, "data": {}}, *events]
    for ev in steps:
        engine.perform(
            appeal,
            ev["action"],
            role=lifecycle.SUPERVISOR,
            data=ev["data"],
            at=ev["at"],
            actor_kind="import",
            enforce_roles=False,
            notify=False,
            lenient=True,
        )
