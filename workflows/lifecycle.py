"""The case lifecycle: one declarative table of states and transitions.

This table is the single source of truth. The engine (`workflows.engine`) applies
it, the staff console builds its action forms from it, the permission table
reads its roles, and `docs/lifecycle.md` is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Roles of people who act on cases.
CONSUMER, CLERK, MEDIATOR, SUPERVISOR, ADMIN, OPERATOR = (
    "consumer",
    "clerk",
    "mediator",
    "supervisor",
    "admin",
    "operator",
)
STAFF_ROLES = (CLERK, MEDIATOR, SUPERVISOR, ADMIN)
ALL_ROLES = (CONSUMER, CLERK, MEDIATOR, SUPERVISOR, ADMIN, OPERATOR)


@dataclass(frozen=True)
class State:
    code: str
    zh: str
    en: str
    public_zh: str  # what the consumer reads on the tracking page
    public_en: str
    open: bool = True


STATES: dict[str, State] = {
    s.code: s
    for s in (
        State(
            "received",
            "待受理",
            "Received",
            "已收到您的申诉，正在审核是否受理。",
            "We have your appeal and are deciding whether to accept it.",
        ),
        State(
            "awaiting_materials",
            "待补正",
            "Awaiting materials",
            "需要您补充材料，收到后继续办理。",
            "We need more materials from you; the case continues once they arrive.",
        ),
        State(
            "accepted",
            "已受理",
            "Accepted",
            "您的申诉已受理，即将转交被申诉企业处理。",
            "Your appeal is accepted and will be referred to the operator.",
        ),
        State(
            "referred",
            "已转办",
            "Referred to operator",
            "已转交被申诉企业，企业将与您联系。",
            "Referred to the operator, which will contact you.",
        ),
        State(
            "replied",
            "企业已答复",
            "Operator replied",
            "企业已答复，调解员将与您联系确认处理结果。",
            "The operator replied; a mediator will call you about the result.",
        ),
        State(
            "mediating",
            "调解中",
            "In mediation",
            "调解员正在组织双方调解。",
            "A mediator is mediating between you and the operator.",
        ),
        State(
            "settled",
            "已和解待履行",
            "Settled, terms pending",
            "双方已达成和解，等待企业履行。",
            "You and the operator settled; the operator is carrying out the terms.",
        ),
        State("closed", "已办结", "Closed", "申诉已办结。", "The appeal is closed.", open=False),
        State(
            "rejected",
            "不予受理",
            "Rejected",
            "您的申诉不予受理，原因见下方说明。",
            "Your appeal was not accepted; the reason is below.",
            open=False,
        ),
        State("withdrawn", "已撤回", "Withdrawn", "申诉已撤回。", "The appeal was withdrawn.", open=False),
    )
}

OPEN_STATES = frozenset(s for s, v in STATES.items() if v.open)


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
_NOTE = Field("note", required=False, zh="说明", en="Note")
_TERMS = (
    Field("refund_amount", "money", required=False, zh="退费/补偿金额（元）", en="Refund or credit (yuan)"),
    Field("service_restored", "bool", required=False, zh="恢复服务", en="Service restored"),
    Field("apology", "bool", required=False, zh="赔礼道歉", en="Apology"),
    Field("other_terms", "text", required=False, zh="其他条款", en="Other terms"),
    Field("perform_by", "date", zh="企业履行期限", en="Operator carries out the terms by"),
)


def _t(action, sources, target, roles, **kw) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), **kw)


TRANSITIONS: tuple[Transition, ...] = (
    _t("submit", {"new"}, "received", {CONSUMER, CLERK, SUPERVISOR}, starts=("decision", "consumer_reply")),
    _t(
        "request_materials",
        {"received"},
        "awaiting_materials",
        {CLERK, SUPERVISOR},
        fields=(Field("missing", zh="需补正的材料", en="What is missing"),),
        pauses=("decision", "consumer_reply"),
    ),
    _t(
        "receive_materials",
        {"awaiting_materials"},
        "received",
        {CONSUMER, CLERK, SUPERVISOR},
        fields=(_NOTE,),
        resumes=("decision", "consumer_reply"),
    ),
    _t("accept", {"received"}, "accepted", {CLERK, SUPERVISOR}, fields=(_NOTE,), stops=("decision",)),
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
        outcome="rejected",
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
    ),
    _t(
        "reply",
        {"referred"},
        "replied",
        {OPERATOR, MEDIATOR, SUPERVISOR},
        fields=(Field("text", zh="答复内容", en="Reply"),),
        stops=("operator_reply",),
    ),
    _t("mediate", {"replied"}, "mediating", {MEDIATOR, SUPERVISOR}, fields=(_NOTE,)),
    _t(
        "settle",
        {"replied", "mediating"},
        "settled",
        {MEDIATOR, SUPERVISOR},
        fields=_TERMS + (_NOTE,),
        stops=("consumer_reply", "operator_reply"),
        outcome="settled",
    ),
    _t("close", {"settled"}, "closed", {MEDIATOR, SUPERVISOR}, fields=(_NOTE,)),
    _t(
        "acknowledge",
        {"replied", "mediating"},
        "closed",
        {MEDIATOR, SUPERVISOR},
        fields=(_NOTE,),
        stops=("consumer_reply", "operator_reply"),
        outcome="acknowledged",
    ),
    _t(
        "disagree",
        {"replied", "mediating"},
        "closed",
        {MEDIATOR, SUPERVISOR},
        fields=(_NOTE,),
        stops=("consumer_reply", "operator_reply"),
        outcome="disagreed",
    ),
    _t(
        "end_mediation",
        {"mediating"},
        "closed",
        {MEDIATOR, SUPERVISOR},
        fields=(Field("advice", zh="告知仲裁、诉讼等途径", en="Advice on arbitration and courts"),),
        stops=("consumer_reply", "operator_reply"),
        outcome="mediation_failed",
    ),
    _t(
        "withdraw",
        {"received", "awaiting_materials"} | _ACTIVE,
        "withdrawn",
        {CONSUMER, CLERK, MEDIATOR, SUPERVISOR},
        fields=(Field("reason", zh="撤回原因", en="Reason"),),
        stops=_ALL_CLOCKS,
        outcome="withdrawn",
    ),
    _t(
        "reopen",
        {"closed", "settled"},
        "mediating",
        {SUPERVISOR},
        fields=(Field("reason", zh="重新开启原因", en="Reason"),),
        starts=("consumer_reply",),
    ),
    _t(
        "reopen",
        {"rejected", "withdrawn"},
        "received",
        {SUPERVISOR},
        fields=(Field("reason", zh="重新开启原因", en="Reason"),),
        starts=("decision", "consumer_reply"),
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
