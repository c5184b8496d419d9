"""The domain's tables: appeals, their events, materials, contacts, people and statistics.

Times are stored as naive UTC datetimes; pages convert them to Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases import states
from cases.db import db


def utcnow() -> dt.datetime:
    """The current time as naive UTC, the form every timestamp is stored in."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# The open and closed states (`cases.states`) as the predicates' SQL lists, for the partial indexes.
OPEN_STATES_SQL = states.sql_list(states.OPEN_STATES)
CLOSED_STATES_SQL = states.sql_list(states.CLOSED_STATES)
CLOSED_QUEUE_COLUMNS = ["status", "operator_id", "category", "assignee_id"]
# What the open queues filter, sort and count on besides the due time (cases.queues), kept in their index.
OPEN_QUEUE_COLUMNS = ["status", "operator_id", "category", "assignee_id", "overdue", "running_due_at", "received_at"]


def _partial_index(name: str, key: str, include: list[str], where: str) -> sa.Index:
    """An index over (key, id) of the rows `where` holds, covering `include` on PostgreSQL."""
    return sa.Index(
        name, key, "id", postgresql_include=include, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
    )


class ReferenceCode(db.Model):
    """A shared code (category, service type, ground ...) with its names."""

    __tablename__ = "reference_code"
    __table_args__ = (sa.UniqueConstraint("kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Operator(db.Model):
    """A telecom operator that appeals are filed against (被申诉企业)."""

    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    short_name: Mapped[str] = mapped_column(sa.String(100), default="")
    operator_type: Mapped[str] = mapped_column(sa.String(16), default="basic")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def display_name(self) -> str:
        return self.short_name or self.name


class User(db.Model):
    """A staff member or an operator liaison who signs in."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(100), default="")
    role: Mapped[str] = mapped_column(sa.String(16))  # clerk mediator supervisor admin operator
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operator.id"))
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Raised to end every web session of the account (cases.accounts.end_sessions); a session carries the value
    # it signed in with, and the user loader refuses a session whose value is not the current one.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    operator: Mapped[Operator | None] = relationship()

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(db.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    scopes: Mapped[list[str] | None] = mapped_column(JSONType)  # an operator token's scopes; None: every one

    user: Mapped[User] = relationship()


class CaseNumberSequence(db.Model):
    """The last case number given out in a year."""

    __tablename__ = "case_number_sequence"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Appeal(db.Model):
    """An appeal (申诉) and its case file."""

    __tablename__ = "appeal"
    __table_args__ = (
        sa.Index("ix_appeal_service_operator", "service_number", "operator_id"),
        sa.Index("ix_appeal_status_received", "status", "received_at"),
        # Words in the facts: a trigram GIN index on PostgreSQL (ILIKE '%词%'), a plain index elsewhere.
        sa.Index("ix_appeal_facts_trgm", "facts", postgresql_using="gin", postgresql_ops={"facts": "gin_trgm_ops"}),
        # Case-number prefixes (LIKE 'JL2024-00%'): the database's collation is not C, so the unique index
        # cannot serve LIKE; varchar_pattern_ops can (a plain index elsewhere).
        sa.Index("ix_appeal_case_no_pattern", "case_no", postgresql_ops={"case_no": "varchar_pattern_ops"}),
        # An operator's cases, of a category, in a state: the queue filters' usual combination (and counted
        # from the index alone); it also serves every look-up by operator.
        sa.Index("ix_appeal_operator_category", "operator_id", "category", "status"),
        # Staff search by the appellant's name (exact, as typed on the form; migration 0060).
        sa.Index("ix_appeal_complainant_name", "complainant_name"),
        # "My cases": a mediator's few open cases among the many closed ones.
        sa.Index("ix_appeal_assignee_status", "assignee_id", "status"),
        # The open cases (a few thousand of a million) in deadline order, with every column the open queues
        # filter on: a queue page and its count read this small index alone, whatever the filters and sort.
        _partial_index("ix_appeal_open_due", "next_due_at", OPEN_QUEUE_COLUMNS, f"status IN {OPEN_STATES_SQL}"),
        # The closed cases newest first, with the columns the closed queue filters on: a page reads this index
        # alone, without first stepping over the newest cases, which are still open (migration 0012).
        _partial_index(
            "ix_appeal_closed_received", "received_at", CLOSED_QUEUE_COLUMNS, f"status IN {CLOSED_STATES_SQL}"
        ),
        # The open cases oldest (or newest) first: a page of an open queue sorted by date received reads it in
        # order, instead of stepping over the closed cases of every earlier year in ix_appeal_received_at,
        # which the planner may choose when it takes the new cases to be spread over ten years (migration 0064).
        _partial_index("ix_appeal_open_received", "received_at", CLOSED_QUEUE_COLUMNS, f"status IN {OPEN_STATES_SQL}"),
        # The late cases among the open ones (the overdue queue and filter).
        sa.Index(
            "ix_appeal_running_due",
            "running_due_at",
            postgresql_where=sa.text("running_due_at IS NOT NULL"),
            sqlite_where=sa.text("running_due_at IS NOT NULL"),
        ),
        # The statistics (cases/statistics.py; migrations 0005, 0008 and 0050): 办结 reads appeals by closing time
        # (with the receipt time and the id, so from the index alone); the breakdown of the period's accepted and
        # settled cases by category, and the trends by service type.
        sa.Index("ix_appeal_closed_at", "closed_at", "received_at", "id"),
        sa.Index("ix_appeal_breakdown", "id", "operator_id", "category", "service_type"),
        # The urgent cases, few among many: the timeliness of their clocks is counted from them (migration 0063).
        sa.Index("ix_appeal_urgent", "id", postgresql_where=sa.text("urgent"), sqlite_where=sa.text("urgent")),
        # Two-character words: a GIN index over the facts' character pairs, PostgreSQL only (see the end of this module).
        sa.Index(
            "ix_appeal_facts_bigram", sa.func.appeal_bigrams(sa.literal_column("facts")), postgresql_using="gin"
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(sa.String(20), unique=True)
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(24), index=True)
    version: Mapped[int] = mapped_column(default=1)
    access_code_hash: Mapped[str] = mapped_column(sa.String(200), default="")
    channel: Mapped[str] = mapped_column(sa.String(16), default="online")

    # the appellant (申诉人)
    complainant_name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str] = mapped_column(sa.String(32), index=True)
    id_number: Mapped[str] = mapped_column(sa.String(18), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    postcode: Mapped[str] = mapped_column(sa.String(6), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    # How the appellant wants to be told of the case: sms, email or both (e-mail only when an address is given).
    notify_by: Mapped[str] = mapped_column(sa.String(8), default="both", server_default="both")

    # the matter
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"))
    service_type: Mapped[str] = mapped_column(sa.String(16))
    service_number: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(16), index=True)
    event_date: Mapped[dt.date | None]
    operator_complaint_date: Mapped[dt.date | None]
    operator_ticket_no: Mapped[str] = mapped_column(sa.String(64), default="")
    request: Mapped[str] = mapped_column(sa.Text, default="")
    facts: Mapped[str] = mapped_column(sa.Text, default="")

    # the case
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    accepted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    rejection_ground: Mapped[str | None] = mapped_column(sa.String(16))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    repeat_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    overdue: Mapped[bool] = mapped_column(default=False, index=True)
    # Urgent (issue 12): shorter clocks, first in every queue; the reason is a code (`cases.codes.URGENT_REASONS`).
    urgent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    urgent_reason: Mapped[str | None] = mapped_column(sa.String(24))
    urgent_at: Mapped[dt.datetime | None]
    # Kept by the engine from the case's clocks (workflows.engine.set_due_times), so the queues sort and find
    # overdue cases from the appeal row alone: the earliest due time of the clocks not stopped (paused ones
    # included), and of those also running (not paused), which is past due when the case is late.
    next_due_at: Mapped[dt.datetime | None]
    running_due_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Retention (cases/retention.py): a legal hold (set by a supervisor with a reason) keeps the personal data
    # past the retention period; `anonymised_at` is when the data was removed.
    legal_hold_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    legal_hold_at: Mapped[dt.datetime | None]
    legal_hold_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    anonymised_at: Mapped[dt.datetime | None]

    operator: Mapped[Operator] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    repeat_of: Mapped[Appeal | None] = relationship(remote_side=[id])
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="appeal", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    materials: Mapped[list[Material]] = relationship(
        back_populates="appeal", order_by="Material.id", cascade="all, delete-orphan"
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="appeal", order_by="Deadline.id", cascade="all, delete-orphan"
    )
    referrals: Mapped[list[Referral]] = relationship(back_populates="appeal", order_by="Referral.id")
    settlements: Mapped[list[Settlement]] = relationship(back_populates="appeal", order_by="Settlement.id")

    __mapper_args__ = {"version_id_col": version}

    def is_late(self, now: dt.datetime) -> bool:
        """Flagged overdue by the sweep, or a running clock past due at `now` (as the overdue queue holds it)."""
        return bool(self.overdue or (self.running_due_at is not None and self.running_due_at < now))

    def deadline(self, kind: str) -> Deadline | None:
        """The deadline of a kind (decision, operator_reply, consumer_reply), if started."""
        found = [d for d in self.deadlines if d.kind == kind]
        return found[-1] if found else None


class CaseEvent(db.Model):
    """One entry of a case's audit trail: a lifecycle action, a note, a reply, a view of personal data."""

    __tablename__ = "case_event"
    # Cases, not events, and the operator the case was against then: counted from the index alone (migration 0050).
    __table_args__ = (sa.Index("ix_case_event_action_at", "action", "at", "appeal_id", "operator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    from_state: Mapped[str | None] = mapped_column(sa.String(24))
    to_state: Mapped[str | None] = mapped_column(sa.String(24))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    actor_kind: Mapped[str] = mapped_column(sa.String(16), default="system")  # consumer staff operator system import
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    public_message: Mapped[str] = mapped_column(sa.Text, default="")
    internal: Mapped[bool] = mapped_column(default=False)
    # The operator the case was against when the event happened (a later re-referral does not move old figures).
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operator.id"))

    appeal: Mapped[Appeal] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Deadline(db.Model):
    """A clock on a case: started by one action, stopped by another, paused while materials are awaited."""

    __tablename__ = "deadline"
    __table_args__ = (
        sa.Index("ix_deadline_open_due", "stopped_at", "due_at"),
        # The statistics' timeliness reads clocks by kind and stopping time (migration 0005).
        sa.Index("ix_deadline_kind_stopped", "kind", "stopped_at", "met"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))  # decision, operator_reply, consumer_reply
    started_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    paused_at: Mapped[dt.datetime | None]
    stopped_at: Mapped[dt.datetime | None]
    met: Mapped[bool | None]
    flagged_overdue_at: Mapped[dt.datetime | None]

    appeal: Mapped[Appeal] = relationship(back_populates="deadlines")


class Material(db.Model):
    """One material item (用户提交材料): a stored file, or a paper/legacy item without content."""

    __tablename__ = "material"
    # The period's appellants' materials counted from the index alone (the statistics; migration 0050).
    __table_args__ = (sa.Index("ix_material_received_source", "received_at", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    stored_name: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    # The storage the object is in: "" the local upload folder, else s3://bucket/prefix (cases/storage.py).
    storage: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    original_name: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    mime_type: Mapped[str] = mapped_column(sa.String(100), default="")
    sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="consumer")  # consumer staff operator legacy
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # How a staff-recorded item came (post, counter) and, for a paper item, what it is.
    arrived_by: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Why the content is gone while the row (size, type, hash) stays: "retention" (cases/retention.py).
    removed: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")

    appeal: Mapped[Appeal] = relationship(back_populates="materials")


class Referral(db.Model):
    """A referral (转办) of an appeal to an operator, and the operator's reply."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"), index=True)
    referred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime]
    replied_at: Mapped[dt.datetime | None]
    reply_text: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    signed_at: Mapped[dt.datetime | None]  # the operator signed for it (签收)
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    appeal: Mapped[Appeal] = relationship(back_populates="referrals")
    operator: Mapped[Operator] = relationship()
    instructions: Mapped[list[ReferralInstruction]] = relationship(
        back_populates="referral", order_by="ReferralInstruction.id"
    )
    signed_by: Mapped[User | None] = relationship()


class ReferralInstruction(db.Model):
    """A standard instruction sent with a referral (`cases.codes.INSTRUCTIONS`), which the operator confirms."""

    __tablename__ = "referral_instruction"
    __table_args__ = (sa.UniqueConstraint("referral_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referral.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    referral: Mapped[Referral] = relationship(back_populates="instructions")


class Settlement(db.Model):
    """The terms of a settlement (和解) and whether the operator carried them out."""

    __tablename__ = "settlement"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    refund_amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0"))
    service_restored: Mapped[bool] = mapped_column(default=False)
    apology: Mapped[bool] = mapped_column(default=False)
    other_terms: Mapped[str] = mapped_column(sa.Text, default="")
    perform_by: Mapped[dt.date | None]
    proposed_by: Mapped[str] = mapped_column(sa.String(16), default="staff")  # staff or operator
    agreed_at: Mapped[dt.datetime | None]
    operator_reported_done_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    missed: Mapped[bool] = mapped_column(default=False)
    # The appellant's reports that the operator has not carried out the terms (cases.outcome): the latest one
    # puts the case on the mediators' "履行未到位" list until a follow-up call confirms the terms (migration 0060).
    consumer_reported_at: Mapped[dt.datetime | None]
    consumer_reports: Mapped[int] = mapped_column(default=0, server_default="0")  # bulk inserts may leave it out

    appeal: Mapped[Appeal] = relationship(back_populates="settlements")


class FilingReceipt(db.Model):
    """A filing's one-time key (the web form's token, an API Idempotency-Key): the same key again finds the first
    case instead of filing a second one. For a few minutes it also keeps the receipt's access code, sealed with
    the key itself, and until the SMS/e-mail receipt is sent, sealed with the app's secret (cases.receipts)."""

    __tablename__ = "filing_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 of scope and key
    scope: Mapped[str] = mapped_column(sa.String(8))  # form api
    fingerprint: Mapped[str] = mapped_column(sa.String(64), default="")  # SHA-256 of what was filed
    appeal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appeal.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sealed_code: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    notice_code: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    appeal: Mapped[Appeal | None] = relationship()


class Contact(db.Model):
    """A phone consultation, a walk-in visit or a follow-up call (回访呼出)."""

    __tablename__ = "contact"
    __table_args__ = (sa.Index("ix_contact_channel_at", "channel", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(24))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    appeal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operator.id"))
    person_name: Mapped[str] = mapped_column(sa.String(100), default="")
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    topic: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    # Art. 13 triage: did the caller complain to the operator first (None: not asked, e.g. a policy question)
    complained_to_operator: Mapped[bool | None]
    # follow-up call fields
    callee: Mapped[str] = mapped_column(sa.String(16), default="")  # consumer or operator
    reached: Mapped[bool | None]
    satisfaction: Mapped[int | None]  # 1..5
    next_call_due: Mapped[dt.date | None]
    terms_carried_out: Mapped[bool | None]
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    legacy_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    anonymised_at: Mapped[dt.datetime | None]  # cases/retention.py

    appeal: Mapped[Appeal | None] = relationship()
    operator: Mapped[Operator | None] = relationship()


class RetentionRun(db.Model):
    """One run of the retention job (the audit of it: how many rows it changed, never which data it removed)."""

    __tablename__ = "retention_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    dry_run: Mapped[bool] = mapped_column(default=False)
    cutoff: Mapped[dt.datetime]
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class EligibilityStop(db.Model):
    """An anonymous count of consumers stopped by the eligibility check, per day and reason."""

    __tablename__ = "eligibility_stop"
    __table_args__ = (sa.UniqueConstraint("day", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(sa.String(32))
    count: Mapped[int] = mapped_column(default=0)


class PiiView(db.Model):
    """A record that a user looked at a full, unmasked personal value."""

    __tablename__ = "pii_view"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    field: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboxJob(db.Model):
    """A background job recorded with the change that needs it, handed to rq after commit."""

    __tablename__ = "outbox_job"
    __table_args__ = (sa.Index("ix_outbox_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending enqueued done failed
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    rq_job_id: Mapped[str | None] = mapped_column(sa.String(64))


class Notification(db.Model):
    """A message sent (or attempted) to a consumer, an operator or staff."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    event_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(8))  # email sms
    recipient: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class PhoneCode(db.Model):
    """A one-time code sent by SMS to prove a mobile number (cases.consumers): one a number, a new one replaces it.

    Only the code's HMAC is kept; its sealed copy (for the sending job) is cleared once the SMS is out."""

    __tablename__ = "phone_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(32), unique=True)
    purpose: Mapped[str] = mapped_column(sa.String(8))  # sign_in file
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    sealed_code: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)


class ConsumerSession(db.Model):
    """A verified consumer's session (web page or API bearer token), bound to one mobile number."""

    __tablename__ = "consumer_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 of the token
    phone: Mapped[str] = mapped_column(sa.String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class Rating(db.Model):
    """The appellant's rating of how the case was handled (满意度评价), given once on the web after it ended.

    Follow-up calls record theirs on `Contact.satisfaction`; the statistics count the later of the two."""

    __tablename__ = "rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("appeal.id"), unique=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    appeal: Mapped[Appeal] = relationship()


class WebhookEndpoint(db.Model):
    """An operator's receiver of webhook events: URL, events wanted, secret sealed at rest (`cases.webhooks`)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    previous_valid_until: Mapped[dt.datetime | None]  # both secrets sign until then (rotation overlap)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None]
    paused_at: Mapped[dt.datetime | None]  # failing for a day: deliveries wait until an admin resumes it
    failing_since: Mapped[dt.datetime | None]  # the first failure since the last success

    operator: Mapped[Operator] = relationship()


class WebhookEvent(db.Model):
    """One event for an operator (`referral.created` ...), written with the change that causes it."""

    __tablename__ = "webhook_event"
    __table_args__ = (sa.Index("ix_webhook_event_operator_created", "operator_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # "evt_<hex>": the receiver's dedupe key
    type: Mapped[str] = mapped_column(sa.String(40))
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"))
    appeal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appeal.id"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """An event on its way to one endpoint: its state and the next try (`workflows.webhooks`)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_event.id"))
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoint.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending retrying delivered failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(db.Model):
    """One HTTP attempt of a delivery, for the endpoint's delivery log."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_delivery.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]  # None: no answer (refused, timed out)
    duration_ms: Mapped[int] = mapped_column(default=0)
    answer: Mapped[str] = mapped_column(sa.String(500), default="")  # the first part of the answer, or the error

    delivery: Mapped[WebhookDelivery] = relationship()


class SubscriberCount(db.Model):
    """An operator's subscriber count for a period, for the per-million-users rate."""

    __tablename__ = "subscriber_count"
    __table_args__ = (sa.UniqueConstraint("operator_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"))
    period: Mapped[str] = mapped_column(sa.String(8))
    count: Mapped[int] = mapped_column(sa.BigInteger)

    operator: Mapped[Operator] = relationship()


class TrendBucket(db.Model):
    """The trends' rollup (cases.trends): cases accepted in one complete Asia/Shanghai month or week, by the
    operator at acceptance, category and service type, so the statistics page reads a few hundred rows instead
    of grouping every acceptance of the span."""

    __tablename__ = "trend_bucket"

    unit: Mapped[str] = mapped_column(sa.String(5), primary_key=True)  # month week
    bucket: Mapped[dt.date] = mapped_column(primary_key=True)  # the first day (a Monday for a week)
    operator_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    service_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    accepted: Mapped[int]


class TrendState(db.Model):
    """How far `trend_bucket` is filled for one unit: every complete bucket before `through`, from the events up
    to `event_id` (an acceptance recorded later, e.g. imported history, makes its bucket be counted live)."""

    __tablename__ = "trend_state"

    unit: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    through: Mapped[dt.date]
    event_id: Mapped[int] = mapped_column(sa.BigInteger)
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Baseline(db.Model):
    """Published figures of a period from before the system, so 同比 works from the first period."""

    __tablename__ = "baseline"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), unique=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarDay(db.Model):
    """A day of the official working calendar entered by an admin: a public holiday (休) or a make-up working
    day (调休上班). It overrides the chinese-calendar package, which covers a year only once a release follows
    the State Council's schedule; days not entered follow the package, else Monday to Friday."""

    __tablename__ = "calendar_day"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    working: Mapped[bool]
    name: Mapped[str] = mapped_column(sa.String(40), default="")
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    entered_by: Mapped[User | None] = relationship()


class Alert(db.Model):
    """An early warning (异常预警): one operator's appeals of one kind in one week well above its recent weeks."""

    __tablename__ = "alert"
    __table_args__ = (sa.UniqueConstraint("dimension", "operator_id", "key", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(16))  # category, service_type or city
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey("operator.id"))
    key: Mapped[str] = mapped_column(sa.String(32))  # the category, service type or city
    week_start: Mapped[dt.date]  # a Monday, Asia/Shanghai
    count: Mapped[int]
    expected: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    p_value: Mapped[float] = mapped_column(sa.Float)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    operator: Mapped[Operator] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()


class BulletinRevision(db.Model):
    """A numbered snapshot of a period's figures; a published one never changes."""

    __tablename__ = "bulletin_revision"
    __table_args__ = (sa.UniqueConstraint("period", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), index=True)
    number: Mapped[int]
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    paragraph: Mapped[str] = mapped_column(sa.Text, default="")
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


# The trigram index on appeal.facts needs pg_trgm; create_all (tests, fresh installs) adds it first.
sa.event.listen(
    Appeal.__table__,
    "before_create",
    sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


# Two-character Chinese words (信号, 扣费, 套餐) contain no trigram, so the trigram index cannot find them. On
# PostgreSQL the facts' set of character pairs is indexed too (ix_appeal_facts_bigram, GIN over
# appeal_bigrams(facts)); create_all adds the function first; migrations 0007 and 0011 create the same function and index.
FACTS_BIGRAMS_FUNCTION = """
CREATE OR REPLACE FUNCTION appeal_bigrams(t text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  chars text[] := regexp_split_to_array(lower(t), '');  -- one element a character: substr(l, i, 2) would walk
  pairs text[] := '{}';                                  -- the multibyte text from its start for every pair
BEGIN
  FOR i IN 1 .. cardinality(chars) - 1 LOOP
    pairs := pairs || (chars[i] || chars[i + 1]);  -- GIN keeps each distinct pair once
  END LOOP;
  RETURN pairs;
END
$$"""
sa.event.listen(Appeal.__table__, "before_create", sa.DDL(FACTS_BIGRAMS_FUNCTION).execute_if(dialect="postgresql"))
