"""Benchmark of the bulletin on PostgreSQL: import rate and rollup time inside a database of many appeals.

    make bench                                   # 200,000 appeals (a few minutes)
    BENCH_APPEALS=1000000 make bench             # one million appeals
    .venv/bin/python scripts/bench_bulletin.py --appeals 1000000 --import-lines 200000

It uses its own database (BENCH_DATABASE_URL, default .../bench_bulletin, created
and emptied here), fills it with SQL (appeals over five years with their events,
contacts, materials and deadlines), then measures:
  1. the import of a contacts/materials-heavy JSON Lines file (records/s; target >= 10,000);
  2. the rollup of 2022H2 (`cases.statistics.compute`, best of 3) next to one
     hand-written SQL aggregate of the headline figures over the same rows (the floor);
     targets: rollup <= 2x the floor and < 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_bulletin"
CST = dt.timezone(dt.timedelta(hours=8))

FILL_SQL = """
INSERT INTO appeal (case_no, status, outcome, version, access_code_hash, channel, complainant_name, phone, id_number,
                    address, postcode, email, operator_id, service_type, service_number, category, request, facts,
                    received_at, accepted_at, closed_at, overdue, updated_at, operator_ticket_no)
SELECT 'BX' || lpad(g::text, 9, '0'), 'closed', CASE WHEN g % 2 = 0 THEN 'settled' ELSE 'acknowledged' END, 1, '',
       'online', '张三', '139' || lpad((g % 100000000)::text, 8, '0'), '', '', '', '',
       (SELECT min(id) FROM operator) + (g % 8),
       'mobile', '139' || lpad((g % 100000000)::text, 8, '0'),
       (ARRAY['service','charging','marketing','network','porting','security','other'])[1 + g % 7], '', '',
       timestamp '2020-01-01' + (g::float / :n) * interval '1826 days',
       timestamp '2020-01-01' + (g::float / :n) * interval '1826 days' + interval '2 days',
       timestamp '2020-01-01' + (g::float / :n) * interval '1826 days' + interval '1 day' * (3 + g % 20),
       false, now(), ''
FROM generate_series(1, :n) AS g;

INSERT INTO case_event (appeal_id, action, from_state, to_state, at, actor_kind, details, public_message, internal)
SELECT a.id, s.action, s.from_state, s.to_state, a.received_at + s.offset_days * interval '1 day', 'import',
       CASE WHEN s.action = 'reject' THEN '{"ground": "art11_1"}'::jsonb ELSE '{}'::jsonb END, '', false
FROM appeal a
JOIN (VALUES ('submit', NULL, 'received', 0.0), ('accept', 'received', 'accepted', 2.0),
             ('refer', 'accepted', 'referred', 2.1), ('reply', 'referred', 'replied', 5.0)) AS s(action, from_state, to_state, offset_days)
  ON true;

INSERT INTO case_event (appeal_id, action, from_state, to_state, at, actor_kind, details, public_message, internal)
SELECT a.id, CASE WHEN a.outcome = 'settled' THEN 'settle' ELSE 'acknowledge' END, 'replied',
       CASE WHEN a.outcome = 'settled' THEN 'settled' ELSE 'closed' END, a.closed_at, 'import', '{}'::jsonb, '', false
FROM appeal a;

INSERT INTO deadline (appeal_id, kind, started_at, due_at, stopped_at, met)
SELECT a.id, k.kind, a.received_at, a.received_at + k.days * interval '1 day',
       a.received_at + (CASE WHEN k.kind = 'decision' THEN 2 ELSE 5 END) * interval '1 day', (a.id % 10) <> 0
FROM appeal a JOIN (VALUES ('decision', 7), ('operator_reply', 10)) AS k(kind, days) ON true;

INSERT INTO contact (channel, at, person_name, phone, topic, notes, answer, callee)
SELECT (ARRAY['phone_consultation','callback','callback','callback','callback','visit'])[1 + g % 6],
       timestamp '2020-01-01' + (g::float / (:n * 5)) * interval '1826 days', '', '', '', '', '', ''
FROM generate_series(1, :n * 5) AS g;

INSERT INTO material (appeal_id, original_name, size, mime_type, sha256, received_at, source)
SELECT a.id, 'm.jpg', 1000, '', md5(a.id::text || '-' || m) || md5(m::text), a.received_at + m * interval '1 hour', 'legacy'
FROM appeal a JOIN generate_series(1, 2) AS m ON true;
"""

FLOOR_SQL = """
SELECT
  (SELECT count(*) FROM contact WHERE channel = 'phone_consultation' AND at >= :s AND at < :e),
  (SELECT count(*) FROM contact WHERE channel = 'callback' AND at >= :s AND at < :e),
  (SELECT count(*) FROM contact WHERE channel = 'visit' AND at >= :s AND at < :e),
  (SELECT count(*) FROM material WHERE received_at >= :s AND received_at < :e),
  (SELECT count(*) FROM case_event WHERE action = 'accept' AND at >= :s AND at < :e),
  (SELECT count(*) FROM case_event e JOIN appeal a ON a.id = e.appeal_id JOIN operator o ON o.id = a.operator_id
    WHERE e.action = 'accept' AND e.at >= :s AND e.at < :e AND o.operator_type = 'basic'),
  (SELECT count(*) FROM case_event WHERE action = 'settle' AND at >= :s AND at < :e)
"""


def ensure_database(url: str) -> None:
    """Create the bench database when it is missing."""
    import psycopg

    base, name = url.replace("+psycopg", "").rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def write_import_file(path: Path, lines: int, appeals_per_100: int = 1, prefix: str = "IM") -> int:
    """A file of 2024H2: per 100 lines `appeals_per_100` appeals, 60 contacts and the rest materials of those appeals."""
    start = dt.datetime(2024, 7, 1, 8, 0, tzinfo=CST)
    channels = ("phone_consultation", "callback", "callback", "visit")
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        for block in range(lines // 100):
            at = start + dt.timedelta(minutes=block)
            cases = []
            for k in range(appeals_per_100):
                case_no = f"{prefix}2024-{block * appeals_per_100 + k + 1:06d}"
                cases.append(case_no)
                rec = {
                    "kind": "appeal",
                    "case_no": case_no,
                    "received_at": at.isoformat(),
                    "operator": "cmcc_jl",
                    "category": "charging",
                    "service_type": "mobile",
                    "complainant": {"name": "王五", "phone": "13900000000"},
                    "events": [
                        {"action": "accept", "at": (at + dt.timedelta(days=1)).isoformat()},
                        {"action": "refer", "at": (at + dt.timedelta(days=1, hours=1)).isoformat()},
                    ],
                }
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            for k in range(60):
                rec = {
                    "kind": "contact",
                    "channel": channels[k % 4],
                    "at": at.isoformat(),
                    "notes": f"{prefix}{block}-{k}",
                }
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            for k in range(40 - appeals_per_100):
                rec = {
                    "kind": "material",
                    "case_no": cases[k % appeals_per_100],
                    "received_at": (at + dt.timedelta(minutes=k)).isoformat(),
                    "filename": f"{k}.jpg",
                    "size": 100 + k,
                    "sha256": hashlib.sha256(f"{prefix}{block}/{k}".encode()).hexdigest(),
                }
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            written += 100
    return written


def best_of(n: int, fn) -> float:
    """The best wall time of n runs, after one run to warm the caches."""
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    """Fill, import, roll up, and print the figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=int(os.environ.get("BENCH_APPEALS", 200_000)))
    parser.add_argument("--import-lines", type=int, default=int(os.environ.get("BENCH_IMPORT_LINES", 100_000)))
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="keep a database filled by an earlier run of this size")
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        raise SystemExit("the benchmark runs on PostgreSQL (BENCH_DATABASE_URL)")
    ensure_database(args.url)
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-instance-"))

    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from cases import importer, reference, statistics
    from cases.bulletin import Period
    from workflows import replay

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "REDIS_URL": None, "TESTING": True})
    with app.app_context():
        t = time.perf_counter()
        have = 0
        if args.reuse and sa.inspect(db.engine).has_table("appeal"):
            have = db.session.scalar(sa.text("SELECT count(*) FROM appeal WHERE case_no LIKE 'BX%'"))
        if have == args.appeals:  # reused: add any index declared since it was filled
            for table in db.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(db.engine, checkfirst=True)
        else:
            db.drop_all()
            db.create_all()
            reference.ensure_reference_data()
            for statement in FILL_SQL.split(";\n"):
                if statement.strip():
                    db.session.execute(sa.text(statement), {"n": args.appeals})
            db.session.commit()
        fill = time.perf_counter() - t
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        counts = {
            t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
            for t in ("appeal", "case_event", "contact", "material", "deadline")
        }
        print(f"database: {', '.join(f'{v:,} {k}' for k, v in counts.items())} (filled in {fill:.1f} s)")

        rates = {}
        run = "".join(random.choice(string.ascii_uppercase) for _ in range(3))  # fresh case numbers per run
        mixes = (
            ("contacts/materials-heavy (1% appeals)", 1, "M" + run),
            ("seed-like mix (12% appeals)", 12, "N" + run),
        )
        for label, per_100, prefix in mixes:  # both in 2024H2, outside the period rolled up below
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "import.jsonl"
                lines = write_import_file(path, args.import_lines, per_100, prefix)
                with path.open(encoding="utf-8") as fh:
                    report = importer.import_records(fh, replay.replay_events, replay.check_events)
            assert report.ok, report.errors[:5]
            rates[per_100] = report.records_per_second
            print(
                f"import, {label}: {lines:,} lines ({dict(report.added)}) in {report.seconds:.2f} s"
                f" = {report.records_per_second:,.0f} records/s"
            )
        rate = rates[1]

        p = Period.parse("2022H2")
        params = {"s": p.start_utc, "e": p.end_utc}
        rollup = best_of(3, lambda: statistics.compute(p.start_utc, p.end_utc, p))
        floor = best_of(3, lambda: db.session.execute(sa.text(FLOOR_SQL), params).one())
        figures = statistics.compute(p.start_utc, p.end_utc, p)
        print(
            f"rollup 2022H2: {rollup:.3f} s (accepted {figures['appeals_accepted']:,}, "
            f"contacts {figures['phone_consultations'] + figures['callbacks'] + figures['visits']:,}); "
            f"hand-written SQL floor: {floor:.3f} s; ratio {rollup / floor:.2f}x"
        )
    ok_import = rate >= 10_000
    ok_rollup = rollup <= 2 * floor and rollup < 5
    print(
        f"targets: import (contacts/materials-heavy) >= 10,000 records/s: {'PASS' if ok_import else 'FAIL'}; ", end=""
    )
    print(f"rollup <= 2x floor and < 5 s: {'PASS' if ok_rollup else 'FAIL'}")
    return 0 if ok_import and ok_rollup else 1


if __name__ == "__main__":
    raise SystemExit(main())
