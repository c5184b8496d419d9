"""Replaying historical case events through the lifecycle table, for the import of legacy records."""

from __future__ import annotations

from typing import Any

from cases.models import Appeal
from cases.settlements import TERM_FIELDS
from workflows import engine, lifecycle
from workflows.engine import InvalidFields


def _unknown_names(i: int, t: lifecycle.Transition, given: dict[str, list[str]]) -> list[str]:
    """An event's field names that its action does not take, each with the names it does."""
    problems = []
    names = [f.name for f in t.fields]
    terms = [n for n in (*TERM_FIELDS, "perform_by") if n in names]
    for where, expected in (("", ["action", "at", *names, *(["terms"] if terms else [])]), ("terms.", terms)):
        for name in given.get(where.rstrip("."), []):
            if name not in expected:
                known = ", ".join(expected) if expected else "none"
                problems.append(f"events[{i}].{where}{name}: unknown field; expected {known}")
    return problems


def check_events(events: list[dict[str, Any]]) -> list[str]:
    """The problems of an event list replayed from `received` (empty when the lifecycle table allows it all).

    A field name the action does not take is reported with the names it does; a field an older system did not
    keep may be missing (the replay is lenient), one that is given must be valid.
    """
    state = "received"
    for i, ev in enumerate(events, 1):
        t = lifecycle.transition_for(ev["action"], state)
        if t is None:
            known = ev["action"] in lifecycle.ACTIONS
            reason = f"not allowed from state {state}" if known else "unknown action"
            return [f"events[{i}]: {ev['action']} {reason}"]
        if unknown := _unknown_names(i, t, ev.get("given", {})):
            return unknown
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
