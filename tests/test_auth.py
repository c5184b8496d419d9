"""Signing in and out: the session is renewed at sign-in, ends after 30 idle minutes, sign-in attempts are limited
per username, locked after repeated failures, and every signed-in user can change their password."""

from __future__ import annotations

import time

import pytest

from app.extensions import db
from tests.conftest import PASSWORD, REDIS_URL, make_user, needs_redis


def _session_cookie(client) -> str | None:
    """The value of the client's session cookie."""
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_the_session_cookie_is_replaced_at_sign_in_and_old_contents_are_dropped(client, auth):
    user = make_user("clerk", "clerk1")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    before = _session_cookie(client)
    assert before
    resp = auth.login(user.username)
    assert resp.status_code == 302
    after = _session_cookie(client)
    assert after and after != before
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("_user_id") == str(user.id)
    assert "Expires=" in resp.headers["Set-Cookie"]  # a permanent session with a lifetime


def test_an_idle_session_is_signed_out_after_thirty_minutes(client, auth):
    auth.as_role("clerk")
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 29 * 60
    assert client.get("/staff/").status_code == 200  # still inside the limit, and the visit renews it
    with client.session_transaction() as session:
        assert session["last_seen"] >= int(time.time()) - 5
        session["last_seen"] = int(time.time()) - 31 * 60
    resp = client.get("/staff/")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert client.get("/staff/").status_code == 302  # and it stays signed out


def test_the_idle_limit_follows_the_configuration(client, auth, app):
    auth.as_role("mediator")
    saved = app.config["IDLE_TIMEOUT_MINUTES"]
    app.config["IDLE_TIMEOUT_MINUTES"] = 5
    try:
        with client.session_transaction() as session:
            session["last_seen"] = int(time.time()) - 6 * 60
        assert client.get("/staff/").status_code == 302
    finally:
        app.config["IDLE_TIMEOUT_MINUTES"] = saved


def test_sign_in_attempts_are_limited_per_username_whatever_the_address(client, auth):
    make_user("clerk", "target")
    for n in range(10):
        resp = client.post(
            "/auth/login",
            data={"username": "ghost", "password": "guess"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
        )
        assert resp.status_code == 200
    blocked = client.post(
        "/auth/login", data={"username": "Ghost ", "password": "guess"}, environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )
    assert blocked.status_code == 429
    other = client.post(
        "/auth/login", data={"username": "target", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.1.2"}
    )
    assert other.status_code == 302  # another account is not affected


def test_five_failures_lock_the_account_even_for_the_right_password(client, auth):
    user = make_user("supervisor", "boss")
    for _ in range(4):
        assert "用户名或密码不正确" in auth.login("boss", "wrong").get_data(as_text=True)
    assert "锁定" in auth.login("boss", "wrong").get_data(as_text=True)  # the fifth failure locks
    html = auth.login("boss").get_data(as_text=True)
    assert "锁定" in html
    db.session.refresh(user)
    assert user.locked_until is not None


def test_a_deactivated_account_cannot_sign_in(client, auth):
    user = make_user("clerk", "gone")
    user.active = False
    db.session.commit()
    resp = auth.login("gone")
    assert resp.status_code == 200 and "不正确" in resp.get_data(as_text=True)


def test_a_deactivated_account_loses_its_open_session(client, auth):
    user = auth.as_role("clerk")
    assert client.get("/staff/").status_code == 200
    user.active = False
    db.session.commit()
    from flask import g

    g.pop("_login_user", None)
    assert client.get("/staff/").status_code == 302


def test_a_user_changes_their_password(client, auth):
    user = auth.as_role("mediator")
    page = client.get("/auth/password")
    assert page.status_code == 200 and "当前密码" in page.get_data(as_text=True)
    wrong = client.post(
        "/auth/password", data={"current": "nope", "new": "a-new-long-password", "confirm": "a-new-long-password"}
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    mismatch = client.post(
        "/auth/password", data={"current": PASSWORD, "new": "a-new-long-password", "confirm": "something-else"}
    )
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    short = client.post("/auth/password", data={"current": PASSWORD, "new": "short", "confirm": "short"})
    assert short.status_code == 422 and "至少10个字符" in short.get_data(as_text=True)
    ok = client.post(
        "/auth/password", data={"current": PASSWORD, "new": "a-new-long-password", "confirm": "a-new-long-password"}
    )
    assert ok.status_code == 302
    auth.logout()
    assert auth.login(user.username).status_code == 200  # the old password no longer works
    assert auth.login(user.username, "a-new-long-password").status_code == 302


def test_an_operator_liaison_may_change_their_password_too(client, auth):
    auth.as_role("operator")
    assert client.get("/auth/password").status_code == 200


def test_the_password_page_needs_a_signed_in_user(client):
    resp = client.get("/auth/password")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]


@pytest.fixture
def redis_limited_app(app):
    """A second app whose rate limits live in Redis, as in production (the limiter's storage is restored after)."""
    from app import create_app
    from app.extensions import limiter

    saved = (limiter._storage, limiter._limiter)
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "REDIS_URL": None,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test-secret",
        }
    )
    limiter.reset()
    yield other
    limiter.reset()
    limiter._storage, limiter._limiter = saved


@needs_redis
def test_the_per_username_limit_is_kept_in_redis_so_every_worker_sees_it(redis_limited_app):
    import redis

    make_user("clerk", "target")
    with redis_limited_app.app_context():
        workers = [redis_limited_app.test_client() for _ in range(2)]
        for n in range(10):
            resp = workers[n % 2].post(
                "/auth/login",
                data={"username": "target", "password": "guess"},
                environ_base={"REMOTE_ADDR": f"10.0.2.{n}"},
            )
            assert resp.status_code == 200
        blocked = workers[0].post(
            "/auth/login", data={"username": "target", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.3.1"}
        )
        assert blocked.status_code == 429
        keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).keys("LIMITS*")]
        assert any("login-user:target" in k for k in keys), keys
        db.session.remove()
