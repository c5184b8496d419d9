"""Webhooks to a real local HTTP receiver: signed, one per change, retried, redelivered, paused, rotated."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import webhooks as endpoints
from cases.models import (
    Deadline,
    Notification,
    OutboxJob,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from tests.conftest import make_user
from tests.factories import make_appeal, operator
from tests.jobs_helpers import run_worker
from tests.webhook_receiver import Receiver
from workflows import engine, jobs, scheduler, webhooks

DOC = Path(__file__).resolve().parent.parent / "docs" / "operator-integration.md"


def _verifier():
    """The verifier the operator's developer copies from docs/operator-integration.md, run as written."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    assert len(block.strip().splitlines()) <= 20
    scope: dict = {}
    exec(compile(block, str(DOC), "exec"), scope)  # noqa: S102 (the documented code itself)
    return scope["verify"]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def _endpoint(app, url: str, events: list[str] | None = None, code: str = "cmcc_jl"):
    endpoint, secret = endpoints.add_endpoint(app.config, operator(code), url, events or [])
    db.session.commit()
    return endpoint, secret


def _types(receiver: Receiver) -> list[str]:
    return [json.loads(r.body)["type"] for r in receiver.received]


def test_a_referral_is_pushed_signed_with_the_contact_and_nothing_more(app, receiver):
    """The liaison's system gets referral.created, signed; the documented verifier accepts it, a wrong secret not."""
    _, secret = _endpoint(app, receiver.url)
    appeal = make_appeal(state="referred")
    assert _types(receiver) == ["referral.created"]
    got = receiver.received[0]
    verify = _verifier()
    assert verify(got.body, got.headers["X-Appeals-Signature"], secret)
    assert not verify(got.body, got.headers["X-Appeals-Signature"], "whsec_not-the-secret")
    assert not verify(got.body + b" ", got.headers["X-Appeals-Signature"], secret)
    doc = json.loads(got.body)
    assert got.headers["X-Appeals-Event-Id"] == doc["id"] and doc["id"].startswith("evt_")
    assert set(doc) == {"id", "type", "created_at", "data"}
    assert doc["data"]["case"]["case_no"] == appeal.case_no
    assert doc["data"]["appellant"] == {"name": "张三", "phone": "13800138000"}
    assert doc["data"]["referral"]["reply_due_at"]
    text = got.body.decode()
    for private in (appeal.id_number, appeal.email, appeal.address):
        assert private not in text


def test_an_old_timestamp_is_refused_by_the_verifier(app, receiver):
    """A replayed delivery (signed long ago) fails the documented check even with the right secret."""
    _, secret = _endpoint(app, receiver.url)
    make_appeal(state="referred")
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    body, headers = webhooks.request_for(delivery, utcnow() - dt.timedelta(hours=1))
    assert not _verifier()(body, headers["X-Appeals-Signature"], secret)


def test_every_event_type_is_delivered_once_per_change(app, receiver):
    """Each step the operator cares about pushes its event once; steps before a referral push nothing."""
    _endpoint(app, receiver.url)
    make_appeal(state="withdrawn")  # withdrawn before any referral: not the operator's business
    assert _types(receiver) == []
    appeal = make_appeal(state="settled")
    assert _types(receiver) == ["referral.created", "case.settled"]
    settled = json.loads(receiver.received[1].body)["data"]
    assert settled["terms"]["refund_amount"] == "30.00" and settled["terms"]["perform_by"] == "2036-12-31"
    engine.perform(appeal, "close", role="mediator")
    db.session.commit()
    engine.perform(appeal, "reopen", role="supervisor", data={"reason": "申诉人反映未履行"})
    db.session.commit()
    engine.perform(appeal, "withdraw", role="clerk", data={"reason": "已自行解决"})
    db.session.commit()
    assert _types(receiver)[2:] == ["case.closed", "case.reopened", "case.withdrawn"]

    other = make_appeal(state="referred")
    clock = next(d for d in other.deadlines if d.kind == "operator_reply")
    now = clock.due_at - dt.timedelta(hours=2)  # its last day: the reminder is due
    jobs.sweep_deadlines(now)
    jobs.sweep_deadlines(now)
    later = clock.due_at + dt.timedelta(minutes=5)
    jobs.sweep_deadlines(later)
    jobs.sweep_deadlines(later)
    assert _types(receiver)[5:] == ["referral.created", "referral.reminder", "referral.overdue"]
    assert len({json.loads(r.body)["id"] for r in receiver.received}) == len(receiver.received) == 8


def test_an_endpoint_gets_only_the_events_it_wants_and_other_operators_get_none(app, receiver):
    """Subscriptions are per endpoint and per operator."""
    _endpoint(app, receiver.url, ["case.closed"])
    other = Receiver().start()
    try:
        _endpoint(app, other.url, code="unicom_jl")
        make_appeal(state="closed")
        assert _types(receiver) == ["case.closed"]
        assert other.received == []
    finally:
        other.stop()


def test_a_500_is_retried_with_back_off_until_it_is_taken(app, receiver):
    """The receiver answers 500 twice: the delivery waits 1 min, then 2 min, then arrives; the log shows it."""
    receiver.answers = [500, 500, 200]
    endpoint, _ = _endpoint(app, receiver.url)
    make_appeal(state="referred")
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    first = delivery.next_attempt_at
    assert webhooks.retry_due(first - dt.timedelta(seconds=1)) == 0  # not yet
    assert webhooks.retry_due(first) == 1
    db.session.expire_all()
    assert (delivery.status, delivery.attempts) == ("retrying", 2)
    last = db.session.scalar(sa.select(WebhookAttempt).order_by(WebhookAttempt.id.desc()))
    assert delivery.next_attempt_at - last.at == dt.timedelta(seconds=webhooks.BACKOFF[1])
    webhooks.retry_due(delivery.next_attempt_at)
    db.session.expire_all()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.received) == 3
    assert len({r.headers["X-Appeals-Event-Id"] for r in receiver.received}) == 1
    log = webhooks.log(endpoint.id)
    assert [row["attempt"].status_code for row in log] == [200, 500, 500]
    assert log[1]["attempt"].answer == "receiver says no" and log[0]["attempt"].duration_ms >= 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_receiver_that_was_down_gets_the_event_once_it_is_back(app):
    """Connection refused: the attempt is logged without a status; the retry reaches the receiver once it is up."""
    port = _free_port()
    _endpoint(app, f"http://127.0.0.1:{port}/hook")
    make_appeal(state="referred")
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert delivery.status == "retrying"
    attempt = db.session.scalar(sa.select(WebhookAttempt))
    assert attempt.status_code is None and "Connection" in attempt.answer
    back = Receiver(port=port).start()
    try:
        webhooks.retry_due(delivery.next_attempt_at)
        assert _types(back) == ["referral.created"]
    finally:
        back.stop()


def test_no_redirect_is_followed(app, receiver):
    """A 302 is a failed attempt: the receiver sees one request, nothing goes to the redirect's target."""
    receiver.answers = [302]
    _endpoint(app, receiver.url)
    make_appeal(state="referred")
    assert [r.path for r in receiver.received] == ["/hook"]
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert delivery.status == "retrying"
    assert db.session.scalar(sa.select(WebhookAttempt.status_code)) == 302


def test_an_admin_redelivers_one_event_from_the_log(app, client, auth, receiver):
    """Delivered once, redelivered by the admin from the endpoint's page: the receiver sees the same event id twice."""
    endpoint, _ = _endpoint(app, receiver.url)
    make_appeal(state="referred")
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    auth.as_role("admin")
    page = client.get(f"/staff/admin/webhooks/{endpoint.id}")
    assert page.status_code == 200 and "referral.created" in page.get_data(as_text=True)
    resp = client.post(f"/staff/admin/webhooks/deliveries/{delivery.id}/redeliver")
    assert resp.status_code == 302
    ids = [r.headers["X-Appeals-Event-Id"] for r in receiver.received]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_an_endpoint_failing_for_a_day_is_paused_and_admins_and_liaisons_are_told(app, receiver):
    """Failing for 24 h: paused, one e-mail to each admin and liaison; deliveries wait; resuming sends them."""
    receiver.answers = [500]
    admin = make_user("admin")
    admin.email = "admin@centre.example"
    liaison = make_user("operator")
    liaison.email = "liaison@cmcc.example"
    db.session.commit()
    endpoint, _ = _endpoint(app, receiver.url)
    make_appeal(state="referred")
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    endpoint.failing_since = utcnow() - dt.timedelta(hours=23)  # failing for most of a day
    db.session.commit()
    webhooks.retry_due(delivery.next_attempt_at)
    db.session.expire_all()
    assert endpoint.paused_at is None and delivery.status == "retrying"
    endpoint.failing_since = utcnow() - dt.timedelta(hours=24, minutes=1)
    db.session.commit()
    webhooks.retry_due(delivery.next_attempt_at)
    db.session.expire_all()
    assert endpoint.paused_at is not None
    assert endpoint.paused_at - endpoint.failing_since >= dt.timedelta(hours=24)
    tries = len(receiver.received)
    assert webhooks.retry_due(endpoint.paused_at + dt.timedelta(days=2)) == 0  # paused: nothing is sent
    assert len(receiver.received) == tries
    told = db.session.scalars(sa.select(Notification.recipient).where(Notification.event_key.like("webhook-paused-%")))
    assert sorted(told) == ["admin@centre.example", "liaison@cmcc.example"]

    receiver.answers = [200]
    webhooks.resume(endpoint)
    db.session.commit()
    db.session.expire_all()
    assert delivery.status == "delivered" and endpoint.paused_at is None and endpoint.failing_since is None


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(app, receiver):
    """After a rotation both secrets sign (two v1=); after 24 h only the new one."""
    endpoint, old = _endpoint(app, receiver.url)
    new = endpoints.rotate(app.config, endpoint)
    db.session.commit()
    make_appeal(state="referred")
    header = receiver.received[0].headers["X-Appeals-Signature"]
    verify = _verifier()
    assert header.count("v1=") == 2
    assert verify(receiver.received[0].body, header, old) and verify(receiver.received[0].body, header, new)
    later = utcnow() + dt.timedelta(hours=25)
    assert endpoints.signing_secrets(app.config, endpoint, later) == [new]
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    _, headers = webhooks.request_for(delivery, later)
    assert headers["X-Appeals-Signature"].count("v1=") == 1


def test_secrets_are_kept_sealed_and_urls_must_be_https_except_on_loopback(app):
    """The secret is not stored in plain; plain http only on loopback; unknown events are named."""
    endpoint, secret = _endpoint(app, "https://complaints.example.com/hook")
    assert secret.encode() not in endpoint.secret_sealed
    assert endpoints.signing_secrets(app.config, endpoint) == [secret]
    for url in ("http://complaints.example.com/hook", "ftp://127.0.0.1/x", "https://user:pw@example.com/", "hook"):
        with pytest.raises(endpoints.InvalidEndpoint) as refused:
            endpoints.add_endpoint(app.config, operator(), url, [])
        assert "url" in refused.value.errors
    with pytest.raises(endpoints.InvalidEndpoint) as refused:
        endpoints.add_endpoint(app.config, operator(), "http://[::1]:9/x", ["case.exploded"])
    assert list(refused.value.errors) == ["events"]


def test_the_cli_adds_lists_rotates_and_removes(app, runner, receiver):
    """`flask webhooks add` prints the secret once; list never shows it; rotate prints the new one; remove stops."""
    out = runner.invoke(args=["webhooks", "add", "cmcc_jl", receiver.url, "--events", "referral.created"]).output
    secret = re.search(r"secret \(shown once\): (\S+)", out).group(1)
    endpoint_id = int(re.search(r"endpoint (\d+)", out).group(1))
    listing = runner.invoke(args=["webhooks", "list"]).output
    assert receiver.url in listing and secret not in listing and "referral.created" in listing
    rotated = runner.invoke(args=["webhooks", "rotate", str(endpoint_id)]).output
    new = re.search(r"\(shown once\): (\S+)", rotated).group(1)
    assert new != secret and "previous secret" in runner.invoke(args=["webhooks", "list"]).output
    bad = runner.invoke(args=["webhooks", "add", "cmcc_jl", "http://example.com/x"])
    assert bad.exit_code != 0 and "https" in bad.output
    assert runner.invoke(args=["webhooks", "remove", str(endpoint_id)]).exit_code == 0
    make_appeal(state="referred")
    assert receiver.received == []
    assert runner.invoke(args=["webhooks", "remove", str(endpoint_id)]).exit_code != 0


def test_nothing_is_lost_when_redis_is_down_at_commit_and_a_real_worker_delivers_it(redis_app, receiver):
    """Redis unreachable at the referral's commit: the event waits in the outbox; the sweep and an rq worker send it."""
    real = redis_app.config["REDIS_URL"]
    redis_app.config["REDIS_URL"] = f"redis://127.0.0.1:{_free_port()}/6"
    _endpoint(redis_app, receiver.url)
    make_appeal(state="referred")
    job = db.session.scalar(sa.select(OutboxJob).where(OutboxJob.name == "deliver_webhook"))
    assert job.status == "pending" and receiver.received == []
    redis_app.config["REDIS_URL"] = real
    for row in db.session.scalars(sa.select(OutboxJob)):
        row.created_at = utcnow() - dt.timedelta(minutes=2)
    db.session.commit()
    jobs.sweep_outbox()
    run_worker(redis_app)
    assert _types(receiver) == ["referral.created"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(WebhookDelivery.status)) == "delivered"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Deadline)) >= 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1


def test_an_admin_adds_an_endpoint_on_the_page_and_sees_the_secret_once(app, client, auth):
    """A plain-http URL is refused in the page's words with what was typed kept; a good one shows its secret once."""
    auth.as_role("admin")
    page = client.get("/staff/admin/webhooks").get_data(as_text=True)
    once = re.search(r'name="once" type="hidden" value="([^"]+)"', page).group(1)
    cmcc = str(operator().id)
    form = {"operator": cmcc, "url": "http://complaints.example.com/hook", "events": ["case.closed"], "once": once}
    bad = client.post("/staff/admin/webhooks/new", data=form)
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "https://" in text and "http://complaints.example.com/hook" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
    good = client.post("/staff/admin/webhooks/new", data={**form, "url": "https://complaints.example.com/hook"})
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', good.get_data(as_text=True)).group(1)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    assert endpoint.events == ["case.closed"] and endpoints.signing_secrets(app.config, endpoint) == [secret]
    again = client.post("/staff/admin/webhooks/new", data={**form, "url": "https://complaints.example.com/hook"})
    assert again.status_code == 409 and secret not in again.get_data(as_text=True)
    listing = client.get("/staff/admin/webhooks").get_data(as_text=True)
    assert "complaints.example.com" in listing and secret not in listing


def _event_with(endpoint, created_at: dt.datetime, *statuses: str) -> int:
    """An event of `created_at` with one delivery (and one attempt) per status; returns the event's id."""
    event = WebhookEvent(
        public_id=f"evt_{uuid.uuid4().hex}",
        type="case.closed",
        operator_id=endpoint.operator_id,
        data={"case_no": "JL2026-000001"},
        created_at=created_at,
    )
    db.session.add(event)
    db.session.flush()
    for status in statuses:
        delivery = WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, status=status, created_at=created_at)
        db.session.add(delivery)
        db.session.flush()
        db.session.add(WebhookAttempt(delivery_id=delivery.id, at=created_at, status_code=200))
    db.session.commit()
    return event.id


def test_ended_events_are_deleted_after_the_keep_days_with_their_deliveries_and_attempts(app, monkeypatch):
    """Delivered or failed, older than WEBHOOK_KEEP_DAYS: gone. On its way, or younger: kept."""
    endpoint, _secret = _endpoint(app, "https://complaints.example.com/hook")
    second, _ = _endpoint(app, "https://complaints.example.com/other")
    now = utcnow()
    old, young = now - dt.timedelta(days=91), now - dt.timedelta(days=89)
    delivered = _event_with(endpoint, old, "delivered")
    failed = _event_with(endpoint, old, "failed")
    nobody = _event_with(endpoint, old)  # no endpoint wanted it
    recent = _event_with(endpoint, young, "delivered")
    waiting = _event_with(endpoint, old, "retrying")
    half = WebhookEvent(public_id="evt_half", type="case.closed", operator_id=endpoint.operator_id, created_at=old)
    db.session.add(half)
    db.session.flush()
    db.session.add_all(
        [
            WebhookDelivery(event_id=half.id, endpoint_id=endpoint.id, status="delivered"),
            WebhookDelivery(event_id=half.id, endpoint_id=second.id, status="pending"),  # a paused endpoint's
        ]
    )
    db.session.commit()
    monkeypatch.setitem(app.config, "WEBHOOK_KEEP_DAYS", 90)

    done = jobs.purge_webhook_events()

    assert done == {"events": 3, "deliveries": 2, "attempts": 2}
    kept = set(db.session.scalars(sa.select(WebhookEvent.id)))
    assert kept == {recent, waiting, half.id}
    assert not kept & {delivered, failed, nobody}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookAttempt)) == 2
    assert jobs.purge_webhook_events() == {"events": 0, "deliveries": 0, "attempts": 0}


def test_the_catch_up_feed_keeps_its_30_days_whatever_the_setting(app, monkeypatch):
    endpoint, _secret = _endpoint(app, "https://complaints.example.com/hook")
    monkeypatch.setitem(app.config, "WEBHOOK_KEEP_DAYS", 7)
    assert endpoints.keep_days(app.config) == endpoints.FEED_DAYS == 30
    twenty_days = _event_with(endpoint, utcnow() - dt.timedelta(days=20), "delivered")
    _event_with(endpoint, utcnow() - dt.timedelta(days=31), "delivered")
    assert jobs.purge_webhook_events()["events"] == 1
    assert list(db.session.scalars(sa.select(WebhookEvent.id))) == [twenty_days]


def test_the_purge_runs_in_batches_until_none_is_left(app):
    endpoint, _secret = _endpoint(app, "https://complaints.example.com/hook")
    old = utcnow() - dt.timedelta(days=100)
    for n in range(5):
        _event_with(endpoint, old - dt.timedelta(seconds=n), "delivered")
    assert endpoints.purge(90, batch=2) == {"events": 2, "deliveries": 2, "attempts": 2}
    db.session.commit()
    assert jobs.purge_webhook_events()["events"] == 3
    assert "purge_webhook_events" in {entry.task for entry in scheduler.SCHEDULE}
