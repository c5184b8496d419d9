"""The bulletin's figures and breakdowns, counted from the event tables with SQL aggregates.

Every figure counts what happened inside [start, end) (naive UTC bounds of the
Asia/Shanghai period): CaseEvent by action and `at`, Contact by channel and `at`,
Material by `received_at`, Appeal by `received_at`. Nothing is counted from
`Appeal.status`, so a reopened or changed case is counted by what happened when.
The case figures count cases (件), not events: a case rejected, reopened and
accepted, or settled, reopened and settled again, in one period counts once
for each action it went through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cases import postgres as pg
from cases.bulletin import Period, base_figure, change_percent, per_million, percent
from cases.db import db
from cases.models import Appeal, CaseEvent, Contact, Deadline, Material, Operator, SubscriberCount
from cases.states import OUTCOME_OF_ACTION

COUNTED_ACTIONS = ("accept", "reject", "withdraw", "settle", "acknowledge", "disagree", "end_mediation", "mark_urgent")
# Broken down by operator and category; their case counts are the sums of the breakdown's (each case has one
# operator and one category), so the other counted actions are the only ones counted on their own.
BREAKDOWN_ACTIONS = ("accept", "settle")
OTHER_ACTIONS = tuple(a for a in COUNTED_ACTIONS if a not in BREAKDOWN_ACTIONS)
BASIC = "basic"
# A case is 办结 by the event that takes it to a closed state (closed, rejected, withdrawn).
CLOSING_ACTIONS = ("close", "acknowledge", "disagree", "end_mediation", "withdraw", "reject")
# 用户提交材料: what appellants submitted (online, or by post or at the counter as staff recorded it, or kept by an
# older system), not the evidence an operator attaches to its reply.
APPELLANT_SOURCES = ("consumer", "staff", "legacy")
Executor = Session | sa.Connection  # what runs a count: the session, or a connection of a shared snapshot
CONTACT_CHANNELS = ("phone_consultation", "callback", "visit")

# Figures that can be drilled down to their rows, and what each counts.
DRILLDOWN = {
    "phone_consultations": ("contact", "phone_consultation"),
    "callbacks": ("contact", "callback"),
    "visits": ("contact", "visit"),
    "materials_received": ("material", None),
    "appeals_received": ("appeal", None),
    "appeals_accepted": ("event", "accept"),
    "appeals_accepted_basic": ("event", "accept"),
    "appeals_accepted_resale_other": ("event", "accept"),
    "appeals_rejected": ("event", "reject"),
    "withdrawn": ("event", "withdraw"),
    "settled": ("event", "settle"),
}


def _between(column, start: dt.datetime, end: dt.datetime):
    """start <= column < end."""
    return sa.and_(column >= start, column < end)


def _fmt(value: Decimal | None) -> str | None:
    """A decimal as text with two decimals, or None."""
    return None if value is None else f"{value:.2f}"


def contact_counts(start: dt.datetime, end: dt.datetime, ex: Executor | None = None) -> dict[str, int]:
    """Contacts by channel."""
    rows = (ex or db.session).execute(
        sa.select(Contact.channel, sa.func.count())
        .where(Contact.channel.in_(CONTACT_CHANNELS), _between(Contact.at, start, end))  # so (channel, at) is used
        .group_by(Contact.channel)
    )
    return {channel: n for channel, n in rows}


def _cases() -> sa.ColumnElement[int]:
    """How many different cases the counted events belong to."""
    return sa.func.count(sa.distinct(CaseEvent.appeal_id))


def event_counts(
    start: dt.datetime, end: dt.datetime, actions: tuple[str, ...] = COUNTED_ACTIONS, ex: Executor | None = None
) -> dict[str, int]:
    """Cases by lifecycle action, for the given actions (from the (action, at, appeal_id) index)."""
    rows = (ex or db.session).execute(
        sa.select(CaseEvent.action, _cases())
        .where(CaseEvent.action.in_(actions), _between(CaseEvent.at, start, end))
        .group_by(CaseEvent.action)
    )
    return {action: n for action, n in rows}


def event_operator() -> sa.ColumnElement[int]:
    """The operator a case was against when the event happened (the case's own for events recorded before
    migration 0050 kept it)."""
    return sa.func.coalesce(CaseEvent.operator_id, Appeal.operator_id)


def event_breakdown(
    start: dt.datetime, end: dt.datetime, ex: Executor | None = None
) -> list[tuple[str, int, str, int]]:
    """(action, operator id, category, cases) of acceptances and settlements in the period, by the operator the
    case was against at the event (a later re-referral does not move an old acceptance).

    Events are counted per group (a hash aggregate), then corrected for the cases that went through an action
    twice in the period. Only a reopening leads a case back to where it can be accepted or settled again
    (tests/test_lifecycle_table.py checks that on the table), so those cases were reopened in the period: only
    they are counted as distinct cases, not the period's every event sorted for DISTINCT (at a million appeals
    2022H2 holds 69,000 of these events and a few hundred reopenings).
    """
    ex = ex or db.session
    keys = (CaseEvent.action, event_operator(), Appeal.category)
    events = (
        sa.select(*keys)
        .select_from(CaseEvent)
        .join(Appeal, Appeal.id == CaseEvent.appeal_id)
        .where(CaseEvent.action.in_(BREAKDOWN_ACTIONS), _between(CaseEvent.at, start, end))
        .group_by(*keys)
    )
    counts = {(action, op, category): n for action, op, category, n in ex.execute(events.add_columns(sa.func.count()))}
    reopened = sa.select(CaseEvent.appeal_id).where(CaseEvent.action == "reopen", _between(CaseEvent.at, start, end))
    repeats = events.where(CaseEvent.appeal_id.in_(reopened)).add_columns(sa.func.count() - _cases())
    for action, op, category, extra in ex.execute(repeats):
        counts[(action, op, category)] -= extra
    return [(action, op, category, n) for (action, op, category), n in counts.items()]


def rejected_by_ground(start: dt.datetime, end: dt.datetime, ex: Executor | None = None) -> dict[str, int]:
    """Rejections by ground: the event's own ground, else the appeal's.

    The events are counted by their own ground first, from case_event alone; only those without one are joined to
    their appeals (a join of every rejection costs a look-up per event, and imported and live events carry a ground).
    """
    own = CaseEvent.details["ground"].as_string()
    in_period = sa.and_(CaseEvent.action == "reject", _between(CaseEvent.at, start, end))
    ex = ex or db.session
    counts = {g: n for g, n in ex.execute(sa.select(own, sa.func.count()).where(in_period).group_by(own))}
    if None in counts:
        del counts[None]
        ground = sa.func.coalesce(Appeal.rejection_ground, "unknown")
        rows = ex.execute(
            sa.select(ground, sa.func.count())
            .select_from(CaseEvent)
            .join(Appeal, Appeal.id == CaseEvent.appeal_id)
            .where(in_period, own.is_(None))
            .group_by(ground)
        )
        for g, n in rows:
            counts[g] = counts.get(g, 0) + n
    return counts


def _on_postgres(ex: Executor) -> bool:
    """Whether the executor talks to PostgreSQL (a snapshot's connection says so without an app context)."""
    return (ex.dialect if isinstance(ex, sa.Connection) else db.engine.dialect).name == "postgresql"


def _days_between(later, earlier, postgres: bool):
    """Days from `earlier` to `later`, as SQL for the database in use."""
    if postgres:
        return sa.extract("epoch", later - earlier) / 86400.0
    return sa.func.julianday(later) - sa.func.julianday(earlier)


def median_days_to_close(
    start: dt.datetime, end: dt.datetime, ex: Executor | None = None
) -> tuple[int, Decimal | None]:
    """(cases 办结 in the range, median days from receipt to closure).

    A case counts by its closing events in the range (the first one, when it was closed, reopened and closed
    again), not by its current state: a case closed in one half-year and reopened in the next stays 办结 in the
    first. Only a reopening takes a case out of its closed state, so a case never reopened since the range began
    is counted from its closing time on the appeal row (from the index alone); the few reopened since are counted
    from their closing events. The median is percentile_cont on PostgreSQL, worked out in Python elsewhere.
    """
    ex = ex or db.session
    postgres = _on_postgres(ex)
    reopened = sa.select(CaseEvent.appeal_id).where(CaseEvent.action == "reopen", CaseEvent.at >= start)
    plain = sa.select(_days_between(Appeal.closed_at, Appeal.received_at, postgres).label("days")).where(
        _between(Appeal.closed_at, start, end), Appeal.id.not_in(reopened)
    )
    first = sa.func.min(CaseEvent.at)
    redone = (
        sa.select(_days_between(first, Appeal.received_at, postgres).label("days"))
        .select_from(CaseEvent)
        .join(Appeal, Appeal.id == CaseEvent.appeal_id)
        .where(
            CaseEvent.appeal_id.in_(reopened),
            CaseEvent.action.in_(CLOSING_ACTIONS),
            _between(CaseEvent.at, start, end),
        )
        .group_by(CaseEvent.appeal_id, Appeal.received_at)
    )
    closed = sa.union_all(plain, redone).subquery()
    if postgres:
        return pg.count_and_median(ex, closed.c.days)
    values = sorted(Decimal(str(v)) for v in ex.scalars(sa.select(closed.c.days)))
    if not values:
        return 0, None
    middle = len(values) // 2
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    return len(values), median.quantize(Decimal("0.01"))


def deadline_timeliness(start: dt.datetime, end: dt.datetime, ex: Executor | None = None) -> dict[str, tuple[int, int]]:
    """{kind: (clocks stopped in the range, of which met)} for the decision and operator-reply clocks, and the
    same of urgent cases' clocks as `urgent_<kind>`.

    All clocks are counted from the deadline index alone; the urgent ones, few, from the urgent cases' index
    (joining every clock of a half-year to its appeal cost 300 ms at a million appeals).
    """
    ex = ex or db.session
    met = sa.func.sum(sa.case((Deadline.met.is_(True), 1), else_=0))
    counted = sa.and_(
        Deadline.kind.in_(("decision", "operator_reply")),
        Deadline.met.is_not(None),
        _between(Deadline.stopped_at, start, end),
    )
    everyone = sa.select(Deadline.kind, sa.func.count(), met).where(counted).group_by(Deadline.kind)
    urgent = (
        sa.select(sa.literal("urgent_") + Deadline.kind, sa.func.count(), met)
        .join(Appeal, Appeal.id == Deadline.appeal_id)
        .where(counted, Appeal.urgent)  # as the partial index says it (not "IS TRUE")
        .group_by(Deadline.kind)
    )
    return {
        kind: (int(total or 0), int(on_time or 0)) for q in (everyone, urgent) for kind, total, on_time in ex.execute(q)
    }


def subscriber_counts(period: str) -> dict[int, int]:
    """Subscriber counts by operator id for a period."""
    rows = db.session.execute(
        sa.select(SubscriberCount.operator_id, SubscriberCount.count).where(SubscriberCount.period == period)
    )
    return {op: n for op, n in rows}


# The rollup's counts in lanes of about equal cost, each lane on its own connection to one snapshot (the lanes'
# costs and the gain over one connection: docs/PERFORMANCE.md).
LANES = (
    ("breakdown",),
    ("closed", "clocks", "rejected"),
    ("contacts", "events", "materials", "received"),
)


@contextmanager
def _one_snapshot(n: int) -> Iterator[list[Executor]]:
    """n connections reading one REPEATABLE READ snapshot of the database (PostgreSQL), or the session n times.

    The rollup's statements then count the same committed state, however many cases are filed meanwhile (each
    statement of a READ COMMITTED session sees its own), and on PostgreSQL they run side by side.
    """
    if not pg.active():
        yield [db.session] * n
        return
    with pg.shared_snapshot(n) as connections:
        yield connections


def compute(start: dt.datetime, end: dt.datetime, period: Period | None = None) -> dict[str, Any]:
    """Every figure and breakdown for [start, end); with a period also 同比 and the per-million-users rate.

    The counts read one snapshot; on PostgreSQL the lanes of counts run side by side.
    """
    with _one_snapshot(len(LANES)) as executors:
        if executors[0] is executors[-1]:  # one session: one lane after the other
            counted = {k: v for lane in LANES for k, v in _lane(lane, start, end, executors[0]).items()}
        else:
            with ThreadPoolExecutor(max_workers=len(LANES) - 1) as pool:
                lanes = zip(LANES[1:], executors[1:], strict=True)
                beside = [pool.submit(_lane, lane, start, end, ex) for lane, ex in lanes]
                counted = _lane(LANES[0], start, end, executors[0])
                for future in beside:
                    counted.update(future.result())
    return _figures(counted, period)


def _lane(names: tuple[str, ...], start: dt.datetime, end: dt.datetime, ex: Executor) -> dict[str, Any]:
    """The named counts of the period, one after the other on one connection."""
    between = {
        "breakdown": lambda: event_breakdown(start, end, ex),
        "contacts": lambda: contact_counts(start, end, ex),
        "events": lambda: event_counts(start, end, OTHER_ACTIONS, ex),
        "materials": lambda: ex.scalar(
            sa.select(sa.func.count())
            .select_from(Material)
            .where(_between(Material.received_at, start, end), Material.source.in_(APPELLANT_SOURCES))
        ),
        "received": lambda: ex.scalar(
            sa.select(sa.func.count()).select_from(Appeal).where(_between(Appeal.received_at, start, end))
        ),
        "rejected": lambda: rejected_by_ground(start, end, ex),
        "clocks": lambda: deadline_timeliness(start, end, ex),
        "closed": lambda: median_days_to_close(start, end, ex),
    }
    return {name: between[name]() for name in names}


def _figures(counted: dict[str, Any], period: Period | None) -> dict:
    """The bulletin's figures from the counts and the breakdown."""
    contacts, events = counted["contacts"], counted["events"]
    per_op: dict[int, dict[str, int]] = {}
    categories: dict[str, int] = {}
    for action, op_id, category, n in counted["breakdown"]:
        events[action] = events.get(action, 0) + n
        per_op.setdefault(op_id, {"accept": 0, "settle": 0})[action] += n
        if action == "accept":
            categories[category] = categories.get(category, 0) + n
    operator_rows = db.session.execute(
        sa.select(Operator.id, Operator.code, Operator.short_name, Operator.name, Operator.operator_type).where(
            Operator.id.in_(list(per_op))
        )
    ).all()
    per_operator = sorted(  # the short name, else the full name (an imported operator may have no short name)
        (op_id, code, short or name, kind, per_op[op_id]["accept"], per_op[op_id]["settle"])
        for op_id, code, short, name, kind in operator_rows
    )
    materials, received = counted["materials"], counted["received"]
    accepted = events.get("accept", 0)
    basic = sum(a for _, _, _, kind, a, _ in per_operator if kind == BASIC)
    settled = events.get("settle", 0)

    before = base_figure(period.year_before(), "appeals_accepted") if period else None
    subscribers = subscriber_counts(period.code) if period else {}
    operators = []
    for op_id, code, name, kind, op_accepted, op_settled in per_operator:
        count = subscribers.get(op_id)
        operators.append(
            {
                "operator": code,
                "name": name,
                "operator_type": kind,
                "accepted": op_accepted,
                "settled": op_settled,
                "subscribers": count,
                "per_million": _fmt(per_million(op_accepted, count)),
            }
        )

    clocks = counted["clocks"]
    decisions, decisions_met = clocks.get("decision", (0, 0))
    replies, replies_met = clocks.get("operator_reply", (0, 0))
    urgent_decisions, urgent_decisions_met = clocks.get("urgent_decision", (0, 0))
    urgent_replies, urgent_replies_met = clocks.get("urgent_operator_reply", (0, 0))
    closed, median = counted["closed"]
    outcomes = {OUTCOME_OF_ACTION[a]: n for a, n in events.items() if a in OUTCOME_OF_ACTION}
    return {
        "phone_consultations": contacts.get("phone_consultation", 0),
        "callbacks": contacts.get("callback", 0),
        "visits": contacts.get("visit", 0),
        "materials_received": materials or 0,
        "appeals_received": received or 0,
        "appeals_accepted": accepted,
        "appeals_accepted_basic": basic,
        "appeals_accepted_resale_other": accepted - basic,
        "appeals_accepted_year_before": before,
        "yoy_change_pct": _fmt(change_percent(accepted, before)),
        "appeals_rejected": events.get("reject", 0),
        "withdrawn": events.get("withdraw", 0),
        "settled": settled,
        "settlement_rate_pct": _fmt(percent(settled, accepted)),
        "rejected_by_ground": dict(sorted(counted["rejected"].items())),
        "by_operator": operators,
        "by_category": dict(sorted(categories.items())),
        "by_outcome": dict(sorted(outcomes.items())),
        "timeliness": {
            "decisions": decisions,
            "decisions_on_time": decisions_met,
            "decisions_on_time_pct": _fmt(percent(decisions_met, decisions)),
            "operator_replies": replies,
            "operator_replies_on_time": replies_met,
            "operator_replies_on_time_pct": _fmt(percent(replies_met, replies)),
            "closed": closed,
            "median_days_to_close": _fmt(median),
            "urgent_marked": events.get("mark_urgent", 0),
            "urgent_decisions": urgent_decisions,
            "urgent_decisions_on_time_pct": _fmt(percent(urgent_decisions_met, urgent_decisions)),
            "urgent_operator_replies": urgent_replies,
            "urgent_operator_replies_on_time_pct": _fmt(percent(urgent_replies_met, urgent_replies)),
        },
    }


def drilldown(figure: str, start: dt.datetime, end: dt.datetime, limit: int = 200, offset: int = 0) -> list[dict]:
    """The rows that make up a figure: case number, time and what was counted (personal data left to the page)."""
    source, key = DRILLDOWN[figure]
    if source == "contact":
        q = (
            sa.select(Contact.id, Contact.at, Appeal.case_no, Contact.phone, Operator.short_name)
            .select_from(Contact)
            .outerjoin(Appeal, Appeal.id == Contact.appeal_id)
            .outerjoin(Operator, Operator.id == Contact.operator_id)
            .where(Contact.channel == key, _between(Contact.at, start, end))
            .order_by(Contact.at, Contact.id)
        )
        keys = ("id", "at", "case_no", "phone", "operator")
    elif source == "material":
        q = (
            sa.select(Material.id, Material.received_at, Appeal.case_no, Material.original_name, Material.source)
            .join(Appeal, Appeal.id == Material.appeal_id)
            .where(_between(Material.received_at, start, end), Material.source.in_(APPELLANT_SOURCES))
            .order_by(Material.received_at, Material.id)
        )
        keys = ("id", "at", "case_no", "filename", "source")
    elif source == "appeal":
        q = (
            sa.select(Appeal.id, Appeal.received_at, Appeal.case_no, Appeal.phone, Operator.short_name)
            .join(Operator, Operator.id == Appeal.operator_id)
            .where(_between(Appeal.received_at, start, end))
            .order_by(Appeal.received_at, Appeal.id)
        )
        keys = ("id", "at", "case_no", "phone", "operator")
    else:
        in_period = sa.and_(CaseEvent.action == key, _between(CaseEvent.at, start, end))
        first_of_each_case = sa.select(sa.func.min(CaseEvent.id)).where(in_period).group_by(CaseEvent.appeal_id)
        q = (
            sa.select(CaseEvent.id, CaseEvent.at, Appeal.case_no, Appeal.phone, Operator.short_name)
            .join(Appeal, Appeal.id == CaseEvent.appeal_id)
            .join(Operator, Operator.id == Appeal.operator_id)
            .where(CaseEvent.id.in_(first_of_each_case))  # one row per case, as the figure counts cases
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        if figure == "appeals_accepted_basic":
            q = q.where(Operator.operator_type == BASIC)
        elif figure == "appeals_accepted_resale_other":
            q = q.where(Operator.operator_type != BASIC)
        keys = ("id", "at", "case_no", "phone", "operator")
    return [dict(zip(keys, row, strict=True)) for row in db.session.execute(q.limit(limit).offset(offset))]
