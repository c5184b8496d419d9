"""The case lifecycle: one declarative table of states and transitions.

This table is the single source of truth. The engine (`workflows.engine`) applies
it, the staff console builds its action forms from it, the permission table
reads its roles, and `docs/lifecycle.md` is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cases.states import (  # noqa: F401  (the vocabulary, re-exported for the table's readers)
    ADMIN,
    ALL_ROLES,
    CLERK,
    CLOSED_STATES,
    CONSUMER,
    MEDIATOR,
    OPEN_STATES,
    OPERATOR,
    OUTCOME_OF_ACTION,
    STATES,
    SUPERVISOR,
    State,
)


@dataclass(frozen=True)
class Field:
    """A field an action asks for. `kind`: text, choice:<code kind>, date, money, bool, operator, user."""

    name: str
    kind: str = "text"
    required: bool = True
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    fields: tuple[Field, ...] = ()
    starts: tuple[str, ...] = ()  # deadlines started
    stops: tuple[str, ...] = ()  # deadlines stopped (met or missed)
    pauses: tuple[str, ...] = ()
    resumes: tuple[str, ...] = ()
    outcome: str | None = None
    public: bool = True  # shown on the consumer's timeline
    # What the action does besides the change of state (applied by `workflows.engine`, named here):
    records: str | None = None  # the side record it writes: "rejection_ground", "referral", "reply", "settlement"
    message: str | None = None  # what the appellant reads of it: "rejection", "missing", "advice"
    stamps: tuple[str, ...] = ()  # the case's times it sets to now (closing sets `closed_at` by itself)
    clears: tuple[str, ...] = ()  # the case's fields it empties
    checks_terms: bool = False  # a live settlement needs a term and a carry-out date (`cases.settlements`)
    notify: bool = False  # the appellant is told (SMS, e-mail) by the job `notify_case_event`
    webhook: str | None = None  # the event pushed to the operator's endpoints (`cases.webhooks.EVENT_TYPES`)


@dataclass(frozen=True)
class DeadlineRule:
    kind: str
    zh: str
    en: str
    amount_setting: str  # config key with the number of days
    working_setting: str  # config key: working days (True) or calendar days


DEADLINES: dict[str, DeadlineRule] = {
    d.kind: d
    for d in (
        DeadlineRule("decision", "受理决定", "Acceptance decision", "DECISION_DAYS", "DECISION_WORKING_DAYS"),
        DeadlineRule(
            "operator_reply", "企业答复", "Operator reply", "OPERATOR_REPLY_DAYS", "OPERATOR_REPLY_WORKING_DAYS"
        ),
        DeadlineRule(
            "consumer_reply", "答复申诉人", "Reply to appellant", "CONSUMER_REPLY_DAYS", "CONSUMER_REPLY_WORKING_DAYS"
        ),
    )
}

DEADLINE_DEFAULTS = {
    "DECISION_DAYS": 5,
    "DECISION_WORKING_DAYS": True,  # Art. 14
    "OPERATOR_REPLY_DAYS": 10,
    "OPERATOR_REPLY_WORKING_DAYS": False,  # configurable default
    "CONSUMER_REPLY_DAYS": 30,
    "CONSUMER_REPLY_WORKING_DAYS": False,
}

_ALL_CLOCKS = ("decision", "operator_reply", "consumer_reply")
_ACTIVE = frozenset({"accepted", "referred", "replied", "mediating"})
_REOPEN_CLEARS = ("outcome", "closed_at")
_NOTE = Field("note", required=False, zh="说明", en="Note")
_TERMS = (
    Field("refund_amount", "money", required=False, zh="退费/补偿金额（元）", en="Refund or credit (yuan)"),
    Field("service_restored", "bool", required=False, zh="恢复服务", en="Service restored"),
    Field("apology", "bool", required=False, zh="赔礼道歉", en="Apology"),
    Field("other_terms", "text", required=False, zh="其他条款", en="Other terms"),
    Field("perform_by", "date", zh="企业履行期限", en="Operator carries out the terms by"),
)


def _t(action, sources, target, roles, **kw) -> Transition:
    """A row; a closing action records the outcome `cases.states` names for it."""
    return Transition(action, frozenset(sources), target, frozenset(roles), outcome=OUTCOME_OF_ACTION.get(action), **kw)


TRANSITIONS: tuple[Transition, ...] = (
    _t("submit", {"new"}, "received", {CONSUMER, CLERK, SUPERVISOR}, starts=("decision", "consumer_reply")),
    _t(
        "request_materials",
        {"received"},
        "awaiting_materials",
        {CLERK, SUPERVISOR},
        fields=(Field("missing", zh="需补正的材料", en="What is missing"),),
        pauses=("decision", "consumer_reply"),
        message="missing",
        notify=True,
    ),
    _t(
        "receive_materials",
        {"awaiting_materials"},
        "received",
        {CONSUMER, CLERK, SUPERVISOR},
        fields=(_NOTE,),
        resumes=("decision", "consumer_reply"),
    ),
    _t(
        "accept",
        {"received"},
        "accepted",
        {CLERK, SUPERVISOR},
        fields=(_NOTE,),
        stops=("decision",),
        stamps=("accepted_at",),
        notify=True,
    ),
    _t(
        "reject",
        {"received", "awaiting_materials"},
        "rejected",
        {CLERK, SUPERVISOR},
        fields=(
            Field("ground", "choice:rejection_ground", zh="不予受理理由", en="Ground"),
            Field("explanation", required=False, zh="给申诉人的说明", en="Explanation to the appellant"),
        ),
        stops=_ALL_CLOCKS,
        records="rejection_ground",
        message="rejection",
        notify=True,
    ),
    _t(
        "refer",
        {"accepted", "referred", "replied"},
        "referred",
        {MEDIATOR, SUPERVISOR},
        fields=(
            Field("operator", "operator", required=False, zh="转办企业（改派时填写）", en="Operator (to re-refer)"),
            _NOTE,
        ),
        starts=("operator_reply",),
        records="referral",
        notify=True,
        webhook="referral.created",
    ),
    _t(
        "reply",
        {"referred"},
        "replied",
        {OPERATOR, MEDIATOR, SUPERVISOR},
        fields=(Field("text", zh="答复内容", en="Reply"),),
        stops=("operator_reply",),
        records="reply",
    ),
    _t("mediate", {"replied"}, "mediating", {MEDIATOR, SUPERVISOR}, fields=(_NOTE,)),
    _t(
        "settle",
        {"replied", "mediating"},
        "settled",
        {MEDIATOR, SUPERVISOR},
        fields=_TERMS + (_NOTE,),
        stops=("consumer_reply", "operator_reply"),
        records="settlement",
        checks_terms=True,
        notify=True,
        webhook="case.settled",
    ),
    _t("close", {"settled"}, "closed", {MEDIATOR, SUPERVISOR}, fields=(_NOTE,), webhook="case.closed"),
    *(  # the appellant acknowledges the operator's answer, or does not accept it: the same row but for the outcome
        _t(
            action,
            {"replied", "mediating"},
            "closed",
            {MEDIATOR, SUPERVISOR},
            fields=(_NOTE,),
            stops=("consumer_reply", "operator_reply"),
            notify=True,
            webhook="case.closed",
        )
        for action in ("acknowledge", "disagree")
    ),
    _t(
        "end_mediation",
        {"mediating"},
        "closed",
        {MEDIATOR, SUPERVISOR},
        fields=(Field("advice", zh="告知仲裁、诉讼等途径", en="Advice on arbitration and courts"),),
        stops=("consumer_reply", "operator_reply"),
        message="advice",
        notify=True,
        webhook="case.closed",
    ),
    _t(
        "withdraw",
        {"received", "awaiting_materials"} | _ACTIVE,
        "withdrawn",
        {CONSUMER, CLERK, MEDIATOR, SUPERVISOR},
        fields=(Field("reason", zh="撤回原因", en="Reason"),),
        stops=_ALL_CLOCKS,
        notify=True,
        webhook="case.withdrawn",
    ),
    _t(
        "reopen",
        {"closed", "settled"},
        "mediating",
        {SUPERVISOR},
        fields=(Field("reason", zh="重新开启原因", en="Reason"),),
        starts=("consumer_reply",),
        clears=_REOPEN_CLEARS,
        webhook="case.reopened",
    ),
    _t(
        "reopen",
        {"rejected", "withdrawn"},
        "received",
        {SUPERVISOR},
        fields=(Field("reason", zh="重新开启原因", en="Reason"),),
        starts=("decision", "consumer_reply"),
        clears=_REOPEN_CLEARS,
        webhook="case.reopened",
    ),
)

ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS))
STAFF_ACTIONS = tuple(a for a in ACTIONS if a != "submit")


def transition_for(action: str, state: str) -> Transition | None:
    """The row of the table for an action from a state, or None when the table does not allow it."""
    for t in TRANSITIONS:
        if t.action == action and state in t.sources:
            return t
    return None


def allowed_actions(state: str, role: str | None = None) -> list[Transition]:
    """Every transition open from a state (for a role, when given), in table order."""
    return [t for t in TRANSITIONS if state in t.sources and t.action != "submit" and (role is None or role in t.roles)]


def roles_for(action: str) -> frozenset[str]:
    """Every role the table allows to take an action, from any state."""
    roles: set[str] = set()
    for t in TRANSITIONS:
        if t.action == action:
            roles |= t.roles
    return frozenset(roles)


@dataclass
class Diagram:
    """The lifecycle as a Mermaid state diagram, generated from the table."""

    lines: list[str] = field(default_factory=list)

    @classmethod
    def from_table(cls) -> Diagram:
        d = cls(["stateDiagram-v2", "    [*] --> received: submit"])
        seen = set()
        for t in TRANSITIONS:
            if t.action == "submit":
                continue
            for s in sorted(t.sources):
                edge = (s, t.target, t.action)
                if edge not in seen:
                    seen.add(edge)
                    d.lines.append(f"    {s} --> {t.target}: {t.action}")
        for s, v in STATES.items():
            if not v.open:
                d.lines.append(f"    {s} --> [*]")
        return d

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
