"""Webhook delivery: events written with the change, delivered by outbox jobs, retried with back-off, paused.

`emit` writes an event and one delivery per endpoint that wants it, each with an outbox job, in the caller's
transaction: a change committed while Redis or the receiver is down loses none. `deliver` makes one signed
POST (10 s timeout, no redirect followed) and logs the attempt; a failure schedules the next try after
`BACKOFF` (13 attempts over about 32 hours), which the periodic `retry_webhooks` task hands to the outbox.
An endpoint failing for `WEBHOOK_PAUSE_AFTER_HOURS` (24) is paused and admins and its operator's liaisons are
told (job `notify_webhook_paused`); its deliveries wait until an admin resumes it. At least once: the event id
(`X-Appeals-Event-Id`) lets the receiver drop repeats.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from cases import webhooks
from cases.db import db
from cases.models import Appeal, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from workflows import outbox

# Seconds to wait after the 1st, 2nd ... failed attempt: 1 min doubling to 8 h, then 8 h; 13 attempts ≈ 32 h.
BACKOFF = (60, 120, 240, 480, 960, 1920, 3600, 7200, 14400, 28800, 28800, 28800)
MAX_ATTEMPTS = len(BACKOFF) + 1
ANSWER_KEPT = 500  # characters of the receiver's answer kept in the log


def emit(appeal: Appeal, event_type: str, dedupe_key: str | None = None) -> WebhookEvent | None:
    """Write an event for the case's operator and a delivery (with its outbox job) per endpoint that wants it."""
    data = webhooks.PAYLOADS[event_type](appeal)
    event = webhooks.new_event(event_type, appeal.operator_id, appeal, data, dedupe_key)
    if event is None:
        return None
    for endpoint in webhooks.live_endpoints(appeal.operator_id, event_type):
        delivery = WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, created_at=event.created_at)
        db.session.add(delivery)
        db.session.flush()
        _queue(delivery)
    return event


def _queue(delivery: WebhookDelivery, keyed: bool = True) -> None:
    """An outbox job for the delivery's next attempt; keyed by attempt (never twice for one), unless an admin asks."""
    key = f"webhook-{delivery.id}-{delivery.attempts}" if keyed else None
    outbox.record("deliver_webhook", {"delivery_id": delivery.id}, dedupe_key=key)


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """One POST; returns the status and the start of the answer. A redirect is an answer like any other."""
    parts = urlsplit(url)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(ANSWER_KEPT * 4).decode("utf-8", "replace")[:ANSWER_KEPT]
    finally:
        conn.close()


def request_for(delivery: WebhookDelivery, now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery, signed with every secret valid now."""
    body = json.dumps(webhooks.body(delivery.event), ensure_ascii=False, separators=(",", ":")).encode()
    stamp = int(now.replace(tzinfo=dt.UTC).timestamp())
    signing = webhooks.signing_secrets(current_app.config, delivery.endpoint, now)
    return body, {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "appeals-webhooks/1",
        webhooks.SIGNATURE_HEADER: webhooks.signature(signing, stamp, body),
        webhooks.EVENT_ID_HEADER: delivery.event.public_id,
    }


def deliver(delivery_id: int, now: dt.datetime | None = None) -> str:
    """Make one attempt of a delivery (unless done, or its endpoint paused or removed); returns its status."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status in ("delivered", "failed"):
        return delivery.status if delivery else "gone"
    endpoint = delivery.endpoint
    if endpoint.removed_at is not None or endpoint.paused_at is not None:
        return "held"
    now = now or utcnow()
    body, headers = request_for(delivery, now)
    started = time.monotonic()
    try:
        status, answer = _post(endpoint.url, body, headers, current_app.config.get("WEBHOOK_TIMEOUT", 10))
    except (OSError, http.client.HTTPException) as exc:  # refused, timed out, TLS refused
        status, answer = None, f"{type(exc).__name__}: {exc}"[:ANSWER_KEPT]
    took = int((time.monotonic() - started) * 1000)
    db.session.add(WebhookAttempt(delivery_id=delivery.id, at=now, status_code=status, duration_ms=took, answer=answer))
    delivery.attempts += 1
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        endpoint.failing_since = None
    else:
        _failed(delivery, endpoint, now)
    db.session.commit()
    return delivery.status


def _failed(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """After a failed attempt: the next try, or `failed` after the last; pause an endpoint failing for a day."""
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.status = "retrying"
        delivery.next_attempt_at = now + dt.timedelta(seconds=BACKOFF[delivery.attempts - 1])
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    pause_after = dt.timedelta(hours=current_app.config.get("WEBHOOK_PAUSE_AFTER_HOURS", 24))
    if endpoint.paused_at is None and now - endpoint.failing_since >= pause_after:
        endpoint.paused_at = now
        key = f"webhook-paused-{endpoint.id}-{now.isoformat()}"
        outbox.record("notify_webhook_paused", {"endpoint_id": endpoint.id}, dedupe_key=key)


def retry_due(now: dt.datetime | None = None) -> int:
    """Hand the deliveries whose next try has come (endpoints not paused) to the outbox; returns how many."""
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "retrying",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.paused_at.is_(None),
            WebhookEndpoint.removed_at.is_(None),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1000)
    ).all()
    for delivery in due:
        _queue(delivery)
    db.session.commit()
    return len(due)


def redeliver(delivery: WebhookDelivery) -> None:
    """Send a delivery again (an admin's request), whatever its state; the caller commits."""
    delivery.status, delivery.next_attempt_at = "pending", None
    _queue(delivery, keyed=False)


def resume(endpoint: WebhookEndpoint) -> int:
    """Resume a paused endpoint: its waiting deliveries are tried again now; the caller commits."""
    endpoint.paused_at = None
    endpoint.failing_since = None
    waiting = db.session.scalars(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status.in_(("pending", "retrying"))
        )
    ).all()
    for delivery in waiting:
        delivery.next_attempt_at = None
        _queue(delivery, keyed=False)
    return len(waiting)


def log(endpoint_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The endpoint's latest attempts with their event, newest first, for the delivery log."""
    rows = db.session.execute(
        sa.select(WebhookAttempt, WebhookDelivery, WebhookEvent)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    ).all()
    return [{"attempt": a, "delivery": d, "event": e} for a, d, e in rows]
