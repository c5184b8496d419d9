"""The pydantic models of /api/v1: request bodies and query strings (checked) and responses (checked on the way out).

Models check shapes and types; the domain rules stay in `cases/` and are called from here or from the view,
so that the web form and the API share them. Times are ISO 8601 in UTC with `Z`, dates `YYYY-MM-DD`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.extensions import db
from cases import codes, contacts, followups, intake, queues
from cases.models import Appeal, Operator, User
from cases.validation import FieldError, clean_text
from workflows import lifecycle

MAX_PER_PAGE = 100
MAX_RANGE_DAYS = 366 * 5  # the longest range of the statistics API
PHONE_CHARS = set("0123456789+- ")


def one_of(table: Any) -> Any:
    """A Literal of a code table's codes (the table declares them once)."""
    return Literal[tuple(table)]


def domain_error(message: str) -> PydanticCustomError:
    """A validation error carrying a message already in the caller's language."""
    return PydanticCustomError("domain", "{message}", {"message": message})


def _line(err: Any) -> Any:
    """A pydantic error (as `errors()` lists it) as a line error to raise again."""
    if not isinstance(err["type"], str):
        return err
    kind, ctx = err["type"], err.get("ctx")
    if kind == "domain":
        return {"type": domain_error(str(ctx["message"])), "loc": err["loc"], "input": err.get("input")}
    line = {"type": kind, "loc": err["loc"], "input": err.get("input")}
    if ctx:
        line["ctx"] = ctx
    return line


def _plausible(day: dt.date | dt.datetime) -> Any:
    if not contacts.plausible(day):
        raise domain_error(_("日期应在 2000 年至 2099 年之间。"))
    return day


def clean(max_length: int, multiline: bool = False) -> Any:
    """Text cleaned as on every path, web and API alike (`cases.validation.clean_text`: control characters,
    NUL and lone surrogates dropped, NFC, outer spaces stripped), then no longer than `max_length`."""

    def run(value: str) -> str:
        try:
            return clean_text(value, max_length=max_length, multiline=multiline)
        except FieldError as exc:
            raise domain_error(exc.message) from None

    return Annotated[StrictStr, AfterValidator(run), Field(json_schema_extra={"maxLength": max_length})]


Day = Annotated[dt.date, AfterValidator(_plausible)]
Moment = Annotated[dt.datetime, AfterValidator(_plausible)]
Text = StrictStr


class ApiModel(BaseModel):
    """The base of every request model: unknown fields are ignored, strings keep their spaces for the rules.

    A model with rules across fields (or rules needing the database) overrides `rules(raw, checked)`: it gets the
    raw object and, when the types were right, the checked model (else None), and returns messages per field.
    They are answered together with the type errors, so the caller learns every field to fix at once.
    """

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def rules(cls, raw: dict[str, Any], checked: Any) -> dict[str, list[str]]:
        """Messages of the rules across fields; none by default."""
        return {}

    @model_validator(mode="wrap")
    @classmethod
    def _with_rules(cls, data: Any, handler: Any) -> Any:
        try:
            checked, line_errors = handler(data), []
        except ValidationError as exc:
            checked, line_errors = None, exc.errors()
        if isinstance(data, dict):
            typed = {str(e["loc"][0]) for e in line_errors if e["loc"]}
            for field, messages in cls.rules(data, checked).items():
                if field not in typed:
                    line_errors += [
                        {"type": domain_error(m), "loc": (field,), "input": data.get(field)} for m in messages
                    ]
        if line_errors:
            raise ValidationError.from_exception_data(cls.__name__, [_line(e) for e in line_errors])
        return checked


class Out(BaseModel):
    """The base of every response model (more fields than declared may come; the declared ones are checked)."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(Out):
    """Every 4xx answer: a message, and per field the messages of what to fix."""

    error: str
    errors: dict[str, list[str]] | None = None


# --- paging ------------------------------------------------------------------------------------------------


class PageQuery(ApiModel):
    """The page of a list."""

    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(25, ge=1, le=MAX_PER_PAGE)


class Page(Out):
    """The paging facts beside a list's items."""

    page: int
    per_page: int
    total: int
    pages: int


def paging(page: int, per_page: int, total: int) -> dict[str, int]:
    """The paging facts of a page of `total` items."""
    return {"page": page, "per_page": per_page, "total": total, "pages": -(-total // per_page)}


class BadQuery(Exception):
    """Values that cannot be used; `errors` maps each field to its messages (answered 422)."""

    def __init__(self, errors: dict[str, list[str]]):
        """Keep the messages per field."""
        super().__init__("bad query")
        self.errors = errors


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """A stored naive UTC time as ISO 8601 with Z; a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


# --- shared answers -----------------------------------------------------------------------------------------


class Health(Out):
    """Alive."""

    status: str


class ReadinessChecks(Out):
    """Each check's word (`app/readiness.py`)."""

    database: Literal["ok", "unreachable"]
    redis: Literal["ok", "unreachable", "not used"]
    migrations: Literal["ok", "newer", "behind", "not migrated", "unknown"]


class Readiness(Out):
    """This node may take requests: each check's word."""

    status: Literal["ready"]
    checks: ReadinessChecks


class Document(Out):
    """An OpenAPI document."""

    openapi: str
    paths: dict[str, Any]


# --- consumer API -------------------------------------------------------------------------------------------


class OperatorItem(Out):
    """An operator an appeal can be filed against."""

    code: str
    name: str
    short_name: str | None = None
    operator_type: str | None = None
    operator_type_name_zh: str | None = None
    operator_type_name_en: str | None = None


class OperatorList(RootModel[list[OperatorItem]]):
    """The active operators."""


class CodeName(Out):
    """A code with its Chinese and English names."""

    code: str
    name_zh: str
    name_en: str


class CodeLists(Out):
    """The appeal categories and service types."""

    categories: list[CodeName]
    service_types: list[CodeName]


class Eligibility(ApiModel):
    """Answers to the eligibility check (Art. 10, 11, 13)."""

    complained_to_operator: StrictBool | None
    operator_replied: StrictBool | None
    satisfied: StrictBool | None = None
    court_or_arbitration: StrictBool | None
    settled_and_performed: StrictBool | None


class AppealInput(ApiModel):
    """An appeal as the portal's form takes it; the field rules are `cases.intake`'s."""

    complainant_name: Text = Field(json_schema_extra={"maxLength": 50})
    phone: Text = Field(description="Mainland mobile or fixed line with area code")
    id_number: Text | None = Field(None, description="Optional 18-digit resident ID (checksum verified)")
    address: Text = Field(json_schema_extra={"maxLength": 200})
    postcode: Text = Field(description="6 digits")
    email: Text | None = None
    notify_by: Text | None = Field(
        None,
        json_schema_extra={"enum": [*intake.NOTIFY_BY, None]},
        description="How to be told of the case: sms, email (needs `email`) or both (the default)",
    )
    operator: Text = Field(description="Operator code from GET /operators")
    service_type: Text = Field(json_schema_extra={"enum": list(codes.SERVICE_TYPES)})
    service_number: Text = Field(json_schema_extra={"maxLength": 40})
    category: Text = Field(json_schema_extra={"enum": list(codes.CATEGORIES)})
    event_date: Text = Field(json_schema_extra={"format": "date"})
    operator_complaint_date: Text = Field(json_schema_extra={"format": "date"})
    operator_ticket_no: Text | None = Field(None, json_schema_extra={"maxLength": 64})
    request: Text = Field(json_schema_extra={"maxLength": 1000})
    facts: Text = Field(json_schema_extra={"maxLength": 5000})
    pledge: bool = Field(description="The truthfulness pledge; must be true")
    eligibility: Eligibility


class AppealReceipt(Out):
    """A filed appeal: the access code is shown only here."""

    case_no: str
    access_code: str
    status: str
    decision_due: dt.datetime | None
    decision_due_date: dt.date | None = None


class TimelineItem(Out):
    """A public step of the case."""

    action: str
    action_name: str
    at: dt.datetime
    message: str


class PublicDeadline(Out):
    """A clock of the case as its appellant sees it."""

    kind: str
    name: str
    due_at: dt.datetime
    due_date: dt.date
    stopped_at: dt.datetime | None
    paused: bool
    met: bool | None


class PublicMaterial(Out):
    """A file of the case."""

    id: int
    name: str
    size: int
    type: str
    received_at: dt.datetime


class PublicCase(Out):
    """The case as its appellant sees it."""

    case_no: str
    status: str
    status_name: str
    status_text: str
    open: bool
    outcome: str | None
    received_at: dt.datetime
    operator: str
    category: str
    category_name: str
    rejection_ground: str | None
    rejection_ground_name: str
    timeline: list[TimelineItem]
    deadlines: list[PublicDeadline]
    materials: list[PublicMaterial]


class AccessCode(ApiModel):
    """The access code shown once when the appeal was filed."""

    code: str | None = Field(None, alias="X-Access-Code", json_schema_extra={"maxLength": 64})


class MaterialUpload(ApiModel):
    """One file in the multipart field `file`."""

    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"})


class MaterialReceipt(Out):
    """A stored file."""

    id: int
    name: str
    size: int
    type: str
    sha256: str
    received_at: dt.datetime
    status: str


class WithdrawInput(ApiModel):
    """Why the appellant withdraws (撤回)."""

    reason: Text | None = Field(None, json_schema_extra={"maxLength": 1000}, description="Required (422 when empty)")


# --- staff and operator API: cases ------------------------------------------------------------------------


class CaseQuery(PageQuery):
    """The staff queues' filters (`cases.queues.QueueFilters`, the one place that defines them) and a search."""

    state: one_of(lifecycle.STATES) | None = None  # type: ignore[valid-type]
    operator: str | None = Field(None, max_length=32, description="operator code")
    category: one_of(codes.CATEGORIES) | None = None  # type: ignore[valid-type]
    received_from: Day | None = Field(None, description="Asia/Shanghai day, included")
    received_to: Day | None = Field(None, description="Asia/Shanghai day, included")
    assignee: str | None = Field(None, max_length=64, description="username or user id; none = unassigned")
    overdue: bool | None = None
    q: str | None = Field(None, max_length=100, description="part of the case number, service number or phone")

    _operator_id: int | None = PrivateAttr(None)
    _assignee_id: int | None = PrivateAttr(None)

    @classmethod
    def rules(cls, raw: dict[str, Any], checked: CaseQuery | None) -> dict[str, list[str]]:
        """The operator's code and the assignee must name an operator and a user."""
        errors: dict[str, list[str]] = {}
        code = (raw.get("operator") or "").strip() if isinstance(raw.get("operator"), str) else ""
        if code:
            operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == code))
            if operator_id is None:
                errors["operator"] = [_("请选择有效的运营商。")]
            elif checked is not None:
                checked._operator_id = operator_id
        assignee = (raw.get("assignee") or "").strip() if isinstance(raw.get("assignee"), str) else ""
        if assignee and assignee != "none":
            user_id = db.session.scalar(sa.select(User.id).where(User.username == assignee))
            if user_id is None and assignee.isdigit() and len(assignee) < 10:
                user_id = db.session.scalar(sa.select(User.id).where(User.id == int(assignee)))
            if user_id is None:
                errors["assignee"] = [_("没有这个用户。")]
            elif checked is not None:
                checked._assignee_id = user_id
        return errors

    def filters(self) -> queues.QueueFilters:
        """The checked values as the queues' filters."""
        return queues.QueueFilters(
            state=self.state,
            operator_id=self._operator_id,
            category=self.category,
            received_from=self.received_from,
            received_to=self.received_to,
            assignee_id=self._assignee_id,
            unassigned=(self.assignee or "").strip() == "none",
            overdue=self.overdue,
            text=(self.q or "").strip() or None,
        )


class Deadline(Out):
    """A clock of a case."""

    kind: str
    due_at: dt.datetime
    stopped_at: dt.datetime | None
    paused: bool
    met: bool | None
    overdue: bool


class CaseSummary(Out):
    """A case with masked personal data."""

    case_no: str
    status: str
    outcome: str | None
    version: int
    channel: str
    operator: str
    operator_name: str
    category: str
    service_type: str
    service_number: str
    complainant_name: str
    phone: str
    received_at: dt.datetime
    accepted_at: dt.datetime | None
    closed_at: dt.datetime | None
    assignee: str | None
    overdue: bool
    urgent: bool
    urgent_reason: str | None
    deadlines: list[Deadline]


class CaseList(Page):
    """A page of cases."""

    items: list[CaseSummary]


class CaseEvent(Out):
    """A step of the case's history the caller may see."""

    action: str
    from_state: str | None
    to_state: str | None
    at: dt.datetime
    actor_kind: str | None
    internal: bool
    details: dict[str, Any] | None
    public_message: str | None


class CaseDetail(CaseSummary):
    """One case: the summary, the matter, the referral, the agreed settlement and the events."""

    request: str
    facts: str
    allowed_actions: list[str]
    referral: dict[str, Any] | None
    settlement: dict[str, Any] | None
    events: list[CaseEvent]


class ActionInput(ApiModel):
    """The action's fields (see the lifecycle table) and an optional version for optimistic locking."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, StrictStr | StrictInt | float | StrictBool | None] = Field(init=False)

    version: StrictInt | None = None


class EventOut(Out):
    """The recorded step."""

    action: str
    from_state: str | None
    to_state: str
    at: dt.datetime


class ActionResult(Out):
    """The new state and version."""

    case_no: str
    status: str
    outcome: str | None
    version: int
    event: EventOut


class SettlementInput(ApiModel):
    """Settlement terms (checked like the terms of the `settle` action)."""

    refund_amount: StrictStr | float | None = Field(None, description="yuan, e.g. 50.00")
    service_restored: StrictBool | None = None
    apology: StrictBool | None = None
    other_terms: StrictStr | None = None
    perform_by: StrictStr | None = Field(None, json_schema_extra={"format": "date"})


class Settlement(Out):
    """A settlement row (proposed or agreed)."""

    id: int
    proposed_by: str
    refund_amount: str
    service_restored: bool
    apology: bool
    other_terms: str | None
    perform_by: dt.date | None
    agreed_at: dt.datetime | None
    operator_reported_done_at: dt.datetime | None


class TermsDoneInput(ApiModel):
    """An optional note."""

    note: clean(2000, multiline=True) | None = None


# --- contacts -------------------------------------------------------------------------------------------------


class ContactQuery(PageQuery):
    """Filters of the contacts list."""

    channel: one_of(codes.CONTACT_CHANNELS) | None = None  # type: ignore[valid-type]
    date_from: Day | None = None
    date_to: Day | None = None
    operator: str | None = Field(None, max_length=32)


class ContactInput(ApiModel):
    """phone_consultation/visit need topic and question; callback needs case_no, callee, reached."""

    channel: one_of(codes.CONTACT_CHANNELS)  # type: ignore[valid-type]
    at: Moment | None = Field(None, description="default now; no offset = Asia/Shanghai")
    topic: clean(200) | None = None
    operator: clean(32) | None = Field(None, description="operator code")
    person_name: clean(100) | None = None
    phone: clean(32) | None = None
    question: clean(5000, multiline=True) | None = None
    answer: clean(5000, multiline=True) | None = None
    complained_to_operator: StrictBool | None = Field(None, description="Art. 13 triage")
    case_no: clean(20) | None = None
    callee: one_of(followups.CALLEES) | None = None  # type: ignore[valid-type]
    reached: StrictBool | None = None
    satisfaction: StrictInt | None = Field(None, ge=1, le=5)
    next_call_due: Day | None = None
    terms_carried_out: StrictBool | None = None
    notes: clean(5000, multiline=True) | None = None

    _operator_id: int | None = PrivateAttr(None)
    _appeal: Any = PrivateAttr(None)

    @classmethod
    def rules(cls, raw: dict[str, Any], checked: ContactInput | None) -> dict[str, list[str]]:
        """What a channel requires, the phone's characters, the follow-up call's rules, codes that must exist."""
        errors: dict[str, list[str]] = {}
        callback = raw.get("channel") == "callback"
        for name in ("case_no", "callee", "reached") if callback else ("topic", "question"):
            value = raw.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                errors[name] = [_("此项为必填项。")]
        phone = raw.get("phone")
        if not callback and isinstance(phone, str) and phone.strip():
            phone = phone.strip()
            if not set(phone) <= PHONE_CHARS or not 5 <= len(phone) <= 20:
                errors["phone"] = [_("请输入有效的电话号码（数字，5到20位）。")]
        if callback and raw.get("satisfaction") is not None and raw.get("callee") == "operator":
            errors["satisfaction"] = [_("满意度只在回访申诉人时填写。")]
        operator_code = raw.get("operator")
        if not callback and isinstance(operator_code, str) and operator_code.strip():
            operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == operator_code.strip()))
            if operator_id is None:
                errors["operator"] = [_("请选择有效的运营商。")]
            elif checked is not None:
                checked._operator_id = operator_id
        case_no = raw.get("case_no")
        if callback and isinstance(case_no, str) and case_no.strip():
            appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no.strip()))
            if appeal is None:
                errors["case_no"] = [_("没有这个案件。")]
            elif appeal.status == "settled" and raw.get("reached") is True and raw.get("terms_carried_out") is None:
                errors["terms_carried_out"] = [_("请确认企业是否已履行和解条款。")]
            if checked is not None:
                checked._appeal = appeal
        return errors

    @property
    def operator_id(self) -> int | None:
        """The operator the code names (checked by `rules`)."""
        return self._operator_id

    @property
    def appeal(self) -> Any:
        """The case of a follow-up call (checked by `rules`)."""
        return self._appeal


class Contact(Out):
    """A consultation, visit or follow-up call; name and phone masked."""

    id: int
    channel: str
    at: dt.datetime
    topic: str | None
    operator: str | None
    person_name: str | None
    phone: str | None
    question: str | None
    answer: str | None
    complained_to_operator: bool | None
    case_no: str | None
    callee: str | None
    reached: bool | None
    satisfaction: int | None
    next_call_due: dt.date | None
    terms_carried_out: bool | None


class ContactList(Page):
    """A page of contacts."""

    items: list[Contact]


# --- bulletin and statistics ------------------------------------------------------------------------------------


class PublishedPeriod(Out):
    """A period with a published bulletin."""

    period: str
    revision: int
    published_at: dt.datetime | None
    provisional: bool = Field(description="published with figures computed before the period ended")


class PublishedPeriods(RootModel[list[PublishedPeriod]]):
    """The periods with a published bulletin."""


class BulletinRevision(Out):
    """A computed revision of a period's figures."""

    period: str
    revision: int
    computed_at: dt.datetime | None
    published_at: dt.datetime | None
    provisional: bool = Field(description="published with figures computed before the period ended")
    paragraph: str | None
    figures: dict[str, Any]


class RevisionWithChanges(BulletinRevision):
    """A revision and what changed against the one before."""

    changes: Any = None


class RevisionList(RootModel[list[RevisionWithChanges]]):
    """Every revision of a period, newest first."""


class RollupQueued(Out):
    """The queued rollup and the latest revision so far."""

    job_id: int
    latest: BulletinRevision | None


class PublishQuery(ApiModel):
    """`provisional=yes` publishes figures computed before the period ended (marked provisional everywhere)."""

    provisional: Literal["yes"] | None = None


class RangeQuery(ApiModel):
    """A date range, Asia/Shanghai, inclusive: within 2000-2100, `to` not before `from`, at most five years."""

    model_config = ConfigDict(populate_by_name=True)

    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")

    @classmethod
    def rules(cls, raw: dict[str, Any], checked: RangeQuery | None) -> dict[str, list[str]]:
        """The range's own rules (once both dates are dates)."""
        if checked is None:
            return {}
        errors: dict[str, list[str]] = {}
        for name, day in (("from", checked.date_from), ("to", checked.date_to)):
            if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
                errors[name] = [_("日期应在2000年至2100年之间。")]
        if not errors and checked.date_to < checked.date_from:
            errors["to"] = [_("截止日期不能早于起始日期。")]
        if not errors and (checked.date_to - checked.date_from).days > MAX_RANGE_DAYS:
            errors["to"] = [_("日期范围最长五年。")]
        return errors


class RangeFigures(Out):
    """The figures and breakdowns for a date range."""

    figures: dict[str, Any]


# --- the operator's API (issue 12) ----------------------------------------------------------------------------


class ReferralQuery(ApiModel):
    """The operator's referrals: filters, and the cursor of the page before (ordered by last change)."""

    state: one_of(("referred", "replied", "mediating", "settled", "closed", "withdrawn")) | None = None  # type: ignore[valid-type]
    due_before: Moment | None = Field(None, description="reply due before this time (UTC)")
    overdue: bool | None = Field(None, description="only replies past due (or only those not)")
    updated_since: Moment | None = Field(None, description="cases changed at or after this time (UTC)")
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of the page before")
    limit: int = Field(50, ge=1, le=MAX_PER_PAGE)


class ReferralItem(CaseSummary):
    """A case referred to the operator, with its referral (signed, instructions)."""

    updated_at: dt.datetime
    referral: dict[str, Any] | None


class ReferralList(Out):
    """A page of referrals; `next_cursor` is null on the last page."""

    items: list[ReferralItem]
    next_cursor: str | None


class ReplyUpload(ApiModel):
    """The reply's text and any files (multipart field `file`, repeated), which become the operator's materials."""

    text: clean(5000, multiline=True)  # type: ignore[valid-type]
    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"})


class EvidenceUpload(ApiModel):
    """Files (multipart field `file`, repeated), e.g. evidence that the settlement terms were carried out."""

    description: clean(500, multiline=True) | None = None  # type: ignore[valid-type]
    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"})


class FilesStored(Out):
    """What a multipart request stored: the case's state and the files."""

    case_no: str
    status: str
    version: int
    materials: list[dict[str, Any]]


class EventQuery(ApiModel):
    """The catch-up feed: events of the last 30 days from `since`, after the event `after` (a feed cursor)."""

    since: Moment | None = Field(None, description="UTC; at most 30 days back (the default)")
    after: int | None = Field(None, ge=0, description="`next_after` of the page before")
    limit: int = Field(100, ge=1, le=MAX_PER_PAGE)


class EventFeed(Out):
    """Webhook events as they were delivered (`{"id","type","created_at","data"}`), oldest first."""

    items: list[dict[str, Any]]
    next_after: int | None


class TokenRotated(Out):
    """A new token, shown this once; the one used for the call is revoked."""

    token: str
    label: str
    scopes: list[str] | None
