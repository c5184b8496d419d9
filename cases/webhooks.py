"""Operators' webhook endpoints: the events, their payloads, the endpoints' secrets and the signature.

A secret is shown once when it is made and kept sealed (AES-GCM) under `WEBHOOK_SECRETS_KEY` (by default
the app's secret key). Rotating keeps the old secret signing too for `ROTATION_OVERLAP`, so a receiver can
switch without dropping a delivery. Delivery itself (HTTP, retries, pausing) is `workflows.webhooks`.

Events are transport, not the case's record (the case keeps its own timeline): `purge` deletes an event,
its deliveries and their attempts once every delivery has ended and the event is older than
`WEBHOOK_KEEP_DAYS` (never less than the operators' catch-up feed, `FEED_DAYS`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from cases import receipts
from cases.db import db
from cases.models import Appeal, Operator, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow

FEED_DAYS = 30  # how far back an operator reads its events (GET /api/v1/events)
KEEP_DAYS = 90  # the default of WEBHOOK_KEEP_DAYS
ENDED = ("delivered", "failed")  # a delivery still pending or retrying (or held by a paused endpoint) is on its way


@dataclass(frozen=True)
class EventType:
    name: str
    zh: str
    en: str


EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("referral.created", "新转办", "Referral created"),
        EventType("referral.reminder", "答复期限前一个工作日提醒", "Reply due in one working day"),
        EventType("referral.overdue", "答复逾期", "Reply overdue"),
        EventType("case.settled", "达成和解", "Case settled"),
        EventType("case.reopened", "重新开启", "Case reopened"),
        EventType("case.closed", "办结", "Case closed"),
        EventType("case.withdrawn", "撤回", "Case withdrawn"),
    )
}
ROTATION_OVERLAP = dt.timedelta(hours=24)
SIGNATURE_HEADER = "X-Appeals-Signature"
EVENT_ID_HEADER = "X-Appeals-Event-Id"
_PURPOSE = b"webhook-secret"
_LOOPBACK_NAMES = {"localhost"}


class InvalidEndpoint(ValueError):
    """An endpoint refused: `errors` names each bad field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


def _is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why a URL cannot receive webhooks (HTTPS only; plain HTTP on loopback), or None when it can."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if parts.scheme == "http" and not _is_loopback(host):
        return "must be https:// (plain http only on the loopback address)"
    return None


def _key(config: dict[str, Any]) -> str:
    return config.get("WEBHOOK_SECRETS_KEY") or config["SECRET_KEY"]


def new_secret() -> str:
    """A fresh signing secret, as shown once to the admin."""
    return "whsec_" + secrets.token_urlsafe(32)


def add_endpoint(
    config: dict[str, Any], operator: Operator, url: str, events: list[str]
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret in plain (to show once). Raises InvalidEndpoint."""
    errors: dict[str, list[str]] = {}
    if problem := url_problem(url):
        errors["url"] = [problem]
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        errors["events"] = [f"unknown event(s): {', '.join(unknown)}"]
    if errors:
        raise InvalidEndpoint(errors)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        operator_id=operator.id,
        url=url.strip(),
        events=list(dict.fromkeys(events or EVENT_TYPES)),
        secret_sealed=receipts.seal(_key(config), _PURPOSE, secret),
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def rotate(config: dict[str, Any], endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> str:
    """A new secret for the endpoint; the current one keeps signing for `ROTATION_OVERLAP`. Returns the new one."""
    now = now or utcnow()
    secret = new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_valid_until = now + ROTATION_OVERLAP
    endpoint.secret_sealed = receipts.seal(_key(config), _PURPOSE, secret)
    return secret


def signing_secrets(config: dict[str, Any], endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during the overlap."""
    now = now or utcnow()
    out = [receipts.unseal(_key(config), _PURPOSE, endpoint.secret_sealed)]
    if endpoint.previous_secret_sealed and endpoint.previous_valid_until and now < endpoint.previous_valid_until:
        out.append(receipts.unseal(_key(config), _PURPOSE, endpoint.previous_secret_sealed))
    return [s for s in out if s]


def signature(secrets_: list[str], timestamp: int, body: bytes) -> str:
    """The `X-Appeals-Signature` value: `t=<unix seconds>` and one `v1=<hex HMAC-SHA256>` per secret."""
    signed = str(timestamp).encode() + b"." + body
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets_]
    return ",".join(parts)


def live_endpoints(operator_id: int, event_type: str) -> list[WebhookEndpoint]:
    """The operator's endpoints (not removed) that want this event."""
    rows = db.session.scalars(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.operator_id == operator_id, WebhookEndpoint.removed_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )
    return [e for e in rows if event_type in (e.events or [])]


def new_event(event_type: str, operator_id: int, appeal: Appeal | None, data: dict, dedupe_key: str | None = None):
    """A webhook event row (added to the session), or None when its dedupe key is already known."""
    if dedupe_key is not None:
        if db.session.scalar(sa.select(WebhookEvent.id).where(WebhookEvent.dedupe_key == dedupe_key)) is not None:
            return None
    event = WebhookEvent(
        public_id="evt_" + uuid.uuid4().hex,
        type=event_type,
        operator_id=operator_id,
        appeal_id=appeal.id if appeal else None,
        dedupe_key=dedupe_key,
        data=data,
        created_at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def body(event: WebhookEvent) -> dict[str, Any]:
    """The JSON document delivered: `{"id", "type", "created_at", "data"}`."""
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": _iso(event.created_at),
        "data": event.data,
    }


def events_since(operator_id: int, since: dt.datetime, after_id: int = 0, limit: int = 100) -> list[WebhookEvent]:
    """The operator's events from `since` (the catch-up feed), oldest first, after the event row `after_id`."""
    return list(
        db.session.scalars(
            sa.select(WebhookEvent)
            .where(
                WebhookEvent.operator_id == operator_id, WebhookEvent.created_at >= since, WebhookEvent.id > after_id
            )
            .order_by(WebhookEvent.id)
            .limit(limit)
        )
    )


def _iso(at: dt.datetime | None) -> str | None:
    """A stored naive-UTC time as ISO 8601 with its zone."""
    return at.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z") if at else None


# The payloads: what the operator needs for each event, no more. Only a new referral carries the appellant's
# name and phone (to make contact); never the ID number, e-mail or address.
def _case(appeal: Appeal) -> dict[str, Any]:
    return {
        "case_no": appeal.case_no,
        "state": appeal.status,
        "urgent": bool(appeal.urgent),
        "urgent_reason": appeal.urgent_reason if appeal.urgent else None,
    }


def _referral(appeal: Appeal) -> dict[str, Any]:
    active = [r for r in appeal.referrals if r.active]
    ref = active[-1] if active else None
    clock = next((d for d in appeal.deadlines if d.kind == "instruction" and d.stopped_at is None), None)
    return {
        "referred_at": _iso(ref.referred_at) if ref else None,
        "reply_due_at": _iso(ref.due_at) if ref else None,
        "signed_at": _iso(ref.signed_at) if ref else None,
        "instructions": [
            {"kind": i.kind, "confirmed_at": _iso(i.confirmed_at)} for i in (ref.instructions if ref else [])
        ],
        "instructions_due_at": _iso(clock.due_at) if clock else None,
    }


def referral_created(appeal: Appeal) -> dict[str, Any]:
    return {
        "case": {
            **_case(appeal),
            "category": appeal.category,
            "service_type": appeal.service_type,
            "service_number": appeal.service_number,
            "request": appeal.request,
            "facts": appeal.facts,
            "received_at": _iso(appeal.received_at),
        },
        "appellant": {"name": appeal.complainant_name, "phone": appeal.phone},
        "referral": _referral(appeal),
    }


def referral_clock(appeal: Appeal) -> dict[str, Any]:
    return {"case": _case(appeal), "referral": _referral(appeal)}


def case_settled(appeal: Appeal) -> dict[str, Any]:
    s = appeal.settlements[-1] if appeal.settlements else None
    terms = {}
    if s is not None:
        terms = {
            "refund_amount": str(s.refund_amount or 0),
            "service_restored": bool(s.service_restored),
            "apology": bool(s.apology),
            "other_terms": s.other_terms or "",
            "perform_by": s.perform_by.isoformat() if s.perform_by else None,
        }
    return {"case": _case(appeal), "terms": terms}


def case_changed(appeal: Appeal) -> dict[str, Any]:
    return {"case": {**_case(appeal), "outcome": appeal.outcome, "closed_at": _iso(appeal.closed_at)}}


PAYLOADS = {
    "referral.created": referral_created,
    "referral.reminder": referral_clock,
    "referral.overdue": referral_clock,
    "case.settled": case_settled,
    "case.reopened": case_changed,
    "case.closed": case_changed,
    "case.withdrawn": case_changed,
}


def endpoint_or_none(endpoint_id: int) -> WebhookEndpoint | None:
    """A registered endpoint (not removed) by its id."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    return endpoint if endpoint is not None and endpoint.removed_at is None else None


def endpoints() -> list[WebhookEndpoint]:
    """Every registered endpoint, by operator."""
    return list(
        db.session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.removed_at.is_(None))
            .order_by(WebhookEndpoint.operator_id, WebhookEndpoint.id)
        )
    )


def remove(endpoint: WebhookEndpoint) -> None:
    """Stop sending to the endpoint; its events and log are kept."""
    endpoint.removed_at = utcnow()


def keep_days(config: dict[str, Any]) -> int:
    """How many days an ended event is kept: WEBHOOK_KEEP_DAYS, never less than the catch-up feed's days."""
    return max(int(config.get("WEBHOOK_KEEP_DAYS") or KEEP_DAYS), FEED_DAYS)


def purge(days: int, now: dt.datetime | None = None, batch: int = 1000) -> dict[str, int]:
    """Delete up to `batch` events created more than `days` ago whose deliveries have all ended, with those
    deliveries and their attempts; returns what was deleted. The caller commits (and calls again while any)."""
    before = (now or utcnow()) - dt.timedelta(days=days)
    on_its_way = sa.exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status.not_in(ENDED))
    ids = list(
        db.session.scalars(
            sa.select(WebhookEvent.id)
            .where(WebhookEvent.created_at < before, ~on_its_way)
            .order_by(WebhookEvent.id)
            .limit(batch)
        )
    )
    if not ids:
        return {"events": 0, "deliveries": 0, "attempts": 0}
    deliveries = sa.select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
    gone = {
        "attempts": sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)),
        "deliveries": sa.delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)),
        "events": sa.delete(WebhookEvent).where(WebhookEvent.id.in_(ids)),
    }
    return {
        name: db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount
        for name, statement in gone.items()
    }
