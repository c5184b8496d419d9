"""Applies the lifecycle table to a case: checks, clocks, side records and the audit event.

Every change of a case's state goes through `perform`. It changes the session
only; the caller commits, so the change and its audit record land together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from cases import codes, reference, settlements, states
from cases.db import db
from cases.models import Appeal, CaseEvent, Deadline, Operator, Referral, ReferralInstruction, Settlement, User, utcnow
from workflows import calendar, lifecycle, outbox, webhooks
from workflows.lifecycle import DEADLINE_DEFAULTS, DEADLINES, Transition


class LifecycleError(Exception):
    """Base of the refusals; `status` is the HTTP status an API answers with."""

    status = 409

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ActionNotAllowed(LifecycleError):
    status = 409


class RoleNotAllowed(LifecycleError):
    status = 403


class StaleCase(LifecycleError):
    status = 409


class InvalidFields(LifecycleError):
    status = 422


def setting(name: str) -> Any:
    """A lifecycle setting from the app config, or the table's default."""
    return current_app.config.get(name, DEADLINE_DEFAULTS.get(name))


def amount(rule: lifecycle.DeadlineRule, appeal: Appeal) -> int:
    """The days a clock runs for this case: the urgent setting for an urgent case, when the rule has one."""
    if appeal.urgent and rule.urgent_setting:
        return setting(rule.urgent_setting)
    return setting(rule.amount_setting)


def clean_fields(t: Transition, data: dict[str, Any], lenient: bool = False) -> dict[str, Any]:
    """Validate and convert the fields an action asks for; raises InvalidFields naming each bad one.

    `lenient` (imported history) lets a required field be missing; a field that is given must still be valid.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for f in t.fields:
        raw = data.get(f.name)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in (None, "") and f.kind != "bool":
            if f.required and not lenient:
                errors[f.name] = [_("此项为必填项。")]
            continue
        try:
            cleaned[f.name] = _convert(f, raw)
        except ValueError as exc:
            errors[f.name] = [str(exc)]
    if errors:
        raise InvalidFields(_("请检查填写的内容。"), errors)
    return cleaned


def _convert(f: lifecycle.Field, raw: Any) -> Any:
    if f.kind == "text":
        text = str(raw)
        if len(text) > 5000:
            raise ValueError(_("内容过长（最多5000字）。"))
        return text
    if f.kind == "bool":
        return raw in (True, "true", "True", "1", "on", "y", "yes", 1)
    if f.kind == "date":
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            raise ValueError(_("日期格式应为 YYYY-MM-DD。")) from None
    if f.kind == "money":
        try:
            value = Decimal(str(raw)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise ValueError(_("请输入金额，例如 50.00。")) from None
        if value < 0 or value > Decimal("10000000"):
            raise ValueError(_("金额应在 0 到 10000000 元之间。"))
        return value
    if f.kind.startswith("choice:"):
        kind = f.kind.split(":", 1)[1]
        if str(raw) not in codes.ALL[kind]:
            raise ValueError(_("请选择有效的选项。"))
        return str(raw)
    if f.kind == "operator":
        op = reference.operator_by_code(str(raw), active_only=True)
        if op is None:
            raise ValueError(_("请选择有效的运营商。"))
        return op
    raise ValueError(f.kind)


def perform(
    appeal: Appeal,
    action: str,
    *,
    role: str,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
    actor_kind: str | None = None,
    enforce_roles: bool = True,
    notify: bool = True,
    lenient: bool = False,
) -> CaseEvent:
    """Take `action` on `appeal` as `role`; returns the audit event. Raises a LifecycleError when refused.

    The session is flushed only when a notification job needs the event's id; otherwise the caller's commit
    (or a new case's single INSERT, `cases.intake.write_new_case`) writes the changes. `notify=False` (the
    historical import) records no notification job, so a batch of imported cases is written in one flush.
    `lenient` (the import too) accepts an event without the details an older system did not keep (a settlement
    without terms, a rejection without its ground ...); the event is marked `imported_without_details`.
    A live settlement needs a term and a carry-out date not before its day (`cases.settlements`).
    """
    state = appeal.status or "new"
    t = _row(action, state, role if enforce_roles else None)
    _check_version(appeal, expected_version)
    cleaned = clean_fields(t, data or {}, lenient)
    now = at or utcnow()
    if t.checks_terms and not lenient:
        _check_terms(cleaned, now)
    details = _details(cleaned, lenient and _without_details(t, cleaned))

    if t.records:
        RECORDS[t.records](appeal, {**cleaned, "_actor_id": actor.id if actor else None}, now)
    _run_clocks(appeal, t, now)
    _change_state(appeal, t, now)
    event = _event(appeal, t, state, now, details, MESSAGES[t.message](cleaned) if t.message else "")
    event.actor_id = actor.id if actor else None
    event.actor_kind = actor_kind or _actor_kind(role)
    db.session.add(event)
    if notify and t.notify:
        db.session.flush()  # the job names the event by its id
        outbox.record("notify_case_event", {"event_id": event.id}, dedupe_key=f"notify-event-{event.id}")
    if notify and t.webhook and appeal.referrals:  # the operator hears of a case once it was referred to it
        db.session.flush()
        webhooks.emit(appeal, t.webhook)
    return event


def _check_version(appeal: Appeal, expected_version: int | None) -> None:
    """Refuse a change made on a page older than the case (optimistic locking)."""
    if expected_version is not None and appeal.version is not None and int(expected_version) != appeal.version:
        raise StaleCase(_("案件已被他人更新，请刷新页面后重试。"))


def _event(appeal: Appeal, t: Transition, state: str, now: dt.datetime, details: dict, message: str) -> CaseEvent:
    """The audit record of a transition (who acted is filled in by the caller)."""
    return CaseEvent(
        appeal=appeal,
        action=t.action,
        from_state=None if state == "new" else state,
        to_state=t.target,
        at=now,
        details=details,
        public_message=message,
        internal=not t.public,
        operator_id=appeal.operator_id or (appeal.operator.id if appeal.operator else None),  # after the records
    )


def _details(cleaned: dict[str, Any], without_details: bool) -> dict[str, Any]:
    """The event's record of the fields, as JSON values (an operator by its code)."""
    details = {
        k: (v.code if isinstance(v, Operator) else str(v) if isinstance(v, (Decimal, dt.date)) else v)
        for k, v in cleaned.items()
    }
    if without_details:
        details["imported_without_details"] = True
    return details


def _actor_kind(role: str) -> str:
    """Who acted, as the timeline says it: the appellant, the operator, or the centre's staff."""
    return role if role in (states.CONSUMER, states.OPERATOR) else "staff"


def _row(action: str, state: str, role: str | None) -> Transition:
    """The table's row for the action from the state; refused when there is none, or (given a role) not for it."""
    t = lifecycle.transition_for(action, state)
    if t is None:
        if action not in lifecycle.ACTIONS:
            raise ActionNotAllowed(_("没有这个操作：%(action)s", action=action))
        raise ActionNotAllowed(
            _(
                "案件当前状态为“%(state)s”，不能执行“%(action)s”。",
                state=state_name(state),
                action=codes.name("action", action),
            )
        )
    if role is not None and role not in t.roles:
        raise RoleNotAllowed(_("您的角色无权执行此操作。"))
    return t


def _check_terms(cleaned: dict[str, Any], now: dt.datetime) -> None:
    """A live settlement: a term and a carry-out date not before its day (`cases.settlements`)."""
    problems = settlements.term_problems(cleaned, calendar.local_date(now))
    if problems:
        raise InvalidFields(problems["terms"][0] if "terms" in problems else _("请检查填写的内容。"), problems)


def _without_details(t: Transition, cleaned: dict[str, Any]) -> bool:
    """An imported event lacks what the row asks for (a required field, or a settlement's terms)."""
    missing_field = any(f.required and f.name not in cleaned for f in t.fields)
    return missing_field or (t.checks_terms and not settlements.has_term(cleaned))


def _change_state(appeal: Appeal, t: Transition, now: dt.datetime) -> None:
    """The case's state, outcome and times as the row says."""
    appeal.status = t.target
    if t.outcome:
        appeal.outcome = t.outcome
    for name in t.clears:
        setattr(appeal, name, None)
    if not states.is_open(t.target):
        appeal.closed_at = now
    for name in t.stamps:
        setattr(appeal, name, now)


def state_name(state: str) -> str:
    """The Chinese or English name of a state, in the current language."""
    s = lifecycle.STATES.get(state)
    return codes.localized(s) if s else state


# What the appellant reads of an event (a row's `message`). Records are written in Chinese, the case file's language.
def _rejection_message(cleaned: dict[str, Any]) -> str:
    extra = cleaned.get("explanation") or ""
    if "ground" not in cleaned:  # imported without its ground
        return extra
    ground = codes.name("rejection_ground", cleaned["ground"])
    with force_locale("zh"):
        return _("不予受理理由：%(ground)s。%(explanation)s", ground=ground, explanation=extra).strip()


def _missing_message(cleaned: dict[str, Any]) -> str:
    if not cleaned.get("missing"):
        return ""
    with force_locale("zh"):
        return _("请补充：%(missing)s", missing=cleaned["missing"])


MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "rejection": _rejection_message,
    "missing": _missing_message,
    "advice": lambda cleaned: cleaned.get("advice", ""),
}


# The side records an action writes (a row's `records`).
def _record_rejection_ground(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    appeal.rejection_ground = cleaned.get("ground")


def _record_referral(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    new_op = cleaned.get("operator")
    if new_op is not None and new_op.id != appeal.operator_id:
        appeal.operator = new_op
        appeal.operator_id = new_op.id
    for r in _active_referrals(appeal):
        r.active = False
    _stop_clock(appeal, "instruction", now)  # a re-referral's instructions are confirmed afresh
    rule = DEADLINES["operator_reply"]
    due = calendar.due_after(now, amount(rule, appeal), setting(rule.working_setting))
    referral = Referral(appeal=appeal, operator_id=appeal.operator_id, referred_at=now, due_at=due, active=True)
    db.session.add(referral)
    given = [f.name for f in lifecycle.INSTRUCTION_FIELDS if cleaned.get(f.name)]
    for kind in given:
        db.session.add(ReferralInstruction(referral=referral, kind=kind))
    if given:
        rule = DEADLINES["instruction"]
        due = calendar.due_after(now, setting(rule.amount_setting), setting(rule.working_setting))
        appeal.deadlines.append(Deadline(kind="instruction", started_at=now, due_at=due))


def _stop_clock(appeal: Appeal, kind: str, now: dt.datetime) -> None:
    """Stop the case's open clock of this kind, if any (met when stopped in time)."""
    for d in appeal.deadlines:
        if d.kind == kind and d.stopped_at is None:
            d.stopped_at, d.paused_at, d.met = now, None, now <= d.due_at


def _record_signature(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    """The operator signed for the active referral (签收); once."""
    active = _active_referrals(appeal)
    if not active or active[-1].signed_at is not None:
        raise ActionNotAllowed(_("转办已签收。"))
    active[-1].signed_at = now
    active[-1].signed_by_id = cleaned.get("_actor_id")
    appeal.updated_at = now  # the case changed for the operator's sync (`updated_since`), though its row did not


def _record_instruction_confirmed(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    """The operator confirmed one instruction of the active referral; the last one stops the instruction clock."""
    active = _active_referrals(appeal)
    pending = {i.kind: i for i in (active[-1].instructions if active else []) if i.confirmed_at is None}
    instruction = pending.get(cleaned["instruction"])
    if instruction is None:
        raise InvalidFields(_("请检查填写的内容。"), {"instruction": [_("这项指令没有随转办下达，或已经确认。")]})
    instruction.confirmed_at = now
    instruction.confirmed_by_id = cleaned.get("_actor_id")
    appeal.updated_at = now
    if len(pending) == 1:
        _stop_clock(appeal, "instruction", now)


def _record_urgent(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    """Mark the case urgent: its running clocks that have an urgent setting end no later than that from now."""
    if appeal.urgent:
        raise ActionNotAllowed(_("案件已标记为紧急。"))
    appeal.urgent, appeal.urgent_reason, appeal.urgent_at = True, cleaned["reason"], now
    for d in appeal.deadlines:
        rule = DEADLINES[d.kind]
        if d.stopped_at is not None or d.paused_at is not None or not rule.urgent_setting:
            continue
        due = calendar.due_after(now, setting(rule.urgent_setting), setting(rule.working_setting))
        if due < d.due_at:
            d.due_at = due
            if d.kind == "operator_reply":
                for referral in _active_referrals(appeal):
                    referral.due_at = due


def _record_reply(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    active = _active_referrals(appeal)
    ref = active[-1] if active else None
    if ref is not None:
        ref.replied_at = now
        ref.reply_text = cleaned.get("text", "")


def _record_settlement(appeal: Appeal, cleaned: dict[str, Any], now: dt.datetime) -> None:
    db.session.add(
        Settlement(
            appeal=appeal,
            refund_amount=cleaned.get("refund_amount") or Decimal("0"),
            service_restored=cleaned.get("service_restored", False),
            apology=cleaned.get("apology", False),
            other_terms=cleaned.get("other_terms", ""),
            perform_by=cleaned.get("perform_by"),
            agreed_at=now,
        )
    )


RECORDS: dict[str, Callable[[Appeal, dict[str, Any], dt.datetime], None]] = {
    "rejection_ground": _record_rejection_ground,
    "referral": _record_referral,
    "reply": _record_reply,
    "settlement": _record_settlement,
    "signature": _record_signature,
    "instruction_confirmed": _record_instruction_confirmed,
    "urgent": _record_urgent,
}


def _active_referrals(appeal: Appeal) -> list[Referral]:
    """The appeal's active referrals, oldest first (also those not yet flushed, as in the import)."""
    return [r for r in appeal.referrals if r.active]


def _run_clocks(appeal: Appeal, t: Transition, now: dt.datetime) -> None:
    open_clocks = {d.kind: d for d in appeal.deadlines if d.stopped_at is None}
    for kind in t.stops:
        d = open_clocks.pop(kind, None)
        if d is not None:
            d.stopped_at = now
            if d.paused_at is not None:
                d.paused_at = None
            d.met = now <= d.due_at
    for kind in t.pauses:
        d = open_clocks.get(kind)
        if d is not None and d.paused_at is None:
            d.paused_at = now
    for kind in t.resumes:
        d = open_clocks.get(kind)
        if d is not None and d.paused_at is not None:
            rule = DEADLINES[kind]
            d.due_at = calendar.extend(d.due_at, d.paused_at, now, setting(rule.working_setting))
            d.paused_at = None
    for kind in t.starts:
        old = open_clocks.get(kind)
        if old is not None:  # a re-referral replaces the running clock
            old.stopped_at = now
            old.met = now <= old.due_at
        rule = DEADLINES[kind]
        due = calendar.due_after(now, amount(rule, appeal), setting(rule.working_setting))
        appeal.deadlines.append(Deadline(kind=kind, started_at=now, due_at=due))
    set_due_times(appeal, now)


def set_due_times(appeal: Appeal, now: dt.datetime) -> None:
    """From the case's clocks: whether one running clock is past due at `now`, and the earliest due time of
    the open clocks and of the running ones, kept on the appeal row."""
    appeal.overdue = any(d.stopped_at is None and d.paused_at is None and d.due_at < now for d in appeal.deadlines)
    open_dues = [d.due_at for d in appeal.deadlines if d.stopped_at is None]
    running = [d.due_at for d in appeal.deadlines if d.stopped_at is None and d.paused_at is None]
    appeal.next_due_at = min(open_dues, default=None)
    appeal.running_due_at = min(running, default=None)


def add_note(appeal: Appeal, text: str, actor: User | None, at: dt.datetime | None = None, **details: Any) -> None:
    """An internal note on the case's timeline: no change of state, never shown to the appellant."""
    db.session.add(
        CaseEvent(
            appeal=appeal,
            action="note",
            from_state=appeal.status,
            to_state=appeal.status,
            at=at or utcnow(),
            actor_id=actor.id if actor else None,
            actor_kind="staff" if actor else "system",
            details={"text": text, **details},
            internal=True,
        )
    )


def recompute_clocks(changed: set[dt.date], actor: User | None = None, now: dt.datetime | None = None) -> int:
    """After the official calendar changed on the `changed` days: the due time of each open working-day clock
    they can move, worked out again from its start and its pauses as `_run_clocks` did, on the calendar as it is
    now. A clock that moves leaves an internal note on its case. Returns how many moved; the caller commits.
    """
    if not changed:
        return 0
    now = now or utcnow()
    first = calendar.local_midnight_utc(min(changed))
    last = calendar.local_midnight_utc(max(changed) + dt.timedelta(days=1))
    kinds = [kind for kind, rule in DEADLINES.items() if setting(rule.working_setting)]  # calendar days: unmoved
    clocks = db.session.scalars(
        sa.select(Deadline)
        .where(
            Deadline.kind.in_(kinds),
            Deadline.stopped_at.is_(None),
            Deadline.started_at < last,  # a clock started after the changed days cannot count them
            sa.or_(Deadline.due_at >= first, Deadline.paused_at.is_not(None)),  # nor one already due before them
        )
        .order_by(Deadline.appeal_id, Deadline.id)
        .options(  # the cases' events, clocks and referrals in a few queries, not three per clock
            selectinload(Deadline.appeal).selectinload(Appeal.events),
            selectinload(Deadline.appeal).selectinload(Appeal.deadlines),
            selectinload(Deadline.appeal).selectinload(Appeal.referrals),
        )
    ).all()
    moved = 0
    for clock in clocks:
        rule = DEADLINES[clock.kind]
        due = _due_replayed(clock, setting(rule.amount_setting))
        appeal = clock.appeal
        if due is not None and appeal.urgent and rule.urgent_setting and clock.paused_at is None:
            # urgent since `urgent_at` (or since the clock started, when later): the shorter clock from then
            since = max(clock.started_at, appeal.urgent_at or clock.started_at)
            due = min(due, calendar.due_after(since, setting(rule.urgent_setting), True))
        if due is None or due == clock.due_at:
            continue
        appeal, before = clock.appeal, clock.due_at
        clock.due_at = due
        if clock.kind == "operator_reply":
            for referral in _active_referrals(appeal):
                referral.due_at = due
        set_due_times(appeal, now)
        old_day, new_day = calendar.local_date(before).isoformat(), calendar.local_date(due).isoformat()
        with force_locale("zh"):  # the case file's language
            text = _(
                "节假日安排变更：“%(deadline)s”期限由 %(before)s 改为 %(after)s。",
                deadline=rule.zh,
                before=old_day,
                after=new_day,
            )
        add_note(
            appeal,
            text,
            actor,
            at=now,
            deadline=clock.kind,
            due_before=before.isoformat(),
            due_after=due.isoformat(),
        )
        moved += 1
    return moved


def _due_replayed(clock: Deadline, amount: int) -> dt.datetime | None:
    """The clock's due time on today's calendar: from its start, extended by each pause its case's events made,
    as the engine did at the time. None when the events do not account for the clock's state (left alone)."""
    due = calendar.due_after(clock.started_at, amount, True)
    paused_from = None
    for event in clock.appeal.events:  # in the order they happened (by id)
        t = lifecycle.transition_for(event.action, event.from_state or "new")
        if t is None or event.at < clock.started_at:
            continue  # notes and other records, and what came before this clock
        if clock.kind in t.pauses and paused_from is None:
            paused_from = event.at
        elif clock.kind in t.resumes and paused_from is not None:
            due = calendar.extend(due, paused_from, event.at, True)
            paused_from = None
    if paused_from != clock.paused_at:
        return None
    return due
