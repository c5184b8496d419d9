"""Background jobs: handed over after commit, swept when Redis was down, never queued twice, deadlines flagged once."""

from __future__ import annotations

import datetime as dt
import socket

import sqlalchemy as sa

from app.extensions import db
from cases.models import Deadline, Notification, OutboxJob, utcnow
from tests.conftest import make_user
from tests.factories import make_appeal
from tests.jobs_helpers import run_worker
from workflows import jobs, outbox, queue, scheduler


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outbox(name: str | None = None) -> list[OutboxJob]:
    q = sa.select(OutboxJob).order_by(OutboxJob.id)
    if name:
        q = q.where(OutboxJob.name == name)
    return list(db.session.scalars(q))


def test_a_change_committed_while_redis_is_down_is_handed_over_later_by_the_sweep(redis_app):
    """Redis unreachable at commit: the case change is saved with its job pending; the sweep queues it, a worker runs it."""
    real = redis_app.config["REDIS_URL"]
    redis_app.config["REDIS_URL"] = f"redis://127.0.0.1:{_closed_port()}/4"
    appeal = make_appeal(state="accepted")
    db.session.expire_all()
    assert appeal.status == "accepted"
    pending = _outbox("notify_case_event")
    assert [j.status for j in pending] == ["pending"]

    redis_app.config["REDIS_URL"] = real
    assert jobs.sweep_outbox() == {"stale": 0, "handed_over": 0}  # younger than a minute: left alone
    pending[0].created_at = utcnow() - dt.timedelta(minutes=2)
    db.session.commit()
    assert jobs.sweep_outbox() == {"stale": 1, "handed_over": 1}
    assert jobs.sweep_outbox() == {"stale": 1, "handed_over": 0}  # rq job outbox-<id> is queued: not twice
    assert queue.get_queue(redis_app).count == 1
    run_worker(redis_app)

    db.session.expire_all()
    row = db.session.get(OutboxJob, pending[0].id)
    assert row.status == "done" and row.attempts == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2  # sms, e-mail: skipped
    assert jobs.sweep_outbox() == {"stale": 0, "handed_over": 0}


def test_an_outbox_job_is_never_queued_twice_and_a_done_job_is_skipped(redis_app):
    """The rq job id outbox-<id> and a short Redis lock keep one row from being queued twice; execute skips done rows."""
    row = outbox.record("rollup_period", {"period": "2022H2"})
    db.session.commit()
    assert queue.enqueue_outbox(redis_app, row.id) is False  # the commit already queued it
    run_worker(redis_app)
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).status == "done"
    outbox.execute(row.id)
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).attempts == 1


def test_a_failing_job_retries_then_is_failed_with_its_error_and_can_be_retried(redis_app):
    """A job that keeps failing is retried by rq, then stays failed with its error; retry puts it back."""
    redis_app.config["RQ_RETRY_INTERVALS"] = [0, 0, 0, 0]
    row = outbox.record("rollup_period", {"period": "not-a-period"})
    db.session.commit()
    run_worker(redis_app)
    db.session.expire_all()
    row = db.session.get(OutboxJob, row.id)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS and "not a period" in row.error
    info = queue.overview(redis_app)
    assert info["failed_count"] == 1 and "not a period" in info["failed"][0]["error"]

    assert outbox.retry(row.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).status in ("pending", "enqueued")
    assert queue.get_queue(redis_app).count == 1


def test_the_deadline_sweep_flags_an_overdue_case_once_and_tells_the_supervisor(app):
    """The decision deadline passes: the sweep sets overdue, flags the clock, queues one notice; again: nothing new."""
    boss = make_user("supervisor", "boss")
    boss.email = "boss@centre.example"
    db.session.commit()
    appeal = make_appeal(state="received", at=utcnow() - dt.timedelta(days=20))
    assert not appeal.overdue
    assert jobs.sweep_deadlines() == {"overdue": 1, "reminded": 0}  # the decision clock (the 30-day one runs on)
    db.session.expire_all()
    assert appeal.overdue
    decision = db.session.scalar(sa.select(Deadline).where(Deadline.kind == "decision"))
    assert decision.flagged_overdue_at is not None
    notices = db.session.scalars(sa.select(Notification).where(Notification.event_key.like("overdue-%"))).all()
    assert {n.recipient for n in notices} == {"boss@centre.example"} and {n.status for n in notices} == {"skipped"}
    assert appeal.case_no in notices[0].body
    assert jobs.sweep_deadlines() == {"overdue": 0, "reminded": 0}
    assert len(_outbox("notify_overdue")) == 1


def test_the_operator_is_reminded_two_days_before_its_reply_deadline_once(app):
    """A referral due within two days: the liaisons get one reminder, however often the sweep runs."""
    liaison = make_user("operator", "liaison", operator_code="cmcc_jl")
    liaison.email = "liaison@cmcc.example"
    db.session.commit()
    appeal = make_appeal(state="referred", at=utcnow() - dt.timedelta(days=9))
    due = appeal.deadline("operator_reply").due_at
    now = due - dt.timedelta(days=1)
    assert jobs.sweep_deadlines(now)["reminded"] == 1
    assert jobs.sweep_deadlines(now)["reminded"] == 0
    reminder = db.session.scalar(sa.select(Notification).where(Notification.event_key.like("remind-%")))
    assert reminder.recipient == "liaison@cmcc.example" and appeal.case_no in reminder.body


def test_the_scheduler_queues_each_periodic_task_once_per_slot(redis_app):
    """Two ticks in the same minute queue the sweeps once; the nightly rollup waits for 02:00 Asia/Shanghai."""
    at = dt.datetime(2026, 11, 28, 17, 30)  # 01:30 in Shanghai
    seen: dict[str, str] = {}
    periodic = [e.task for e in scheduler.SCHEDULE if e.daily_at is None]
    assert {"sweep_outbox", "sweep_deadlines", "purge_receipts"} <= set(periodic)
    assert scheduler.tick(redis_app, at, seen) == periodic
    assert scheduler.tick(redis_app, at, {}) == []  # a second scheduler: the slots are taken
    later = at + dt.timedelta(minutes=31)  # 02:01: the rollup's slot has come, the alert scan's (02:30) not yet
    assert scheduler.tick(redis_app, later, seen) == [*periodic, "nightly_rollup"]
    run_worker(redis_app)
    assert queue.overview(redis_app)["failed_count"] == 0


def test_without_redis_the_scheduler_runs_the_tasks_inline(app):
    """`make run` needs no Redis: the scheduler loop runs the sweeps itself."""
    make_appeal(state="received", at=utcnow() - dt.timedelta(days=20))
    started = scheduler.tick(app, utcnow(), {})
    assert "sweep_deadlines" in started
    db.session.expire_all()
    assert db.session.scalar(sa.select(Deadline.flagged_overdue_at).where(Deadline.kind == "decision")) is not None


def test_without_redis_a_failed_job_is_retried_by_the_sweep_until_it_gives_up(app):
    """Inline mode has no rq retries: the minute sweep runs a retrying job again, up to the last attempt."""
    row = outbox.record("rollup_period", {"period": "nonsense"})
    db.session.commit()  # runs inline, fails
    db.session.expire_all()
    job = db.session.get(OutboxJob, row.id)
    assert job.status == "retrying" and job.attempts == 1
    job.created_at = utcnow() - dt.timedelta(minutes=5)
    db.session.commit()
    for _ in range(outbox.MAX_ATTEMPTS):
        jobs.sweep_outbox()
    db.session.expire_all()
    job = db.session.get(OutboxJob, row.id)
    assert job.status == "failed" and job.attempts == outbox.MAX_ATTEMPTS
    assert jobs.sweep_outbox() == {"stale": 0, "handed_over": 0}


def test_outbox_rows_done_long_ago_are_deleted_and_failed_ones_stay(app):
    now = utcnow()
    old, recent = now - dt.timedelta(days=31), now - dt.timedelta(days=29)
    rows = {
        "old done": OutboxJob(name="notify_case_event", args={}, status="done", finished_at=old, dedupe_key="k-1"),
        "recent done": OutboxJob(name="notify_case_event", args={}, status="done", finished_at=recent),
        "old failed": OutboxJob(name="notify_case_event", args={}, status="failed", finished_at=old),
        "old pending": OutboxJob(name="notify_case_event", args={}, status="pending", created_at=old),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    ids = {name: row.id for name, row in rows.items()}

    assert jobs.purge_outbox() == {"deleted": 1}

    left = set(db.session.scalars(sa.select(OutboxJob.id)))
    assert left == {ids["recent done"], ids["old failed"], ids["old pending"]}
    assert outbox.record("notify_case_event", {}, dedupe_key="k-1") is not None  # its key went with it
    assert "purge_outbox" in {entry.task for entry in scheduler.SCHEDULE}


def test_the_outbox_purge_takes_a_setting_and_works_in_batches(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_KEEP_DAYS", 7)
    long_ago = utcnow() - dt.timedelta(days=8)
    db.session.add_all(
        [OutboxJob(name="notify_case_event", args={}, status="done", finished_at=long_ago) for _ in range(5)]
    )
    db.session.commit()
    assert outbox.purge_done(7, batch=2) == 2
    db.session.commit()
    assert jobs.purge_outbox() == {"deleted": 3}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0
