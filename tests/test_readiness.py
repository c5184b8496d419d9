"""Readiness (`GET /api/v1/ready`, app/readiness.py): the load balancer's question, answered by real checks."""

from __future__ import annotations

from app import create_app, readiness
from tests.conftest import REDIS_URL, needs_redis


def _head(app) -> str:
    return readiness.revisions(app)[0]


def test_a_node_on_the_migrated_database_is_ready(app, client, migrated):
    migrated(_head(app))
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 200
    assert resp.json == {"status": "ready", "checks": {"database": "ok", "redis": "not used", "migrations": "ok"}}
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_node_whose_code_needs_a_migration_that_has_not_run_is_not_ready(app, client, migrated):
    head, known = readiness.revisions(app)
    older = next(r for r in sorted(known) if r != head)
    migrated(older)
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 503
    assert resp.json["errors"] == {"migrations": ["behind"]} and resp.json["error"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_database_upgraded_by_a_newer_release_still_serves_this_one(app, client, migrated):
    migrated("9999_from_a_newer_release")
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 200 and resp.json["checks"]["migrations"] == "newer"


def test_a_database_never_migrated_is_not_ready(client):
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 503 and resp.json["errors"] == {"migrations": ["not migrated"]}
    assert resp.json["error"] == "此服务节点暂不能受理请求。"


def test_the_refusal_is_in_english_when_asked(client):
    resp = client.get("/api/v1/ready", headers={"Accept-Language": "en"})
    assert resp.status_code == 503 and resp.json["error"] == "This node cannot take requests right now."


def test_redis_that_does_not_answer_makes_the_node_not_ready_without_telling_where_it_is(
    app, client, migrated, monkeypatch
):
    migrated(_head(app))
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    resp = client.get("/api/v1/ready")
    assert resp.status_code == 503
    assert resp.json["errors"] == {"redis": ["unreachable"]}
    assert "127.0.0.1" not in resp.get_data(as_text=True)


@needs_redis
def test_a_real_redis_answers(redis_app, migrated):
    migrated(_head(redis_app))
    resp = redis_app.test_client().get("/api/v1/ready")
    assert resp.status_code == 200 and resp.json["checks"]["redis"] == "ok"
    assert REDIS_URL.split("@")[-1] not in resp.get_data(as_text=True)


def test_a_database_that_does_not_answer_makes_the_node_not_ready(tmp_path):
    down = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/appeals",  # nothing listens
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "REDIS_URL": None,
            "SECRET_KEY": "test-secret",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    resp = down.test_client().get("/api/v1/ready")
    assert resp.status_code == 503
    assert resp.json["errors"] == {"database": ["unreachable"], "migrations": ["unknown"]}
    assert "5432" not in resp.get_data(as_text=True) and ":1/" not in resp.get_data(as_text=True)
    assert down.test_client().get("/api/v1/health").status_code == 200  # alive all the same
