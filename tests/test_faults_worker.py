"""A worker killed in the middle of a rollup: the job runs again and leaves the revision an undisturbed run leaves.

The rq worker is a real `flask worker` process on the test's database and Redis.
The test holds a lock on `bulletin_revision`, so the rollup is caught in the
middle: its figures computed, its revision not yet written (on PostgreSQL the
test sees the job's INSERT waiting in `pg_locks`). Then it SIGKILLs either the
work horse alone (what the kernel's out-of-memory killer picks) or the whole
worker with its horse (the machine or container lost), starts a new worker, and
checks that the job ran to completion exactly once more.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.registry import StartedJobRegistry

from app.extensions import db
from cases import bulletin, trends
from cases.models import BulletinRevision, Contact, OutboxJob
from tests.conftest import needs_redis, on_postgres
from tests.factories import make_appeal
from workflows import jobs, queue

pytestmark = needs_redis

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2022H2"
AT = dt.datetime(2022, 9, 1, 2, 0)


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    """Poll until `check()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def process_group(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def work_horse(worker_pid: int) -> int | None:
    """The work horse rq forked for the running job: the child that made itself a process group leader."""
    return next((c for c in children(worker_pid) if process_group(c) == c), None)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class WorkerProcesses:
    """`flask worker` processes started by the test; every one still running (and its children) ends at teardown."""

    def __init__(self, app, tmp_path: Path):
        self.env = {
            **os.environ,
            "FLASK_APP": "wsgi.py",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "INSTANCE_PATH": str(tmp_path / "worker-instance"),
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "SECRET_KEY": "test-secret",
            # The job's heartbeat every second, lapsing 2 s after a worker dies (production: 30 s and 60 s).
            "RQ_JOB_MONITORING_INTERVAL": "1",
            "RQ_HEARTBEAT_GRACE": "2",
        }
        self.started: list[subprocess.Popen] = []
        self.log = (tmp_path / "workers.log").open("ab")  # read it when a test here fails

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> list[int]:
        """SIGKILL a worker, then the children it leaves behind (its horse, rq's scheduler); returns those."""
        family = children(proc.pid)
        for pid in [proc.pid, *family]:  # the worker first, so nobody is left to notice the horse dying
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(10)
        return family

    def stop_all(self) -> None:
        for proc in self.started:
            self.kill(proc)
        self.log.close()


@pytest.fixture
def workers(redis_app, tmp_path, monkeypatch):
    monkeypatch.setitem(redis_app.config, "RQ_RETRY_INTERVALS", [0, 0, 0])
    procs = WorkerProcesses(redis_app, tmp_path)
    yield procs
    procs.stop_all()


class RevisionLock:
    """Holds a lock on `bulletin_revision` from its own connection: a rollup can read but not write its revision."""

    def __init__(self):
        self.conn = db.engine.connect()
        if on_postgres:
            self.conn.execute(sa.text("LOCK TABLE bulletin_revision IN EXCLUSIVE MODE"))
        else:
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock; readers go on

    def rollup_waiting(self) -> bool:
        """True once the rollup is in the middle: figures computed, its INSERT waiting for this lock."""
        if not on_postgres:
            return True  # SQLite shows no waiters: the caller waits for the job to start, then a little longer
        with db.engine.connect() as conn:
            return bool(
                conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'bulletin_revision'::regclass"
                    )
                )
            )

    def release(self) -> None:
        if on_postgres:
            self.conn.rollback()
        else:
            self.conn.exec_driver_sql("ROLLBACK")
        self.conn.close()


def some_cases() -> None:
    make_appeal(state="settled", at=AT, phone="13912345678")
    make_appeal(state="closed", at=AT, operator_code="mvno_jd")
    make_appeal(state="rejected", at=AT)
    for channel in ("phone_consultation", "callback", "callback", "visit"):
        db.session.add(Contact(channel=channel, at=AT))
    db.session.commit()


def revisions() -> list[BulletinRevision]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(BulletinRevision).where(BulletinRevision.period == PERIOD)))


def job_row(row_id: int) -> OutboxJob:
    db.session.expire_all()
    return db.session.get(OutboxJob, row_id)


def catch_the_rollup_in_the_middle(app, worker: subprocess.Popen) -> tuple[int, RevisionLock, int]:
    """The worker takes the rollup job and is held at the write of its revision; returns horse, lock, row id."""
    q = queue.get_queue(app)
    wait_for(lambda: not q.count and not StartedJobRegistry(queue=q).count, "the worker to send the cases' notices")
    row = OutboxJob(name="rollup_period", args={"period": PERIOD})  # not handed over at commit, unlike record()
    db.session.add(row)
    db.session.commit()
    lock = RevisionLock()
    assert queue.enqueue_outbox(app, row.id)
    started = StartedJobRegistry(queue=q)
    wait_for(lambda: f"outbox-{row.id}" in started.get_job_ids(), "the worker to start the rollup")
    horse = wait_for(lambda: work_horse(worker.pid), "the work horse")
    wait_for(lock.rollup_waiting, "the rollup to wait at the INSERT of its revision")
    if not on_postgres:
        time.sleep(0.5)  # SQLite: let the job reach its write (it cannot commit while the lock is held)
    assert alive(horse) and revisions() == []
    return horse, lock, row.id


def assert_one_revision_as_an_undisturbed_run_gives(row_id: int) -> None:
    (rev,) = revisions()
    assert rev.number == 1
    period = bulletin.Period.parse(PERIOD)
    assert rev.figures == trends.rollup_figures(period)
    assert rev.figures["appeals_accepted"] == 2 and rev.figures["callbacks"] == 2
    # An undisturbed rollup of the same data finds nothing new to store.
    assert jobs.rollup_period(PERIOD) == {"period": PERIOD, "revision": 1, "created": False}
    row = job_row(row_id)
    assert row.status == "done" and row.attempts == 2  # the lost run (noted by rq's hook) and the one that finished


def test_the_work_horse_killed_mid_rollup_is_retried_by_its_worker(redis_app, workers):
    """The out-of-memory killer takes the horse: the surviving worker sees it die and rq's retry runs the job again."""
    worker = workers.start()  # it starts up (a few seconds) while the cases are made
    some_cases()
    horse, lock, row_id = catch_the_rollup_in_the_middle(redis_app, worker)
    os.kill(horse, signal.SIGKILL)
    lock.release()
    wait_for(lambda: job_row(row_id).status == "done", "the retried rollup to finish")
    assert worker.poll() is None
    assert_one_revision_as_an_undisturbed_run_gives(row_id)


def test_a_worker_killed_with_its_horse_mid_rollup_has_the_job_run_again_by_a_new_worker(redis_app, workers):
    """The machine loses the worker and its horse: once the heartbeat lapses the sweep retries it on a new worker."""
    worker = workers.start()  # it starts up (a few seconds) while the cases are made
    some_cases()
    horse, lock, row_id = catch_the_rollup_in_the_middle(redis_app, worker)
    assert horse in workers.kill(worker)
    wait_for(lambda: not alive(horse), "the horse to die")
    lock.release()
    workers.start()  # restarted at once, as a process supervisor would

    q = queue.get_queue(redis_app)
    assert f"outbox-{row_id}" in StartedJobRegistry(queue=q).get_job_ids()  # rq still thinks it runs
    assert job_row(row_id).status == "pending"  # not done, and not yet stale for the sweep's hand-over

    def swept_and_done() -> bool:
        jobs.sweep_outbox()  # the minute's sweep, called here every 50 ms
        return job_row(row_id).status == "done"

    wait_for(swept_and_done, "the sweep to retry the abandoned rollup and the new worker to finish it")
    assert_one_revision_as_an_undisturbed_run_gives(row_id)
    assert StartedJobRegistry(queue=q).get_job_ids() == []
