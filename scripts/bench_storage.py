"""Sizing figures for docs/DEPLOYMENT.md: a 20 MB upload to S3-compatible storage vs the local folder, and the
database size per 100,000 appeals with their events.

1. gunicorn (1 sync worker) on SQLite, once with the local upload folder (the floor), once with
   MATERIALS_STORAGE=s3://… on moto's S3 server (.venv-s3, `make test` builds it): a 20 MB PDF is
   uploaded and the worker's resident memory is read before and after. Target: < 5 MB growth for both.
2. `scripts/generate_history.py --appeals N` (default 100,000) into a scratch PostgreSQL database, then
   the database's size against the same database migrated but empty (the floor), per 100,000 appeals.

    .venv/bin/python scripts/bench_storage.py [--appeals 100000] [--skip-size]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from bench_intake import upload_memory, wait_for, workers_rss_kb
from bench_results import record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SIZE_DB = os.environ.get("BENCH_SIZE_DATABASE", "appeals_bench_size")
PART = "storage and sizing"


def _upload_growth(env: dict, port: int) -> tuple[int, int]:
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/api/v1/health")
        workers_rss_kb(proc.pid)
        return upload_memory(base, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def upload_figures() -> None:
    from tests import s3_server

    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "INSTANCE_PATH": str(work / "instance"),
        "UPLOAD_FOLDER": str(work / "uploads"),
        "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": "0",
    }
    env.pop("REDIS_URL", None)
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "flask"), "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    moto, endpoint = s3_server.start()
    try:
        local_before, local_after = _upload_growth(env, s3_server.free_port())
        s3_env = {
            **env,
            "MATERIALS_STORAGE": "s3://bench-materials/appeals",
            "S3_ENDPOINT_URL": endpoint,
            "S3_ACCESS_KEY_ID": "bench",
            "S3_SECRET_ACCESS_KEY": "bench",
            "UPLOAD_SPOOL_FOLDER": str(work / "spool"),
        }
        from minio import Minio

        Minio(endpoint.split("//", 1)[1], "bench", "bench", secure=False).make_bucket("bench-materials")
        s3_before, s3_after = _upload_growth(s3_env, s3_server.free_port())
    finally:
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    local_mb = (local_after - local_before) / 1024
    s3_mb = (s3_after - s3_before) / 1024
    record(PART, "20 MB upload, worker memory, local folder (floor)", f"+{local_mb:.1f} MB", "< 5 MB", local_mb < 5)
    record(PART, "20 MB upload, worker memory, S3 (moto)", f"+{s3_mb:.1f} MB", "< 5 MB", s3_mb < 5)
    print(f"  20 MB upload, gunicorn worker memory: local folder +{local_mb:.1f} MB (floor), S3 +{s3_mb:.1f} MB;")
    print(f"  target < 5 MB -> {'MET' if s3_mb < 5 and local_mb < 5 else 'NOT MET'}")


def size_figures(appeals: int) -> None:
    url = f"{PG}/{SIZE_DB}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SIZE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SIZE_DB}")
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp()}
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with psycopg.connect(url) as conn:
        empty = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    subprocess.run(
        [
            str(BIN / "python"),
            "scripts/generate_history.py",
            "--appeals",
            str(appeals),
            "--url",
            url.replace("postgresql://", "postgresql+psycopg://"),
        ],
        cwd=ROOT,
        check=True,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        full = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("appeal", "case_event", "contact", "material")
        }
    per = (full - empty) * 100_000 / max(counts["appeal"], 1) / 1024**2
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SIZE_DB} WITH (FORCE)")
    detail = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    record(PART, "database size per 100,000 appeals (with events, contacts, materials' rows)", f"{per:,.0f} MB")
    print(f"  database: {empty / 1024**2:.0f} MB empty (floor), {full / 1024**2:,.0f} MB with {detail}")
    print(f"  -> {per:,.0f} MB per 100,000 appeals with their events")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--appeals", type=int, default=100_000)
    ap.add_argument("--skip-size", action="store_true")
    args = ap.parse_args()
    print("== storage and sizing ==")
    upload_figures()
    if not args.skip_size:
        size_figures(args.appeals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
