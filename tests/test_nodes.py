"""Several nodes (docs/DEPLOYMENT.md): two web processes, two rq workers and two schedulers on one database,
one Redis and one S3-compatible object store, each a real process started here.

An appeal filed on web 1 is tracked and given a material on web 2, and the material is read back on web 1;
each job runs once; each scheduler slot is started once; rate limits are shared; a staff session works on both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from cases.models import Material, OutboxJob
from tests.conftest import PASSWORD, csrf_token, make_user, on_postgres
from tests.s3_server import free_port
from tests.test_api_public import PDF, appeal_body
from workflows import outbox

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not on_postgres, reason="the nodes share one PostgreSQL (the PostgreSQL pass)")


class Node:
    def __init__(self, name: str, argv: list[str], env: dict, logs: Path):
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def cluster(redis_app, s3_store, tmp_path):
    """web1, web2 (gunicorn), worker1, worker2, scheduler1, scheduler2; each node its own instance and upload folder."""
    app = redis_app
    base = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "nodes-secret",
        "ACCESS_CODE_KEY": "nodes-access-code-key",  # the same on every node, as docs/DEPLOYMENT.md says
        "MATERIALS_STORAGE": app.config["MATERIALS_STORAGE"],
        "S3_ENDPOINT_URL": app.config["S3_ENDPOINT_URL"],
        "S3_ACCESS_KEY_ID": app.config["S3_ACCESS_KEY_ID"],
        "S3_SECRET_ACCESS_KEY": app.config["S3_SECRET_ACCESS_KEY"],
        "RATELIMIT_ENABLED": "1",
    }
    nodes: dict[str, Node] = {}
    ports = {}

    def env(name: str) -> dict:
        return {**base, "INSTANCE_PATH": str(tmp_path / name), "UPLOAD_FOLDER": str(tmp_path / name / "uploads")}

    try:
        for name in ("web1", "web2"):
            ports[name] = free_port()
            argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{ports[name]}", "wsgi:app"]
            nodes[name] = Node(name, argv, env(name), tmp_path)
        for name in ("worker1", "worker2"):
            nodes[name] = Node(name, [sys.executable, "-m", "flask", "worker"], env(name), tmp_path)
        for name in ("scheduler1", "scheduler2"):
            nodes[name] = Node(
                name, [sys.executable, "-m", "flask", "scheduler", "--interval", "1"], env(name), tmp_path
            )
        for name in ("web1", "web2"):
            deadline = time.monotonic() + 40
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{ports[name]}/api/v1/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or nodes[name].proc.poll() is not None:
                    pytest.fail(f"{name} did not start:\n{nodes[name].log()[-3000:]}")
                time.sleep(0.2)
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, nodes
    finally:
        for node in nodes.values():
            node.stop()


def wait_for(check, seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_two_webs_two_workers_two_schedulers_share_one_database_redis_and_object_store(cluster):
    urls, nodes = cluster
    web1, web2 = urls["web1"], urls["web2"]

    filed = requests.post(f"{web1}/api/v1/appeals", json=appeal_body(), timeout=30)
    assert filed.status_code == 201, filed.text
    case_no, code = filed.json()["case_no"], filed.json()["access_code"]
    headers = {"X-Access-Code": code}
    tracked = requests.get(f"{web2}/api/v1/appeals/{case_no}", headers=headers, timeout=30)
    assert tracked.status_code == 200 and tracked.json()["status"] == "received"
    added = requests.post(
        f"{web2}/api/v1/appeals/{case_no}/materials", headers=headers, files={"file": ("bill.pdf", PDF)}, timeout=30
    )
    assert added.status_code == 201, added.text
    material = db.session.get(Material, added.json()["id"])
    assert material.storage.startswith("s3://")
    for name in ("web1", "web2"):  # nothing on either node's own disk
        assert not list((Path(nodes[name].log_path.parent) / name / "uploads").glob("*"))

    # a staff session made on web 1 works on web 2, and the material stored through web 2 is read on web 1
    make_user("clerk", "clerk-nodes")
    staff = requests.Session()
    login_page = staff.get(f"{web1}/auth/login", timeout=30).text
    signed_in = staff.post(
        f"{web1}/auth/login",
        data={"username": "clerk-nodes", "password": PASSWORD, "csrf_token": csrf_token(login_page)},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302
    page = staff.get(f"{web2}/staff/cases/{case_no}", timeout=30, allow_redirects=False)
    assert page.status_code == 200 and case_no in page.text
    download = staff.get(f"{web1}/staff/cases/{case_no}/materials/{material.id}", timeout=30)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    # each job runs once: ten jobs handed to Redis, each done by exactly one of the two workers
    for year in range(2020, 2025):
        for half in ("H1", "H2"):
            outbox.record("rollup_period", {"period": f"{year}{half}"})
    db.session.commit()

    def outbox_done() -> bool:
        db.session.expire_all()
        return all(j.status == "done" for j in db.session.scalars(sa.select(OutboxJob)))

    wait_for(outbox_done, what="the outbox jobs")
    assert db.session.scalar(sa.select(sa.func.count(OutboxJob.id))) >= 10
    worker_logs = nodes["worker1"].log() + nodes["worker2"].log()
    for job in db.session.scalars(sa.select(OutboxJob)):
        assert worker_logs.count(f"Job OK (outbox-{job.id})") == 1, job.name  # workflows/queue.py names it so

    # rate limits are shared through Redis: 5 failures on each web make 10, and the 11th try is refused on either
    for web in (web1, web2) * 5:
        assert requests.get(f"{web}/api/v1/appeals/{case_no}", headers={"X-Access-Code": "WRONG"}).status_code == 404
    assert requests.get(f"{web1}/api/v1/appeals/{case_no}", headers=headers, timeout=30).status_code == 429

    # each scheduler slot is started once, by one scheduler or the other, and its task runs once
    from redis import Redis

    conn = Redis.from_url(os.environ["TEST_REDIS_URL"])
    wait_for(lambda: conn.keys("appeals:task-slot:sweep_outbox:*"), what="a scheduler slot")
    time.sleep(3)  # both schedulers have ticked several times since
    started = re.findall(r"started (.+)", nodes["scheduler1"].log() + nodes["scheduler2"].log())
    runs = [task for line in started for task in line.split(", ")]
    for task in ("sweep_outbox", "sweep_deadlines", "purge_receipts"):
        slots = conn.keys(f"appeals:task-slot:{task}:*")
        assert runs.count(task) == len(slots) >= 1, task
        wait_for(
            lambda t=task: (
                sum(
                    (nodes["worker1"].log() + nodes["worker2"].log()).count(
                        f"Job OK (task-{t}-{s.decode().rsplit(':', 1)[1]})"
                    )
                    for s in conn.keys(f"appeals:task-slot:{t}:*")
                )
                == len(conn.keys(f"appeals:task-slot:{t}:*"))
            ),
            what=f"{task} to run",
        )
