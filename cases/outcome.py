"""What the appellant is told of a case's course and its end: the steps (收到 → 受理 → 转办企业 → 企业答复 →
调解/结果 → 办结) with the current one and its deadline; the outcome in plain words with the settlement terms and
their due date; the operator's reply as the centre forwards it; the advice after a failed mediation. And the
appellant's report that the operator has not carried out the terms, which reaches the mediators.

The tracking page and the API (`GET /api/v1/appeals/<case_no>`) both read `progress` and `summary`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from cases import codes, followups
from cases.clock import today
from cases.db import db
from cases.models import Appeal, CaseEvent, Deadline, Settlement, User, utcnow

STEPS: tuple[tuple[str, str, str], ...] = (
    ("received", "收到", "Received"),
    ("accepted", "受理", "Accepted"),
    ("referred", "转办企业", "Referred to the operator"),
    ("replied", "企业答复", "Operator replies"),
    ("result", "调解/结果", "Mediation / result"),
    ("closed", "办结", "Closed"),
)
# The step an open case is at, by state, and the clock whose due date that step shows.
_CURRENT: dict[str, tuple[int, str | None]] = {
    "received": (1, "decision"),
    "awaiting_materials": (1, "decision"),
    "accepted": (2, "consumer_reply"),
    "referred": (3, "operator_reply"),
    "replied": (4, "consumer_reply"),
    "mediating": (4, "consumer_reply"),
    "settled": (5, None),  # due: the date the operator must carry out the terms by
}
# The actions that show a step was reached (for a withdrawn case, whose state says nothing of its course).
_REACHED_BY = {1: ("accept",), 2: ("refer",), 3: ("reply",), 4: ("mediate", "settle", "acknowledge", "disagree")}
DONE, CURRENT, UPCOMING, SKIPPED = "done", "current", "upcoming", "skipped"

# The outcome in plain words (the four a case can end with after the operator's reply).
OUTCOME_TEXT: dict[str, tuple[str, str]] = {
    "settled": (
        "您与被申诉企业达成了和解。企业应在下面的期限前履行和解条款。",
        "You and the operator settled. The operator must carry out the terms below by the date given.",
    ),
    "acknowledged": (
        "您已知晓企业的处理结果，申诉办结。",
        "You were told the operator's answer and took note of it; the appeal is closed.",
    ),
    "disagreed": (
        "您不认可企业的处理结果。本中心已记录您的意见，申诉办结。您可以依法申请仲裁或向人民法院提起诉讼。",
        "You did not accept the operator's answer. The centre has recorded that and closed the appeal. You may "
        "apply for arbitration or bring the matter before a people's court.",
    ),
    "mediation_failed": (
        "调解不成，申诉办结。本中心的建议如下。",
        "Mediation did not succeed and the appeal is closed. The centre's advice is below.",
    ),
}
# The steps that stop the "答复申诉人" clock (the lifecycle table's `stops`): each tells the appellant the result,
# except a withdrawal, which needs no reply.
REPLIES = frozenset({"settle", "acknowledge", "disagree", "end_mediation", "reject"})
NO_REPLY_NEEDED = frozenset({"withdraw"})
REPORT_EVERY = dt.timedelta(hours=24)  # one "not carried out" report a day counts (and reaches the mediators)
REPORT_MAX = 500


@dataclass(frozen=True)
class Step:
    """One step of the progress bar."""

    key: str
    name: str
    status: str  # done current upcoming skipped


def _name(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def _open_clock(appeal: Appeal, kind: str | None) -> Deadline | None:
    clock = appeal.deadline(kind) if kind else None
    return clock if clock is not None and clock.stopped_at is None else None


def progress(appeal: Appeal, lang: str = "zh") -> dict[str, Any]:
    """The steps with their status, the current step (None once closed), its due time and whether it waits."""
    names = [(zh, en) for _key, zh, en in STEPS]
    statuses = [UPCOMING] * len(STEPS)
    labels = [_name(n, lang) for n in names]
    current, due, waiting = None, None, False
    if appeal.status in _CURRENT:
        current, kind = _CURRENT[appeal.status]
        statuses[:current] = [DONE] * current
        statuses[current] = CURRENT
        clock = _open_clock(appeal, kind)
        if clock is not None:
            due, waiting = clock.due_at, clock.paused_at is not None
        elif appeal.status == "settled":
            terms = followups.agreed_settlement(appeal)
            due = terms.perform_by if terms is not None else None
    elif appeal.status == "rejected":
        statuses = [DONE, DONE, SKIPPED, SKIPPED, SKIPPED, DONE]
        labels[1] = codes.name("outcome", "rejected", lang)
    elif appeal.status == "withdrawn":
        done = {e.action for e in appeal.events}
        statuses = [DONE] + [DONE if done & set(_REACHED_BY[i]) else SKIPPED for i in range(1, 5)] + [DONE]
        labels[5] = f"{labels[5]}（{codes.name('outcome', 'withdrawn', lang)}）"
    else:  # closed
        statuses = [DONE] * len(STEPS)
        if appeal.outcome:
            labels[4] = f"{labels[4]}：{codes.name('outcome', appeal.outcome, lang)}"
    steps = [Step(key, label, status) for (key, _zh, _en), label, status in zip(STEPS, labels, statuses, strict=True)]
    return {
        "steps": steps,
        "current": current,
        "current_name": steps[current].name if current is not None else None,
        "due": due,
        "waiting_for_materials": waiting,
        "count": len(steps),
    }


def _event(appeal: Appeal, *actions: str) -> CaseEvent | None:
    """The latest event of one of the actions."""
    found = [e for e in appeal.events if e.action in actions]
    return found[-1] if found else None


def forwarded_replies(appeal: Appeal) -> list[dict[str, Any]]:
    """The operator's replies as the centre forwarded them to the appellant, oldest first."""
    return [{"text": e.public_message, "at": e.at} for e in appeal.events if e.action == "forward_reply"]


def terms_view(settlement: Settlement, appeal: Appeal, now: dt.datetime | None = None) -> dict[str, Any]:
    """The settlement terms as the appellant reads them, with whether they may report them not carried out."""
    now = now or utcnow()
    status = followups.terms_status(settlement, today(now))
    return {
        "refund_amount": settlement.refund_amount if settlement.refund_amount else None,
        "service_restored": settlement.service_restored,
        "apology": settlement.apology,
        "other_terms": settlement.other_terms,
        "perform_by": settlement.perform_by,
        "status": status,
        "reported_at": settlement.consumer_reported_at,
        "can_report": can_report(appeal, settlement, now),
    }


def summary(appeal: Appeal, lang: str = "zh", now: dt.datetime | None = None) -> dict[str, Any]:
    """What was decided, in plain words: the outcome, the terms and their due date, the forwarded replies, the
    advice after a failed mediation. `outcome` is None while the case has none of the four outcomes."""
    outcome = appeal.outcome if appeal.outcome in OUTCOME_TEXT else None
    decided = _event(appeal, "settle", "acknowledge", "disagree", "end_mediation") if outcome else None
    settlement = followups.agreed_settlement(appeal) if outcome == "settled" else None
    advice = decided.details.get("advice") if decided is not None and outcome == "mediation_failed" else None
    return {
        "outcome": outcome,
        "outcome_name": codes.name("outcome", outcome, lang) if outcome else None,
        "text": _name(OUTCOME_TEXT[outcome], lang) if outcome else None,
        "decided_at": decided.at if decided is not None else None,
        "terms": terms_view(settlement, appeal, now) if settlement is not None else None,
        "replies": forwarded_replies(appeal),
        "advice": advice,
    }


def reply_clock_status(appeal: Appeal) -> list[str | None]:
    """For each clock of the case (in order): for a stopped "答复申诉人" clock, `replied` when it was stopped by a
    reply to the appellant (an outcome or a rejection), `not_needed` when by a withdrawal; None otherwise."""
    out: list[str | None] = []
    for clock in appeal.deadlines:
        if clock.kind != "consumer_reply" or clock.stopped_at is None:
            out.append(None)
            continue
        stoppers = REPLIES | NO_REPLY_NEEDED
        stopper = next((e for e in reversed(appeal.events) if e.at == clock.stopped_at and e.action in stoppers), None)
        out.append("not_needed" if stopper is not None and stopper.action in NO_REPLY_NEEDED else "replied")
    return out


class ReportRefused(ValueError):
    """The report cannot be made now; `message` says why, in the appellant's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def can_report(appeal: Appeal, settlement: Settlement | None, now: dt.datetime | None = None) -> bool:
    """While agreed terms are pending (not confirmed by a call), once a day."""
    if appeal.status != "settled" or settlement is None or settlement.agreed_at is None:
        return False
    if settlement.confirmed_at is not None:
        return False
    last = settlement.consumer_reported_at
    return last is None or (now or utcnow()) - last >= REPORT_EVERY


def report_terms_not_done(appeal: Appeal, text: str = "", now: dt.datetime | None = None) -> CaseEvent:
    """The appellant says the operator has not carried out the terms: counted on the settlement, shown on the
    timeline, and (the caller records the job) sent to the mediator; the case goes on the "履行未到位" list."""
    now = now or utcnow()
    settlement = followups.agreed_settlement(appeal)
    if not can_report(appeal, settlement, now):
        raise ReportRefused(_("现在不能反映：只有和解条款尚待履行时可以反映，同一件事一天内只需反映一次。"))
    if len(text) > REPORT_MAX:
        raise ReportRefused(_("内容过长：最多%(max)d个字，现在是%(now)d个字。", max=REPORT_MAX, now=len(text)))
    settlement.consumer_reported_at = now
    settlement.consumer_reports = (settlement.consumer_reports or 0) + 1
    event = CaseEvent(
        appeal=appeal,
        action="report_terms_not_done",
        from_state=appeal.status,
        to_state=appeal.status,
        at=now,
        actor_kind="consumer",
        details={"settlement_id": settlement.id, "text": text, "reports": settlement.consumer_reports},
        internal=False,
    )
    db.session.add(event)
    db.session.flush()
    return event


def forward_reply(appeal: Appeal, text: str, actor: User, now: dt.datetime | None = None) -> CaseEvent:
    """The centre forwards the operator's reply (as it words it) to the appellant: shown on the tracking page and
    told by SMS/e-mail (the caller records the job). Raises ReportRefused without a reply to forward."""
    if not any(r.replied_at is not None for r in appeal.referrals):
        raise ReportRefused(_("企业还没有答复，没有可以转达的内容。"))
    if not text.strip():
        raise ReportRefused(_("请填写转达给申诉人的内容。"))
    event = CaseEvent(
        appeal=appeal,
        action="forward_reply",
        from_state=appeal.status,
        to_state=appeal.status,
        at=now or utcnow(),
        actor_id=actor.id,
        actor_kind="staff",
        details={"text": text.strip()},
        public_message=text.strip(),
        internal=False,
    )
    db.session.add(event)
    db.session.flush()
    return event
