"""rq plumbing: the queue, the entry points that run an outbox row or a periodic task in its own app context.

An outbox row is queued as rq job `outbox-<id>`; a short Redis lock and a look at
the existing rq job keep it from being queued twice. Failed jobs retry with
back-off (`RQ_RETRY_INTERVALS`, rq `Retry`), then stay in rq's failed registry.

A worker that dies in the middle of a job (SIGKILL, out of memory, the machine
lost) leaves the job "started" in rq. Its heartbeat then lapses, and
`reap_abandoned` (the outbox sweep, every minute; a worker also does it when it
starts and every 10 minutes) hands it to rq's retry policy like any failure;
the outbox row records that its worker died.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, Worker
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from workflows import outbox, registry

log = logging.getLogger(__name__)

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
        run_task,
        name,
        job_id=f"task-{name}-{slot}",
        retry=_retry(app),  # every task is idempotent: a run lost with its worker is simply run again
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=name,
    )
    return True


class AppWorker(Worker):
    """rq's forking worker, whose job heartbeat lapses `heartbeat_grace` seconds after the last beat.

    rq keeps a running job's entry in the started registry alive for the
    monitoring interval plus a fixed 60 s; the grace is configurable here
    (`RQ_HEARTBEAT_GRACE`) so that a dead worker's job is noticed sooner.
    """

    heartbeat_grace = 60

    def get_heartbeat_ttl(self, job: Job) -> int:
        """The job's heartbeat lifetime with our grace instead of rq's 60 s."""
        return super().get_heartbeat_ttl(job) - 60 + self.heartbeat_grace


def make_worker(app: Flask) -> AppWorker:
    """The worker `flask worker` runs: the app's queue, its heartbeat settings, abandoned jobs recorded."""
    set_worker_app(app)
    q = get_queue(app)
    worker = AppWorker(
        [q],
        connection=q.connection,
        job_monitoring_interval=app.config.get("RQ_JOB_MONITORING_INTERVAL", 30),
        exception_handlers=[_note_abandoned],
        work_horse_killed_handler=_note_horse_killed,
    )
    worker.heartbeat_grace = app.config.get("RQ_HEARTBEAT_GRACE", 60)
    return worker


def reap_abandoned(app: Flask) -> int:
    """Hand the jobs whose worker died (heartbeat lapsed) to rq's retry policy; returns how many were found."""
    q = get_queue(app)
    registry = StartedJobRegistry(queue=q)
    if not registry.get_expired_job_ids():
        return 0
    if not q.acquire_maintenance_lock():  # a worker is cleaning the registries right now
        return 0
    try:
        expired = len(registry.get_expired_job_ids())
        registry.cleanup(exception_handlers=[_note_abandoned])
    finally:
        q.release_maintenance_lock()
    return expired


def _note_abandoned(job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> bool:
    """rq exception handler: an outbox job whose worker vanished gets the fact on its row."""
    if exc_type is AbandonedJobError:
        _note_lost_run(job, "the worker running this job died (rq: AbandonedJobError); rq retries it")
    return True  # let rq's own handling (retry, failed registry) go on


def _note_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """rq hook: the work horse running a job was killed (e.g. out of memory); note it on the outbox row."""
    signal = f" by signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else ""
    _note_lost_run(job, f"the process running this job ended unexpectedly{signal}; rq retries it")


def _note_lost_run(job: Job, reason: str) -> None:
    if not job.id.startswith("outbox-"):
        return
    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        return
    try:
        with app.app_context():
            outbox.record_lost_run(int(job.id.removeprefix("outbox-")), reason)
    except Exception:  # bookkeeping only: never stop rq from retrying the job
        log.exception("could not record the lost run of %s", job.id)


def set_worker_app(app: Flask) -> None:
    """Tell the worker process which app its jobs run in (the Flask CLI worker command does this)."""
    global _worker_app
    _worker_app = app


def run_outbox_job(job_id: int) -> None:
    """The rq entry point: run an outbox row inside a fresh app context (so a fresh database session)."""
    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("no app for the worker: start it with `flask worker`")
    with app.app_context():
        outbox.execute(job_id)


def run_task(name: str) -> Any:
    """The rq entry point of a periodic task, inside a fresh app context."""
    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("no app for the worker: start it with `flask worker`")
    with app.app_context():
        return registry.installed(app).tasks[name]()


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
