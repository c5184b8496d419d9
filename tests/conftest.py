"""Fixtures: an app on SQLite or PostgreSQL (TEST_DATABASE_URL), a client, users of each role, appeals.

The schema is created once per run; each test starts from empty tables plus the
reference data. Redis (TEST_REDIS_URL) is used when set; tests that need it are
skipped without it (and `scripts/test.sh` fails the run in CI).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g, request_started

from app import create_app
from app.extensions import db, limiter
from cases import accounts, reference
from cases.models import User
from workflows import calendar

DB_URL = os.environ.get("TEST_DATABASE_URL") or ""
REDIS_URL = os.environ.get("TEST_REDIS_URL") or ""
PASSWORD = "correct horse battery staple"

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set: Redis unavailable")
on_postgres = DB_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def _app_and_schema(tmp_path_factory):
    base = tmp_path_factory.mktemp("appeals")
    os.environ["INSTANCE_PATH"] = str(base / "instance")
    # One access-code key for the test app and every server a test starts (each with its own instance folder),
    # as a deployment sets one for all its nodes (docs/DEPLOYMENT.md).
    os.environ.setdefault("ACCESS_CODE_KEY", "test-access-code-key")
    url = DB_URL or f"sqlite:///{base / 'test.db'}"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(base / "uploads"),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,
            "SERVER_NAME": "localhost",
            "SECRET_KEY": "test-secret",
            "SMS_DEV_BACKEND": False,  # tests that want it turn it on
            "REQUIRE_PHONE_VERIFICATION": False,
            # A test's commit need not wait for the WAL to reach the disk (nothing here must survive a crash).
            **(
                {"SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c jit=off -c synchronous_commit=off"}}}
                if url.startswith("postgresql")
                else {}
            ),
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    for name in tables:  # children first; DELETE of a few rows is several times cheaper than TRUNCATE's new files
        db.session.execute(sa.text(f"DELETE FROM {name}"))
    if db.engine.dialect.name == "postgresql":
        # Ids start at 1 again, as in a new database (SQLite's rowid restarts by itself once a table is empty).
        restart = [f"setval(pg_get_serial_sequence('{t.name}', 'id'), 1, false)" for t in _serial_tables()]
        db.session.execute(sa.text(f"SELECT {', '.join(restart)}"))
        # The case-number sequences (cases/numbering.py) are not tables: each test starts its years afresh.
        for name in db.session.scalars(
            sa.text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^case_no_[0-9]+$'")
        ):
            db.session.execute(sa.text(f"DROP SEQUENCE {name}"))
    db.session.commit()


def _serial_tables() -> list[sa.Table]:
    """The tables whose `id` a sequence gives (PostgreSQL's serial or identity column)."""
    return [
        t
        for t in db.metadata.sorted_tables
        if "id" in t.c and t.c.id.primary_key and t.c.id.autoincrement in (True, "auto") and len(t.primary_key) == 1
    ]


def _forget_identity(sender, **extra) -> None:
    """Each request starts with no cached user: the test's app context (and its `g`) outlives requests."""
    g.pop("_login_user", None)
    g.pop("user", None)


@pytest.fixture
def app(_app_and_schema):
    """The app, in an app context, with empty tables and the reference data."""
    app = _app_and_schema
    request_started.connect(_forget_identity, app)
    with app.app_context():
        _empty_tables()
        reference.ensure_reference_data()
        limiter.reset()
        app.extensions.pop("intake_operators", None)  # cases/intake.py keeps operators a minute; tables are new
        calendar.forget_entered_days()  # and workflows/calendar.py the entered holidays
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_user(role: str, username: str | None = None, operator_code: str | None = None) -> User:
    """Create and commit a user with the test password."""
    if role == "operator" and operator_code is None:
        operator_code = "cmcc_jl"
    user = accounts.create_user(
        username or f"{role}-{operator_code or 'x'}", PASSWORD, role, f"{role} user", operator_code
    )
    db.session.commit()
    return user


class AuthActions:
    """Sign a test client in and out (flaskr's helper)."""

    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str = PASSWORD):
        return self._client.post("/auth/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/auth/logout")

    def as_role(self, role: str, operator_code: str | None = None) -> User:
        user = make_user(role, operator_code=operator_code)
        resp = self.login(user.username)
        assert resp.status_code == 302, resp.data[:500]
        return user


@pytest.fixture
def auth(client):
    return AuthActions(client)


def csrf_token(html: str) -> str:
    """The CSRF token in a rendered form (for tests that run with CSRF on)."""
    m = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert m, "no csrf token in page"
    return m.group(1)


@pytest.fixture
def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


@pytest.fixture
def redis_app(app, monkeypatch):
    """The app with jobs on the real Redis (TEST_REDIS_URL, flushed before and after); rq retries at once."""
    from redis import Redis

    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set: Redis unavailable")
    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_RETRY_INTERVALS", [0])
    yield app
    conn.flushdb()


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3-compatible server's URL (TEST_S3_ENDPOINT, or a moto server started here; tests/s3_server.py)."""
    from tests import s3_server

    if os.environ.get("TEST_S3_ENDPOINT"):
        yield os.environ["TEST_S3_ENDPOINT"]
        return
    try:
        # Parts of 1 MB are allowed so that the multipart path is tested without 5 MB parts.
        proc, endpoint = s3_server.start({"S3_UPLOAD_PART_MIN_SIZE": str(1024 * 1024)})
    except (FileNotFoundError, RuntimeError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no S3-compatible server in CI: {exc}")
        pytest.skip(f"S3 TESTS SKIPPED: {exc}")
    yield endpoint
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def s3_store(app, s3_endpoint, monkeypatch):
    """The app set to store new materials in a fresh bucket of the S3-compatible server; yields that storage."""
    import uuid

    from cases import storage

    bucket = f"materials-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(app.config, "MATERIALS_STORAGE", f"s3://{bucket}/appeals")
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setitem(app.config, "S3_ACCESS_KEY_ID", "test-key")
    monkeypatch.setitem(app.config, "S3_SECRET_ACCESS_KEY", "test-secret")
    store = storage.current()
    store.ensure_bucket()
    yield store
    for key in list(store.keys()):
        store.delete(key)


@pytest.fixture
def migrated(app):
    """An `alembic_version` table (tests make the schema with create_all); the fixture's function writes its revision."""
    db.session.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    db.session.commit()

    def at(revision: str) -> None:
        db.session.execute(sa.text("DELETE FROM alembic_version"))
        db.session.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
        db.session.commit()

    yield at
    db.session.rollback()
    db.session.execute(sa.text("DROP TABLE alembic_version"))
    db.session.commit()
