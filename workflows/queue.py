"""rq plumbing: the queue, the entry points that run an outbox row or a periodic task in its own app context.

An outbox row is queued as rq job `outbox-<id>`; a short Redis lock and a look at
the existing rq job keep it from being queued twice. Failed jobs retry with
back-off (`RQ_RETRY_INTERVALS`, rq `Retry`), then stay in rq's failed registry.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

QUEUE_NAME = "appeals"
RETRY_INTERVALS = [10, 60, 300, 900]
_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_worker_app: Flask | None = None


def redis_conn(app: Flask) -> Redis:
    """A Redis connection from the app's REDIS_URL."""
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def get_queue(app: Flask) -> Queue:
    """The app's rq queue."""
    return Queue(app.config.get("RQ_QUEUE", QUEUE_NAME), connection=redis_conn(app))


def _retry(app: Flask) -> Retry:
    """rq's retry policy from the app's RQ_RETRY_INTERVALS."""
    intervals = list(app.config.get("RQ_RETRY_INTERVALS") or RETRY_INTERVALS)
    return Retry(max=len(intervals), interval=intervals)


def _claim(conn: Redis, rq_id: str) -> bool:
    """True when no live rq job has this id (and nobody else is queueing it right now)."""
    if not conn.set(f"appeals:enqueue-lock:{rq_id}", 1, nx=True, ex=30):
        return False
    try:
        existing = Job.fetch(rq_id, connection=conn)
    except NoSuchJobError:
        return True
    if existing.get_status(refresh=False) in _LIVE:
        return False
    existing.delete()  # finished, failed, stopped or cancelled: start afresh
    return True


def enqueue_outbox(app: Flask, job_id: int) -> bool:
    """Hand an outbox row to rq as `outbox-<id>`; False when it is already queued or running."""
    q = get_queue(app)
    rq_id = f"outbox-{job_id}"
    if not _claim(q.connection, rq_id):
        return False
    q.enqueue(
        run_outbox_job,
        job_id,
        job_id=rq_id,
        retry=_retry(app),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"outbox job {job_id}",
    )
    q.connection.delete(f"appeals:enqueue-lock:{rq_id}")
    return True


def enqueue_task(app: Flask, name: str, slot: str, ttl: int = 24 * 3600) -> bool:
    """Queue a periodic task once per time slot, however many schedulers run; False when the slot was taken."""
    q = get_queue(app)
    if not q.connection.set(f"appeals:task-slot:{name}:{slot}", 1, nx=True, ex=ttl):
        return False
    q.enqueue(
        run_task, name, job_id=f"task-{name}-{slot}", result_ttl=3600, failure_ttl=7 * 24 * 3600, description=name
    )
    return True


def set_worker_app(app: Flask) -> None:
    """Tell the worker process which app its jobs run in (the Flask CLI worker command does this)."""
    global _worker_app
    _worker_app = app


def run_outbox_job(job_id: int) -> None:
    """The rq entry point: run an outbox row inside a fresh app context (so a fresh database session)."""
    from workflows import outbox

    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("no app for the worker: start it with `flask worker`")
    with app.app_context():
        outbox.execute(job_id)


def run_task(name: str) -> Any:
    """The rq entry point of a periodic task, inside a fresh app context."""
    from workflows import jobs

    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("no app for the worker: start it with `flask worker`")
    with app.app_context():
        return jobs.TASKS[name]()


def overview(app: Flask) -> dict[str, Any]:
    """Queue length, workers, scheduled retries and failed jobs with their error, for the supervisors' page."""
    q = get_queue(app)
    failed = FailedJobRegistry(queue=q)
    failed_jobs = []
    for job in Job.fetch_many(failed.get_job_ids(0, 49), connection=q.connection):
        if job is None:
            continue
        error = (job.latest_result().exc_string if job.latest_result() else "") or ""
        failed_jobs.append(
            {"id": job.id, "description": job.description, "ended_at": job.ended_at, "error": error.strip()[-800:]}
        )
    return {
        "queue": q.name,
        "length": q.count,
        "workers": [
            {"name": w.name, "state": w.get_state(), "current": w.get_current_job_id()} for w in Worker.all(queue=q)
        ],
        "scheduled": ScheduledJobRegistry(queue=q).count,
        "failed_count": failed.count,
        "failed": failed_jobs,
    }


def requeue_failed(app: Flask, rq_id: str) -> bool:
    """Put a job from rq's failed registry back on the queue."""
    q = get_queue(app)
    try:
        FailedJobRegistry(queue=q).requeue(rq_id)
    except Exception:  # not in the registry (any more), or gone
        return False
    return True
