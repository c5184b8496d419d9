"""The job outbox: a job is a row written in the same transaction as the change that needs it.

After the commit the row is handed to rq (or, without `REDIS_URL`, run inline in
a fresh app context). If Redis is down at that moment the change is still
committed, and the periodic `sweep_outbox` hands the job over later. A job runs
through `execute`, which skips rows already done, so running one twice is harmless.

A row done longer ago than `OUTBOX_KEEP_DAYS` (default 30) is deleted by the nightly `purge_outbox` task
(`purge_done`); failed rows stay for a person to look at. A job's dedupe key is forgotten with its row: the
keys guard against doing one thing twice within days (a retried transition, the next sweep), not months.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from cases.db import db
from cases.models import OutboxJob, utcnow
from workflows import registry

log = logging.getLogger(__name__)

_PENDING = "outbox_pending"
MAX_ATTEMPTS = 5
STATUSES = ("pending", "enqueued", "retrying", "done", "failed")  # an outbox row's life
Enqueue = Callable[[Flask, int], bool]  # hands a row to rq (`workflows.queue.enqueue_outbox`)


def record(name: str, args: dict[str, Any], dedupe_key: str | None = None) -> OutboxJob | None:
    """Add a job to the current transaction; it is handed over after commit. A known dedupe key adds nothing."""
    if dedupe_key is not None:
        existing = db.session.scalar(sa.select(OutboxJob).where(OutboxJob.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    row = OutboxJob(name=name, args=args, dedupe_key=dedupe_key)
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append(row.id)
    return row


KEEP_DAYS = 30  # the default of OUTBOX_KEEP_DAYS


def purge_done(days: int, now: dt.datetime | None = None, batch: int = 5000) -> int:
    """Delete up to `batch` rows done more than `days` ago; returns how many. The caller commits."""
    before = (now or utcnow()) - dt.timedelta(days=days)
    ids = sa.select(OutboxJob.id).where(OutboxJob.status == "done", OutboxJob.finished_at < before).limit(batch)
    return db.session.execute(
        sa.delete(OutboxJob).where(OutboxJob.id.in_(ids.scalar_subquery())),
        execution_options={"synchronize_session": False},
    ).rowcount


def _after_commit(session: Session) -> None:
    """Hand over the jobs recorded in the transaction just committed."""
    ids = session.info.pop(_PENDING, [])
    if ids and has_app_context():
        hand_over(current_app._get_current_object(), ids)


def _after_rollback(session: Session) -> None:
    """Forget the jobs of a transaction rolled back."""
    session.info.pop(_PENDING, None)


def init_app(app: Flask, enqueue: Enqueue) -> None:
    """Hand over through `enqueue` when the app has Redis; listen to the sessions' commits (once, for every app)."""
    app.extensions["appeals_outbox_enqueue"] = enqueue
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def hand_over(app: Flask, ids: list[int]) -> None:
    """Enqueue the jobs on rq, or run them inline when no Redis is configured."""
    hand_over_now(app, ids)


def hand_over_now(app: Flask, ids: list[int]) -> int:
    """Enqueue the jobs on rq (marking them enqueued), or run them inline without Redis; returns how many went."""
    if not ids:
        return 0
    if app.config.get("REDIS_URL"):
        enqueue: Enqueue = app.extensions["appeals_outbox_enqueue"]
        handed = []
        for job_id in ids:
            try:
                if enqueue(app, job_id):
                    handed.append(job_id)
            except Exception as exc:  # Redis down: the sweep hands it over later
                log.warning("could not hand job %s to Redis: %s", job_id, exc)
        if handed:
            _mark_enqueued(app, handed)
        return len(handed)
    for job_id in ids:
        with app.app_context():
            execute(job_id)
    return len(ids)


def _mark_enqueued(app: Flask, ids: list[int]) -> None:
    # On its own connection: this runs after the session's commit, outside its transaction.
    """Mark jobs handed to rq as enqueued."""
    try:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(
                sa.update(OutboxJob)
                .where(OutboxJob.id.in_(ids), OutboxJob.status == "pending")
                .values(status="enqueued", enqueued_at=utcnow())
            )
    except Exception as exc:  # cosmetic: the row stays pending and the sweep finds the rq job already queued
        log.warning("could not mark jobs %s enqueued: %s", ids, exc)


def retry(job_id: int) -> bool:
    """Put a failed or retrying job back to pending; it is handed over after the caller's commit."""
    row = db.session.get(OutboxJob, job_id)
    if row is None or row.status == "done":
        return False
    row.status = "pending"
    row.attempts = 0
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append(row.id)
    return True


def execute(job_id: int) -> None:
    """Run one outbox job in the current app context; a done job is skipped; a failure is recorded and re-raised."""
    row = db.session.get(OutboxJob, job_id)
    if row is None or row.status == "done":
        return
    installed = registry.installed()
    fn = installed.jobs.get(row.name)
    name, args = row.name, dict(row.args or {})
    try:
        if fn is None:
            raise LookupError(f"no job named {name!r}")
        fn(**args)
    except Exception:
        db.session.rollback()
        row = db.session.get(OutboxJob, job_id)
        _count_failure(row, traceback.format_exc(limit=5)[-4000:])
        db.session.commit()
        if current_app.config.get("REDIS_URL"):
            raise
        log.exception("job %s (%s) failed", job_id, row.name)
        return
    row = db.session.get(OutboxJob, job_id)
    row.attempts = (row.attempts or 0) + 1
    row.status = "done"
    row.finished_at = utcnow()
    row.error = ""
    forget = installed.forget.get(name)
    if forget:
        row.args = {k: v for k, v in args.items() if k not in forget}
    db.session.commit()


def record_lost_run(job_id: int, reason: str) -> None:
    """A run lost with its worker (killed, out of memory): counted as a failed attempt, with the reason."""
    row = db.session.get(OutboxJob, job_id)
    if row is None or row.status == "done":
        return
    _count_failure(row, reason)
    db.session.commit()


def _count_failure(row: OutboxJob, error: str) -> None:
    """One more failed attempt: `retrying`, or `failed` after the last one (the sweep leaves those alone)."""
    row.attempts = (row.attempts or 0) + 1
    row.error = error
    row.status = "failed" if row.attempts >= MAX_ATTEMPTS else "retrying"


def stale_pending(older_than: dt.timedelta = dt.timedelta(seconds=60)) -> list[int]:
    """Ids of jobs never handed over, whose worker vanished, or left to retry (rq skips those it still holds)."""
    cutoff = utcnow() - older_than
    return list(
        db.session.scalars(
            sa.select(OutboxJob.id)
            .where(OutboxJob.status.in_(("pending", "enqueued", "retrying")), OutboxJob.created_at < cutoff)
            .order_by(OutboxJob.id)
            .limit(1000)
        )
    )
