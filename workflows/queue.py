"""rq plumbing: the queue, the job entry point that runs an outbox row in its own app context."""

from __future__ import annotations

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry

QUEUE_NAME = "appeals"
_worker_app: Flask | None = None


def redis_conn(app: Flask) -> Redis:
    """A Redis connection from the app's REDIS_URL."""
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def get_queue(app: Flask) -> Queue:
    """The app's rq queue."""
    return Queue(app.config.get("RQ_QUEUE", QUEUE_NAME), connection=redis_conn(app))


def enqueue_outbox(app: Flask, job_id: int) -> None:
    """Hand an outbox row to rq; the rq job id is derived from the row, so it is never queued twice."""
    q = get_queue(app)
    q.enqueue(
        run_outbox_job,
        job_id,
        job_id=f"outbox-{job_id}",
        retry=Retry(max=3, interval=[5, 30, 120]),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )


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
