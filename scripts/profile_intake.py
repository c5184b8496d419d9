"""CPU cost of one filing (POST /api/v1/appeals), in process, on PostgreSQL: the stable measure behind bench_intake.

Wall-clock figures on a shared 2-core machine swing with the neighbours' load; CPU time per filing, SQL
statements per filing and Python function calls per filing (a count, so it does not swing at all) show
whether a change made intake cheaper. Each part of the filing is timed separately.

    .venv/bin/python scripts/profile_intake.py [--filings 500] [--top 30]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import importlib
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("PROFILE_DATABASE", "appeals_profile_intake")  # dropped and created afresh by each run

# The parts of a filing, outermost first: (module, function).
PARTS = (
    ("app.public.casefile", "submit_appeal"),
    ("cases.intake", "clean_appeal"),
    ("cases.intake", "_operator"),
    ("cases.intake", "check_eligibility"),
    ("cases.intake", "file_appeal"),
    ("cases.intake", "next_case_no"),
    ("cases.tracking", "hash_access_code"),
    ("workflows.engine", "perform"),
    ("cases.intake", "write_new_case"),
)


def fresh_database() -> str:
    """Create the profile database with the schema and reference data; returns its URL."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": f"{PG}/{DB}"}
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([str(ROOT / ".venv/bin/flask"), *command], check=True, cwd=ROOT, env=env, capture_output=True)
    return f"{PG}/{DB}"


def timed(spent: collections.Counter, module: str, name: str) -> None:
    """Replace module.name by a wrapper adding its CPU seconds to spent[name] (calls through the module only)."""
    mod = importlib.import_module(module)
    fn = getattr(mod, name, None)
    if fn is None:  # not in this version of the code
        return

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[f"{module}.{name}"] += time.process_time() - start

    setattr(mod, name, wrapper)
    for other in ("cases.intake", "app.public.casefile", "app.api.public"):  # `from x import name` copies
        other_mod = importlib.import_module(other)
        if getattr(other_mod, name, None) is fn:
            setattr(other_mod, name, wrapper)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--filings", type=int, default=500)
    ap.add_argument("--top", type=int, default=0, help="also print the top N functions by own CPU time")
    args = ap.parse_args()

    os.environ.update(
        DATABASE_URL=fresh_database(),
        INSTANCE_PATH=tempfile.mkdtemp(prefix="profile-intake-"),
        SECRET_KEY="profile",
        RATELIMIT_ENABLED="0",
    )
    os.environ.pop("REDIS_URL", None)  # a filing hands no job to rq; nothing else here needs Redis
    import sqlalchemy as sa

    from app import create_app
    from scripts.bench_intake import appeal_json

    app = create_app()
    client = app.test_client()
    statements = collections.Counter()

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):
        statements[" ".join(statement.split())[:70]] += 1

    serial = iter(range(10_000_000))

    def file_one() -> None:
        resp = client.post(
            "/api/v1/appeals", data=appeal_json(next(serial)), headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 201, resp.get_data(as_text=True)

    def run(n: int) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            file_one()
        return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n

    run(50)  # warm: compiled statements, prepared statements, the year's sequence
    n = args.filings
    statements.clear()
    cpu, wall = run(n)
    per_filing = {sql: count / n for sql, count in statements.items()}
    profile = cProfile.Profile(time.process_time)
    profile.runcall(run, n)
    stats = pstats.Stats(profile)
    spent: collections.Counter = collections.Counter()
    for module, name in PARTS:
        timed(spent, module, name)
    run(n)

    floor_cpu = time.process_time()
    for _ in range(n):
        client.get("/api/v1/health")
    floor_cpu = (time.process_time() - floor_cpu) / n

    print(f"one filing, in process (Flask test client), PostgreSQL, {n} filings, load average {os.getloadavg()[0]:.1f}")
    print(
        f"  CPU {1000 * cpu:.2f} ms per filing (wall {1000 * wall:.2f} ms); floor GET /api/v1/health {1000 * floor_cpu:.2f} ms"
    )
    print(f"  Python function calls per filing: {stats.total_calls / n:,.0f}")
    print(f"  SQL statements per filing: {sum(per_filing.values()):.1f} (and BEGIN, COMMIT, the pool's ping)")
    for sql, count in sorted(per_filing.items(), key=lambda kv: -kv[1]):
        print(f"    {count:5.2f}  {sql}")
    print("  CPU ms per filing by part (nested parts are inside the ones above them):")
    for module, name in PARTS:
        print(f"    {1000 * spent[f'{module}.{name}'] / n:6.2f}  {module}.{name}")
    if args.top:
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
