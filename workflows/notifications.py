"""The notifier: e-mail over SMTP and SMS through an HTTP gateway, each message logged in `Notification`.

A message is keyed by `event_key` (unique), so delivering it twice sends it once.
A backend that is not configured gives status `skipped`; one that fails or times
out gives status `failed` with the error, and the job that asked raises so rq
retries it later (the failed message is attempted again, the sent ones are not).
Messages carry the case number and the state, never an ID number or address.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from cases import consumers
from cases.db import db
from cases.models import Appeal, Notification, utcnow
from cases.pii import mask_phone

log = logging.getLogger(__name__)
EMAIL, SMS = "email", "sms"
DEV = "dev"  # the status of an SMS the development backend kept instead of sending


class DeliveryError(Exception):
    """A backend could not deliver a message (refused, unreachable or timed out)."""


@dataclass(frozen=True)
class Message:
    """One message to one recipient over one channel."""

    event_key: str
    channel: str
    recipient: str
    subject: str
    body: str
    appeal_id: int | None = None
    secret: str = ""  # a part of the body never logged (a receipt's access code): stored masked


def _logged(message: Message, text: str) -> str:
    """The text as the log keeps it: the message's secret masked."""
    return text.replace(message.secret, "*" * len(message.secret)) if message.secret else text


def email_configured(config: dict[str, Any]) -> bool:
    """True when an SMTP host is set."""
    return bool(config.get("SMTP_HOST"))


def sms_configured(config: dict[str, Any]) -> bool:
    """True when an SMS gateway URL is set."""
    return bool(config.get("SMS_GATEWAY_URL"))


def send_email(config: dict[str, Any], to: str, subject: str, body: str) -> None:
    """Send one plain-text e-mail over SMTP (STARTTLS when offered, login when a user is set)."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.get("SMTP_FROM") or "noreply@appeals.invalid"
    msg["To"] = to
    msg.set_content(body)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=config["SMTP_TIMEOUT"]) as s:
            s.ehlo()
            if s.has_extn("starttls"):
                s.starttls()
                s.ehlo()
            if config.get("SMTP_USER"):
                s.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            s.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # a refusal names the address: keep it out of the error, and so out of the logs and the job's traceback
        raise DeliveryError(f"SMTP: {exc.__class__.__name__}: {exc}".replace(to, "<recipient>")) from None


def send_sms(config: dict[str, Any], phone: str, body: str, message_id: str = "") -> None:
    """POST one SMS as JSON to the gateway with the bearer token; any non-2xx answer is a failure.

    `id` lets the gateway drop a repeat: after a timeout we cannot know whether it sent the first one.
    """
    payload = json.dumps({"id": message_id, "to": phone, "text": body}, ensure_ascii=False).encode()
    request = urllib.request.Request(
        config["SMS_GATEWAY_URL"],
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    if config.get("SMS_GATEWAY_TOKEN"):
        request.add_header("Authorization", f"Bearer {config['SMS_GATEWAY_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=config.get("SMS_TIMEOUT") or 10) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"SMS gateway answered {exc.code}") from exc
    except (OSError, urllib.error.URLError) as exc:  # TimeoutError is an OSError
        raise DeliveryError(f"SMS gateway: {exc.__class__.__name__}: {exc}") from exc


def _row_for(message: Message) -> Notification:
    """The message's log row, created (and committed) the first time."""
    row = db.session.scalar(sa.select(Notification).where(Notification.event_key == message.event_key))
    if row is not None:
        return row
    row = Notification(
        appeal_id=message.appeal_id,
        event_key=message.event_key,
        channel=message.channel,
        recipient=message.recipient[:200],
        subject=_logged(message, message.subject)[:300],
        body=_logged(message, message.body),
        status="pending",
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # another worker logged it first
        db.session.rollback()
        row = db.session.scalar(sa.select(Notification).where(Notification.event_key == message.event_key))
    return row


def sms_dev_backend(config: dict[str, Any]) -> bool:
    """True when SMS go to the development backend: no gateway, and `SMS_DEV_BACKEND` on (the default off production)."""
    return not sms_configured(config) and bool(config.get("SMS_DEV_BACKEND"))


def _to_dev_backend(message: Message, row: Notification) -> Notification:
    """The development SMS backend: the message is kept whole for the admin's notifications page (which says it
    is a development setting) and logged with the number and any code masked."""
    log.info(
        "development SMS backend, not sent: to %s: %s", mask_phone(message.recipient), _logged(message, message.body)
    )
    row.status = DEV
    row.body = message.body
    row.error = ""
    row.sent_at = utcnow()
    db.session.commit()
    return row


def deliver(message: Message) -> Notification:
    """Send a message once: a sent or skipped one is left alone; a new or failed one is (re)tried and logged."""
    row = _row_for(message)
    if row.status in ("sent", "skipped", DEV):
        return row
    config = current_app.config
    configured = email_configured(config) if message.channel == EMAIL else sms_configured(config)
    if message.channel == SMS and sms_dev_backend(config):
        return _to_dev_backend(message, row)
    if not configured:
        row.status = "skipped"
        row.error = f"{message.channel} backend not configured"
        db.session.commit()
        return row
    try:
        if message.channel == EMAIL:
            send_email(config, message.recipient, message.subject, message.body)
        else:
            send_sms(config, message.recipient, message.body, message.event_key)
    except DeliveryError as exc:
        log.warning("notification %s failed: %s", message.event_key, exc)
        row.status = "failed"
        row.error = str(exc)[:2000]
        db.session.commit()
        return row
    row.status = "sent"
    row.error = ""
    row.sent_at = utcnow()
    db.session.commit()
    return row


def deliver_all(messages: list[Message]) -> list[Notification]:
    """Deliver every message; raises DeliveryError after trying them all when any failed (so the job retries)."""
    rows = [deliver(m) for m in messages]
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        raise DeliveryError("; ".join(f"{r.event_key}: {r.error}" for r in failed))
    return rows


def short_name() -> str:
    """The centre's short name, for the SMS signature."""
    return current_app.config.get("CENTRE_SHORT_NAME", "省申诉受理中心")


def to_appellant(appeal: Appeal, key: str, suffix: str, subject: str, text: str, secret: str = "") -> list[Message]:
    """The same text to the appellant by SMS and/or e-mail as they chose (`notify_by`; SMS when e-mail was chosen
    but no address given), keys `<key>-sms<suffix>`, `<key>-email<suffix>`."""
    out = []
    by_sms, by_email = consumers.notify_channels(appeal)
    if by_sms:
        out.append(Message(f"{key}-sms{suffix}", SMS, appeal.phone, subject, text, appeal.id, secret))
    if by_email:
        out.append(Message(f"{key}-email{suffix}", EMAIL, appeal.email, subject, text, appeal.id, secret))
    return out
