"""Intake under load: appeals filed through the API by 50 concurrent clients (wrk), next to a trivial route.

Production-like: gunicorn, PostgreSQL, Redis (rate-limit storage off for the load,
the outbox handed to rq) and a real rq worker draining the jobs. Prints
throughput, p50/p95/p99 latency, and whether the number of appeals in the database
equals the number of 201 answers. Needs wrk (Debian package) and PostgreSQL/Redis.

    .venv/bin/python scripts/bench_intake.py [--seconds 20] [--connections 50] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from bench_results import record

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
DB = os.environ.get("BENCH_DATABASE", "appeals_bench_intake")  # dropped and created afresh by each run
TICK = os.sysconf("SC_CLK_TCK")


def sh(*args: str, env: dict | None = None) -> None:
    subprocess.run(args, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """CPU time (user + system) of a process so far; with `reaped`, also that of its children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
    return ticks / TICK


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class CpuMeter:
    """CPU seconds spent by each part during a phase: the web workers, the rq worker, PostgreSQL's backends, wrk."""

    def __init__(self, master: int, worker: int):
        self.master, self.worker = master, worker

    def sample(self) -> dict[str, dict[int, float]]:
        """{part: {pid: CPU seconds so far}}; wrk is this script's reaped children (pid 0)."""
        with psycopg.connect(f"{PG}/{DB}") as conn:
            backends = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB,))]
        own = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "web": {p: cpu_seconds(p) for p in [self.master, *children(self.master)]},
            "rq worker": {self.worker: cpu_seconds(self.worker, reaped=True)},
            "PostgreSQL": {p: cpu_seconds(p) for p in backends},  # this database's backends (not the WAL writer)
            "wrk": {0: own.ru_utime + own.ru_stime},
        }

    @staticmethod
    def per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request of each part (a process that started during the phase counts whole)."""
        return {
            part: 1000 * sum(t - before[part].get(pid, 0.0) for pid, t in pids.items()) / max(requests, 1)
            for part, pids in after.items()
        }


def wrk(url: str, script: Path, seconds: int, connections: int, meter: CpuMeter | None = None) -> dict:
    before = meter.sample() if meter else None
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict = {"status": {}}
    for line in out.splitlines():
        if m := re.match(r"STATUS (\d+) (\d+)", line):
            figures["status"][int(m[1])] = int(m[2])
        elif m := re.match(r"(\w+) (\d+)$", line):
            figures[m[1]] = int(m[2])
    figures["rps"] = figures["REQUESTS"] / (figures["DURATION_US"] / 1e6)
    if meter:
        figures["cpu_ms"] = CpuMeter.per_request(before, meter.sample(), figures["REQUESTS"])
        figures["load"] = os.getloadavg()[0]
    return figures


def appeal_json(n: int) -> bytes:
    """A valid appeal with its own phone and service number."""
    number = f"136{n:08d}"
    event = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    complaint = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400))
    return json.dumps(
        {
            "complainant_name": "压测用户",
            "phone": number,
            "id_number": "",
            "address": "吉林省长春市朝阳区人民大街1号",
            "postcode": "130000",
            "email": "",
            "operator": "cmcc_jl",
            "service_type": "mobile",
            "service_number": number,
            "category": "charging",
            "event_date": event,
            "operator_complaint_date": complaint,
            "operator_ticket_no": f"GD{n}",
            "request": "退还多扣的话费50元",
            "facts": "话费账单多扣50元，已向客服投诉，答复不予退还。",
            "pledge": True,
            "eligibility": {
                "complained_to_operator": True,
                "operator_replied": True,
                "satisfied": False,
                "court_or_arbitration": False,
                "settled_and_performed": False,
            },
        }
    ).encode()


def exact_count(url: str, total: int, clients: int) -> dict:
    """File exactly `total` appeals with `clients` concurrent clients and wait for every answer."""

    def one(n: int) -> int:
        req = urllib.request.Request(url, data=appeal_json(n), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(one, range(total)))
    return {code: statuses.count(code) for code in set(statuses)}


def workers_rss_kb(master_pid: int) -> int:
    """The resident memory of the gunicorn workers (children of the master), in KB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    total = 0
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def upload_memory(base: str, master_pid: int, size_mb: int = 20) -> tuple[int, int]:
    """File an appeal, upload a `size_mb` PDF to it, and return the workers' RSS before and after (KB)."""
    req = urllib.request.Request(
        base + "/api/v1/appeals", data=appeal_json(99_999_999), headers={"Content-Type": "application/json"}
    )
    filed = json.load(urllib.request.urlopen(req, timeout=30))
    boundary = "benchboundary7d3"
    payload = b"%PDF-1.4\n" + b"0" * (size_mb * 1024 * 1024 - 64) + b"\n%%EOF\n"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bill.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    before = workers_rss_kb(master_pid)
    req = urllib.request.Request(
        f"{base}/api/v1/appeals/{filed['case_no']}/materials",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Access-Code": filed["access_code"]},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 201, resp.status
    return before, workers_rss_kb(master_pid)


def settled_count() -> int:
    """The number of appeals once the requests wrk left in flight have all been answered."""
    last, same_since = -1, time.time()
    while time.time() - same_since < 3:
        with psycopg.connect(f"{PG}/{DB}") as conn:
            now = conn.execute("SELECT count(*) FROM appeal").fetchone()[0]
        if now != last:
            last, same_since = now, time.time()
        time.sleep(0.5)
    return last


def wait_for(url: str, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    ap.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--exact", type=int, default=1000, help="appeals in the exact-count phase")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    instance = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": f"{PG}/{DB}",
        "REDIS_URL": REDIS,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": "0",  # one client address sends every request; the limits would answer 429
    }
    sh(str(BIN / "flask"), "db", "upgrade", env=env)
    sh(str(BIN / "flask"), "seed", env=env)
    subprocess.run([str(BIN / "python"), "-c", f"import redis; redis.Redis.from_url('{REDIS}').flushdb()"], check=True)

    procs = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(args.workers),
                "-k",
                args.worker_class,
                "--threads",
                str(args.threads),
                "-b",
                f"127.0.0.1:{args.port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [str(BIN / "flask"), "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
    ]
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_for(base + "/api/v1/health")
        meter = CpuMeter(procs[0].pid, procs[1].pid)
        floor = wrk(
            base + "/api/v1/health", ROOT / "scripts/bench/wrk_floor.lua", args.seconds, args.connections, meter
        )
        load = wrk(
            base + "/api/v1/appeals", ROOT / "scripts/bench/wrk_appeal.lua", args.seconds, args.connections, meter
        )
        # wrk stops mid-flight; the exact count runs a fixed number of appeals and waits for every answer.
        before = settled_count()
        answers = exact_count(base + "/api/v1/appeals", args.exact, args.connections)
        with psycopg.connect(f"{PG}/{DB}") as conn:
            stored = conn.execute("SELECT count(*) FROM appeal").fetchone()[0] - before
            events = conn.execute(
                "SELECT count(*) FROM case_event WHERE action = 'submit' AND appeal_id IN "
                "(SELECT id FROM appeal ORDER BY id DESC LIMIT %s)",
                (stored,),
            ).fetchone()[0]
        rss_before, rss_after = upload_memory(base, procs[0].pid)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(20)
        shutil.rmtree(instance, ignore_errors=True)

    created = answers.get(201, 0)
    ms = lambda us: us / 1000  # noqa: E731
    print(
        f"intake under load: {args.connections} concurrent clients, {args.seconds} s, "
        f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, "
        f"PostgreSQL + Redis + rq worker, {os.cpu_count()} cores"
    )
    parts = list(load["cpu_ms"])
    cpu_head = " ".join(f"{p:>10}" for p in parts)
    print(f"  {'':28} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'load':>5}   CPU ms/request: {cpu_head}")
    for name, f in (("floor: GET /api/v1/health", floor), ("POST /api/v1/appeals", load)):
        cpu = " ".join(f"{f['cpu_ms'][p]:10.2f}" for p in parts)
        print(
            f"  {name:28} {f['rps']:9.1f} {ms(f['LATENCY_P50_US']):8.1f} {ms(f['LATENCY_P95_US']):8.1f} "
            f"{ms(f['LATENCY_P99_US']):8.1f} {f['load']:5.1f}   {'':16}{cpu}"
        )
    print(f"  answers: {dict(sorted(load['status'].items()))}, socket errors: {load.get('ERRORS', 0)}")
    ok_rate = load["rps"] >= 200
    ok_p99 = ms(load["LATENCY_P99_US"]) <= 200
    ok_lost = stored == created == events
    # Issue 10's target: the web workers' CPU per filing at most 3.5x that of the floor route, in this run.
    web, web_floor = load["cpu_ms"]["web"], floor["cpu_ms"]["web"]
    ratio = web / web_floor if web_floor else float("inf")
    ok_ratio = ratio <= 3.5
    print(f"  target >= 200 appeals/s: {load['rps']:.1f} -> {'MET' if ok_rate else 'NOT MET'}")
    print(f"  target p99 <= 200 ms: {ms(load['LATENCY_P99_US']):.1f} ms -> {'MET' if ok_p99 else 'NOT MET'}")
    print(
        f"  target web CPU per filing <= 3.5x the floor's: {web:.2f} ms vs {web_floor:.2f} ms = {ratio:.1f}x -> "
        f"{'MET' if ok_ratio else 'NOT MET'}"
    )
    print(f"  exact phase: {args.exact} appeals by {args.connections} clients, answers {dict(sorted(answers.items()))}")
    grew_mb = (rss_after - rss_before) / 1024
    part = f"intake, {args.connections} clients"
    record(part, "floor: GET /api/v1/health", f"{floor['rps']:,.0f} req/s, p99 {ms(floor['LATENCY_P99_US']):.0f} ms")
    record(part, "POST /api/v1/appeals throughput", f"{load['rps']:.0f} appeals/s", ">= 200 appeals/s", ok_rate)
    record(
        part,
        "POST /api/v1/appeals latency",
        f"p50 {ms(load['LATENCY_P50_US']):.0f} / p95 {ms(load['LATENCY_P95_US']):.0f} "
        f"/ p99 {ms(load['LATENCY_P99_US']):.0f} ms",
        "p99 <= 200 ms",
        ok_p99,
    )
    record(
        part,
        "web workers' CPU per filing vs floor",
        f"{web:.2f} ms vs {web_floor:.2f} ms = {ratio:.1f}x",
        "<= 3.5x floor",
        ok_ratio,
    )
    record(
        part, "nothing lost", f"{created} answered 201, {stored} stored, {events} submit events", "all equal", ok_lost
    )
    record(part, "20 MB upload, workers' memory", f"+{grew_mb:.1f} MB", "< 5 MB", grew_mb < 5)
    print(
        f"  20 MB upload: the gunicorn workers' memory {rss_before / 1024:.1f} MB -> {rss_after / 1024:.1f} MB "
        f"(+{grew_mb:.1f} MB); target < 5 MB -> {'MET' if grew_mb < 5 else 'NOT MET'}"
    )
    print(
        f"  nothing lost: {created} answers 201, {stored} appeals and {events} submit events stored -> "
        f"{'MET' if ok_lost else 'NOT MET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
