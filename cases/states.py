"""The lifecycle's vocabulary, defined once: the states of a case (open or closed), the roles of the people who
act on cases, and the outcome each closing action records.

The domain needs these words (queues, statistics, indexes, accounts), so they live here in `cases/`;
`workflows.lifecycle` builds its table of transitions from them, and `app/` uses the names.
"""

from __future__ import annotations

from dataclasses import dataclass

# Roles of people who act on cases.
CONSUMER, CLERK, MEDIATOR, SUPERVISOR, ADMIN, OPERATOR = (
    "consumer",
    "clerk",
    "mediator",
    "supervisor",
    "admin",
    "operator",
)
ALL_ROLES = (CONSUMER, CLERK, MEDIATOR, SUPERVISOR, ADMIN, OPERATOR)
ACCOUNT_ROLES = (CLERK, MEDIATOR, SUPERVISOR, ADMIN, OPERATOR)  # the roles an account can have
STAFF = frozenset({CLERK, MEDIATOR, SUPERVISOR, ADMIN})  # the centre's people
CASEWORK = frozenset({CLERK, MEDIATOR, SUPERVISOR})  # those who work on cases
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})
ASSIGNABLE_ROLES = (MEDIATOR,)  # who a case can be assigned to


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

# In the table's order; listing the open ones lets the status index pick the few open cases out of the many closed.
OPEN_STATES: tuple[str, ...] = tuple(code for code, s in STATES.items() if s.open)
CLOSED_STATES: tuple[str, ...] = tuple(code for code, s in STATES.items() if not s.open)
NEW_STATES = ("received", "awaiting_materials")  # waiting for the centre's decision


def is_open(state: str | None) -> bool:
    """Whether a case in this state is still being handled (a state not in the table is not open)."""
    s = STATES.get(state or "")
    return s is not None and s.open


def sql_list(states: tuple[str, ...]) -> str:
    """States as an SQL list literal, for the predicate of a partial index: ('a', 'b')."""
    return "(" + ", ".join(f"'{s}'" for s in states) + ")"


# The outcome each closing action records on the case (the lifecycle's rows carry it; the statistics count by it).
OUTCOME_OF_ACTION: dict[str, str] = {
    "settle": "settled",
    "acknowledge": "acknowledged",
    "disagree": "disagreed",
    "end_mediation": "mediation_failed",
    "withdraw": "withdrawn",
    "reject": "rejected",
}
OUTCOMES: tuple[str, ...] = tuple(OUTCOME_OF_ACTION.values())
