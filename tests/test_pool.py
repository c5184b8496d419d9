"""Pooled connections are pinged only after they have sat idle (app/pool.py), and a dead one is replaced."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from tests.conftest import DB_URL, on_postgres


def _app(idle_seconds: float, tmp_path):
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": DB_URL or f"sqlite:///{tmp_path / 'pool.db'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "POOL_PING_IDLE_SECONDS": idle_seconds,
        }
    )


def _pings(app, monkeypatch) -> list[int]:
    pings: list[int] = []
    with app.app_context():
        dialect = db.engine.dialect
        real = dialect.do_ping
        monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(1) or real(conn))
    return pings


def _one_request(app) -> None:
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT 1")) == 1
        db.session.remove()


@pytest.mark.parametrize(
    ("idle_seconds", "pings_expected"),
    [(3600, 0), (0, 3)],
    ids=["handed-back-moments-ago-is-used-without-a-ping", "idle-past-the-window-is-pinged-on-checkout"],
)
def test_a_pooled_connection_is_pinged_only_when_idle_past_the_window(
    tmp_path, monkeypatch, idle_seconds, pings_expected
):
    app = _app(idle_seconds, tmp_path)
    pings = _pings(app, monkeypatch)
    for _ in range(3):
        _one_request(app)
    assert len(pings) == pings_expected
    with app.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not on_postgres, reason="needs a PostgreSQL server to drop the connection")
def test_an_idle_connection_the_server_dropped_is_replaced_before_the_request_uses_it(tmp_path):
    app = _app(0, tmp_path)
    with app.app_context():
        before = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.remove()
        with sa.create_engine(db.engine.url).connect() as admin:  # the server ends the pooled connection
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
        after = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        assert after != before
        db.session.remove()
        db.engine.dispose()
