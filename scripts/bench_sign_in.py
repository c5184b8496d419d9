"""Phone sign-in answers in the same time whether or not the number has appeals (issue 11).

    .venv/bin/python scripts/bench_sign_in.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_sign_in \
        --redis redis://127.0.0.1:6379/14

`POST /my/sign-in` for numbers with appeals and for numbers without, in rounds that take turns (a neighbour's
load on the shared machine falls on both alike); each figure is the median of the rounds, with the rounds'
spread (max - min) as the noise. With Redis the sending job goes to rq (as in production), so the request does
the same work either way; the floor is the same request for a number refused by the per-number limit. The
verdict: the two arms differ by less than the noise. Without --redis, jobs run inline after the commit (the
`make run` default) and the SMS of a number with appeals is sent inside the request: the script says so.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_machinery import report, rounds  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_sign_in"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=20)
    args = parser.parse_args()

    import sqlalchemy as sa
    from redis import Redis

    from app import create_app
    from app.extensions import db, limiter
    from cases import reference
    from tests.factories import make_appeal

    if args.url.startswith("postgresql"):
        import psycopg

        server, name = args.url.replace("+psycopg", "").rsplit("/", 1)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    if args.redis:
        Redis.from_url(args.redis).flushdb()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.url,
            "REDIS_URL": args.redis or None,
            "RATELIMIT_STORAGE_URI": args.redis or "memory://",
            "WTF_CSRF_ENABLED": False,
            "SMS_DEV_BACKEND": True,
            "SMS_GATEWAY_URL": "",
        }
    )
    total = (args.rounds + 2) * args.per_round
    with app.app_context():
        db.drop_all()
        db.create_all()
        reference.ensure_reference_data()
        known = [f"135{n:08d}" for n in range(total)]
        for phone in known:
            make_appeal(phone=phone)
        db.session.remove()
        limiter.reset()
    unknown = iter(f"137{n:08d}" for n in range(total))
    known_iter = iter(known)
    addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))
    client = app.test_client()

    def ask(numbers):
        def run() -> None:
            # one address a request, so only the per-number limit applies
            resp = client.post(
                "/my/sign-in", data={"phone": next(numbers)}, environ_base={"REMOTE_ADDR": next(addresses)}
            )
            assert resp.status_code == 302, resp.status_code

        return run

    refused_number = "13900000000"

    def refused() -> None:
        resp = client.post("/my/sign-in", data={"phone": refused_number}, environ_base={"REMOTE_ADDR": next(addresses)})
        assert resp.status_code in (302, 429)

    with app.app_context():
        results = rounds(
            {
                "a number with appeals": ask(known_iter),
                "a number without appeals": ask(unknown),
                "floor: refused by the number's limit": refused,
            },
            args.rounds,
            args.per_round,
        )
        sent = db.session.scalar(sa.text("SELECT count(*) FROM notification"))
    summary = report("POST /my/sign-in, per request", results, 1e-3, "ms")
    (k, ks), (u, us) = summary["a number with appeals"], summary["a number without appeals"]
    noise = max(ks, us)
    same = abs(k - u) <= noise
    print(
        f"  -> difference {k - u:+.2f} ms, noise {noise:.2f} ms: "
        + ("the same time within the noise" if same else "NOT the same time")
    )
    mode = "rq (Redis)" if args.redis else "inline (no Redis): the SMS of a number with appeals is sent in the request"
    print(f"  jobs: {mode}; codes kept by the SMS backend so far: {sent}")
    try:
        from bench_results import record

        record("sign-in", "with appeals − without (ms)", f"{k - u:+.2f} (noise {noise:.2f})", "≤ noise", same)
    except Exception as exc:  # noqa: BLE001  (the results table is optional)
        print(f"  (results not recorded: {exc})")


if __name__ == "__main__":
    main()
