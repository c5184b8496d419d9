"""The declared API's CPU, measured in one process against floors taken in the same run (issue 10).

    .venv/bin/python scripts/bench_api.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_api
    .venv/bin/python scripts/bench_api.py --filings 500 --examples 20000

The database at --url is emptied and created afresh (SQLite in a temporary folder without --url).

1. Requests, in the web worker's process (Flask's test client, one thread, no network): the CPU
   (`time.process_time`) of `POST /api/v1/appeals` per filing, next to the floor `GET /api/v1/health`,
   and the same trivial answer from an undeclared Flask view under /api/v1 (what the declaration costs a
   request). In-process figures leave out the HTTP server's own CPU (gunicorn's parsing and writing), which
   `make bench` (scripts/bench_intake.py, wrk against gunicorn) includes in its floor: the ratio here is the
   stricter one. With SQLite the database's CPU is in the process too: use PostgreSQL (--url).
   Rounds take turns (so a neighbour's load on a shared machine falls on all alike); each figure is the
   median of the rounds, with the rounds' spread as the noise. Nothing may be lost: 201 answers = rows =
   submit events. The filing is measured twice, with the single INSERT of a new case
   (`cases.intake.write_new_case`, PostgreSQL: the case number taken in it, in autocommit, one round trip) and
   without it (the ORM's flush in the view's transaction, after a `nextval`), to show what it saves. Also the wall-clock p50/p95/p99 of a filing and the filings per second of the one thread.
   The database server's CPU is not in these figures (it is another process).
2. Validation alone, per body (the libraries compared when choosing): the declared pydantic model
   (`app.api.models.AppealInput`, with its rules hook), a plain pydantic model of the same fields, and
   marshmallow's schema of the same fields (when installed: requirements-dev.txt).

The issue's target: a filing's CPU at most 3.5 x the floor route's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import statistics as stats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

TARGET_RATIO = 3.5
ELIGIBLE = {
    "complained_to_operator": True,
    "operator_replied": True,
    "satisfied": False,
    "court_or_arbitration": False,
    "settled_and_performed": False,
}


def appeal_body(n: int, today: dt.date) -> dict:
    """A valid appeal, its phone numbered n."""
    return {
        "complainant_name": "张三",
        "phone": f"138{n:08d}",
        "id_number": "",
        "address": "吉林省长春市朝阳区人民大街1号",
        "postcode": "130000",
        "email": "",
        "operator": "cmcc_jl",
        "service_type": "mobile",
        "service_number": "13800138000",
        "category": "charging",
        "event_date": (today - dt.timedelta(days=30)).isoformat(),
        "operator_complaint_date": (today - dt.timedelta(days=20)).isoformat(),
        "operator_ticket_no": "GD20261105001",
        "request": "退还多扣的话费50元",
        "facts": "10月话费账单多扣50元，已向客服投诉，答复不予退还。" * 4,
        "pledge": True,
        "eligibility": dict(ELIGIBLE),
    }


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database named by the URL when it does not exist yet."""
    import psycopg

    target = sa.engine.make_url(url)
    server = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{target.database}"')


def make_app(url: str | None, folder: Path):
    """The app on a fresh schema with the reference data; rate limits off (the benchmark files fast)."""
    if url and url.startswith("postgresql"):
        ensure_database(url)
    os.environ["INSTANCE_PATH"] = str(folder / "instance")
    from app import create_app, permissions
    from app.extensions import db
    from cases import reference

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder / 'bench.db'}",
            "UPLOAD_FOLDER": str(folder / "uploads"),
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
            "SECRET_KEY": "bench",
        }
    )

    def plain_health():
        from flask import jsonify

        return jsonify(status="ok")

    app.add_url_rule("/api/v1/_bench-plain-health", "bench_plain_health", plain_health)
    permissions.ROUTES["bench_plain_health"] = permissions.PUBLIC  # this run's extra route, open like the floor
    with app.app_context():
        db.drop_all()
        db.create_all()
        reference.ensure_reference_data()
        db.session.commit()
    return app


def cpu_per_request(client, send, n: int) -> tuple[float, list[float]]:
    """CPU seconds per request over n requests, and each request's wall time."""
    walls = []
    cpu0 = time.process_time()
    for i in range(n):
        t0 = time.perf_counter()
        send(client, i)
        walls.append(time.perf_counter() - t0)
    return (time.process_time() - cpu0) / n, walls


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_requests(url: str | None, filings: int, rounds: int) -> dict:
    from app.extensions import db
    from cases.models import Appeal, CaseEvent

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, Path(tmp))
        client = app.test_client()
        today = dt.date.today()
        counter = {"n": 0, "created": 0}

        def health(c, i):
            assert c.get("/api/v1/health").status_code == 200

        def plain(c, i):
            assert c.get("/api/v1/_bench-plain-health").status_code == 200

        def filing(c, i):
            counter["n"] += 1
            resp = c.post("/api/v1/appeals", json=appeal_body(counter["n"], today))
            assert resp.status_code == 201, resp.get_data()[:300]
            counter["created"] += 1

        from cases import intake

        file_alone, single_insert = intake.file_appeal, intake.write_new_case

        def filing_orm(c, i):  # the same filing with the single INSERT off: the ORM's flush at the view's commit
            intake.file_appeal = lambda *args, alone=False, **kwargs: file_alone(*args, **kwargs)
            intake.write_new_case = lambda appeal, alone=False: None
            try:
                filing(c, i)
            finally:
                intake.file_appeal, intake.write_new_case = file_alone, single_insert

        for send in (health, plain, filing, filing_orm):  # warm every path once (imports, caches, prepared statements)
            cpu_per_request(client, send, 20)
        per = filings // rounds
        figures: dict[str, list[float]] = {"health": [], "plain": [], "filing": [], "filing_orm": []}
        walls: list[float] = []
        wall_total = 0.0
        for _ in range(rounds):
            figures["health"].append(cpu_per_request(client, health, per * 3)[0])
            figures["plain"].append(cpu_per_request(client, plain, per * 3)[0])
            t0 = time.perf_counter()
            cpu, w = cpu_per_request(client, filing, per)
            wall_total += time.perf_counter() - t0
            figures["filing"].append(cpu)
            walls += w
            figures["filing_orm"].append(cpu_per_request(client, filing_orm, per)[0])
        with app.app_context():
            rows = db.session.scalar(sa.select(sa.func.count(Appeal.id)))
            submits = db.session.scalar(sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.action == "submit"))
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    med = {k: stats.median(v) for k, v in figures.items()}
    spread = {k: max(v) - min(v) for k, v in figures.items()}
    return {
        "median": med,
        "spread": spread,
        "answers_201": counter["created"],
        "rows": rows,
        "submit_events": submits,
        "p50": pct(walls, 0.50),
        "p95": pct(walls, 0.95),
        "p99": pct(walls, 0.99),
        "throughput": len(walls) / wall_total,
        "database": "sqlite" if url is None else url.split("@")[-1],
    }


def bench_validation(examples: int) -> dict[str, float | None]:
    """Microseconds to validate one appeal body with each library."""
    from pydantic import BaseModel, StrictBool, StrictStr

    from app.api.models import AppealInput

    body = appeal_body(1, dt.date(2026, 11, 20))

    class PlainEligibility(BaseModel):
        complained_to_operator: StrictBool | None
        operator_replied: StrictBool | None
        satisfied: StrictBool | None = None
        court_or_arbitration: StrictBool | None
        settled_and_performed: StrictBool | None

    fields = {name: (StrictStr, ...) for name in body if name not in ("pledge", "eligibility", "id_number", "email")}
    from pydantic import create_model

    plain = create_model(
        "PlainAppeal",
        **fields,
        id_number=(StrictStr | None, None),
        email=(StrictStr | None, None),
        pledge=(bool, ...),
        eligibility=(PlainEligibility, ...),
    )

    def timed(fn) -> float:
        for _ in range(200):
            fn()
        best = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(examples // 5):
                fn()
            best.append((time.perf_counter() - t0) / (examples // 5))
        return min(best) * 1e6

    out: dict[str, float | None] = {
        "pydantic (declared AppealInput)": timed(lambda: AppealInput.model_validate(body)),
        "pydantic (plain model)": timed(lambda: plain.model_validate(body)),
    }
    try:
        from marshmallow import Schema
        from marshmallow import fields as mf
    except ImportError:
        out["marshmallow"] = None
        return out

    class EligibilitySchema(Schema):
        complained_to_operator = mf.Boolean(allow_none=True, required=True)
        operator_replied = mf.Boolean(allow_none=True, required=True)
        satisfied = mf.Boolean(allow_none=True)
        court_or_arbitration = mf.Boolean(allow_none=True, required=True)
        settled_and_performed = mf.Boolean(allow_none=True, required=True)

    schema_fields = {name: mf.String(required=True) for name in fields}
    schema_fields.update(
        id_number=mf.String(allow_none=True),
        email=mf.String(allow_none=True),
        pledge=mf.Boolean(required=True),
        eligibility=mf.Nested(EligibilitySchema, required=True),
    )
    schema = Schema.from_dict(schema_fields)()
    out["marshmallow " + importlib.metadata.version("marshmallow")] = timed(lambda: schema.load(body))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="database URL (emptied!); SQLite in a temporary folder by default")
    parser.add_argument("--filings", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--no-validation", action="store_true", help="skip the validation micro-benchmark")
    args = parser.parse_args()

    r = bench_requests(args.url, args.filings, args.rounds)
    med, spread = r["median"], r["spread"]
    print(f"== requests in one process ({r['database']}), median of {args.rounds} rounds (± spread) ==")
    for key, label in (
        ("plain", "GET plain Flask view (undeclared)"),
        ("health", "GET /api/v1/health (floor)"),
        ("filing", "POST /api/v1/appeals"),
        ("filing_orm", "  the same, ORM flush (no 1 INSERT)"),
    ):
        print(f"  {label:<36} {med[key] * 1e3:7.3f} ms CPU  (± {spread[key] * 1e3:.3f})")
    ratio = med["filing"] / med["health"]
    saving = 1 - med["filing"] / med["filing_orm"]
    print(f"  the single INSERT saves              {saving * 100:7.1f} % of a filing's CPU (kept when >= 15 %)")
    print(f"  declaration overhead per request     {(med['health'] - med['plain']) * 1e6:7.1f} µs CPU")
    met = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"  filing / floor                       {ratio:7.2f} x   (target <= {TARGET_RATIO} x: {met})")
    print(
        f"  filing wall p50/p95/p99              {r['p50'] * 1e3:.2f} / {r['p95'] * 1e3:.2f} / {r['p99'] * 1e3:.2f} ms"
    )
    print(f"  throughput (one thread)              {r['throughput']:7.1f} filings/s")
    lost = not (r["answers_201"] == r["rows"] == r["submit_events"])
    print(
        f"  answers 201 / rows / submit events   {r['answers_201']} / {r['rows']} / {r['submit_events']}"
        + ("  LOST" if lost else "  (nothing lost)")
    )
    print("== validating one appeal body ==")
    for name, micro in ({} if args.no_validation else bench_validation(args.examples)).items():
        print(f"  {name:<36} " + (f"{micro:7.1f} µs" if micro is not None else "   (not installed)"))
    if lost:
        sys.exit(1)


if __name__ == "__main__":
    main()
