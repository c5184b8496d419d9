"""Notifications: e-mail to a real SMTP server, SMS to a real HTTP gateway, logged, sent once, retried on failure."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.extensions import db
from cases.models import CaseEvent, Notification, OutboxJob
from tests.conftest import make_user
from tests.factories import make_appeal
from tests.jobs_helpers import run_worker
from workflows import engine, jobs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1, and the app configured to use it."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    yield inbox
    controller.stop()


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    delays: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"auth": self.headers.get("Authorization"), "json": json.loads(body)})
        time.sleep(self.delays.pop(0) if self.delays else 0)
        try:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def sms(app, monkeypatch):
    """A real HTTP SMS gateway on 127.0.0.1 (slow answers on request), and the app configured to use it."""
    handler = type("Gateway", (_Gateway,), {"received": [], "delays": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", f"http://127.0.0.1:{server.server_port}/send")
    monkeypatch.setitem(app.config, "SMS_GATEWAY_TOKEN", "gateway-secret")
    monkeypatch.setitem(app.config, "SMS_TIMEOUT", 1)
    yield handler
    server.shutdown()
    server.server_close()


def _notifications(status: str | None = None) -> list[Notification]:
    q = sa.select(Notification).order_by(Notification.id)
    if status:
        q = q.where(Notification.status == status)
    return list(db.session.scalars(q))


def test_the_consumer_is_told_of_acceptance_by_email_and_sms_without_personal_data(app, smtp, sms):
    """A clerk accepts: the consumer gets an SMS through the gateway and an e-mail through SMTP, each logged as sent."""
    appeal = make_appeal(state="accepted")
    assert len(smtp.messages) == 1 and len(sms.received) == 1
    mail = smtp.messages[0]
    assert mail["To"] == "zhangsan@example.com" and appeal.case_no in mail["Subject"]
    body = mail.get_content()
    assert appeal.case_no in body and "已受理" in body
    assert "220102199001011234" not in body and "人民大街" not in body and "张三" not in body
    text = sms.received[0]
    assert text["auth"] == "Bearer gateway-secret" and text["json"]["to"] == "13800138000"
    assert appeal.case_no in text["json"]["text"]
    assert {(n.channel, n.status) for n in _notifications()} == {("email", "sent"), ("sms", "sent")}


def test_a_referral_tells_the_operator_liaisons_and_the_consumer(app, smtp):
    """At referral the operator's liaisons get an e-mail with the reply deadline; no SMS backend means skipped."""
    liaison = make_user("operator", "liaison1", operator_code="unicom_jl")
    liaison.email = "liaison@unicom.example"
    db.session.commit()
    appeal = make_appeal(state="referred", operator_code="unicom_jl")
    to_liaison = [m for m in smtp.messages if m["To"] == "liaison@unicom.example"]
    assert len(to_liaison) == 1 and "转办" in to_liaison[0]["Subject"] and appeal.case_no in to_liaison[0]["Subject"]
    assert "13800138000" not in to_liaison[0].get_content()
    sms_rows = [n for n in _notifications() if n.channel == "sms"]
    assert sms_rows and {n.status for n in sms_rows} == {"skipped"}
    assert all("not configured" in n.error for n in sms_rows)


def test_a_notification_job_run_twice_sends_one_message(app, smtp):
    """The job is keyed by the event: running it again sends nothing more."""
    appeal = make_appeal(state="received")
    engine.perform(appeal, "reject", role="clerk", data={"ground": "art11_1"})
    db.session.commit()
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.action == "reject"))
    assert len(smtp.messages) == 1
    jobs.notify_case_event(event.id)
    jobs.notify_case_event(event.id)
    assert len(smtp.messages) == 1
    assert "第十一条第一项" in smtp.messages[0].get_content()
    assert len(_notifications("sent")) == 1


def test_an_sms_gateway_timeout_fails_the_message_and_rq_retries_it_later(redis_app, smtp, sms):
    """The gateway times out: the SMS is logged failed, the e-mail still goes; rq retries and the SMS goes once."""
    from rq.scheduler import RQScheduler

    from workflows import queue

    redis_app.config["RQ_RETRY_INTERVALS"] = [1]
    sms.delays[:] = [1.5]  # the first request takes longer than SMS_TIMEOUT (1 s)
    appeal = make_appeal(state="accepted")  # commit hands the job to Redis
    run_worker(redis_app)

    db.session.expire_all()
    sms_row = db.session.scalar(sa.select(Notification).where(Notification.channel == "sms"))
    assert sms_row.status == "failed" and "timed out" in sms_row.error
    job = db.session.scalar(sa.select(OutboxJob).where(OutboxJob.name == "notify_case_event"))
    assert job.status == "retrying" and job.attempts == 1 and "DeliveryError" in job.error
    assert len(smtp.messages) == 1  # the e-mail was not held up

    time.sleep(1.2)  # the back-off passes; rq's scheduler puts the job back on the queue
    q = queue.get_queue(redis_app)
    scheduler = RQScheduler([q], connection=q.connection)
    scheduler.acquire_locks()
    scheduler.prepare_registries([q.name])
    scheduler.enqueue_scheduled_jobs()
    run_worker(redis_app)

    db.session.expire_all()
    assert db.session.get(Notification, sms_row.id).status == "sent"
    assert db.session.get(OutboxJob, job.id).status == "done"
    assert len(smtp.messages) == 1  # not sent twice
    # the gateway got the timed-out attempt and the retry, with one id, so it can drop the repeat
    attempts = [r["json"] for r in sms.received]
    assert len(attempts) == 2 and attempts[0]["id"] == attempts[1]["id"] == sms_row.event_key
    assert appeal.case_no in attempts[-1]["text"]
