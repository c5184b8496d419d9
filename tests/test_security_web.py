"""Web security that holds for every route: CSRF on every form, cookie flags, headers, the API ignoring cookies."""

from __future__ import annotations

import re

import flask
import pytest
from werkzeug.routing import IntegerConverter

from app import create_app
from tests.conftest import PASSWORD, make_user
from tests.test_api_public import appeal_body


def _sample_url(rule) -> str:
    """A URL for a rule, with a plausible value for each parameter."""
    values = {}
    for name, conv in rule._converters.items():
        values[name] = 1 if isinstance(conv, IntegerConverter) else "JL2026-000001" if "case" in name else "x"
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), url)
    return url


@pytest.fixture
def csrf_app(_app_and_schema, app):
    """The test app with CSRF protection switched on (the other tests switch it off)."""
    _app_and_schema.config["WTF_CSRF_ENABLED"] = True
    yield _app_and_schema
    _app_and_schema.config["WTF_CSRF_ENABLED"] = False


def test_every_web_form_refuses_a_post_without_the_csrf_token(csrf_app):
    client = csrf_app.test_client()
    posts = [r for r in csrf_app.url_map.iter_rules() if "POST" in r.methods and not r.endpoint.startswith("api.")]
    assert posts, "no POST routes found"
    for rule in posts:
        resp = client.post(_sample_url(rule), data={})
        assert resp.status_code == 400, f"{rule.endpoint} accepted a POST without a CSRF token"


def test_sign_in_renews_the_session_and_sets_safe_cookie_flags(csrf_app):
    make_user("clerk", "clerk_cookie")
    client = csrf_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    before = client.get_cookie("session")
    resp = client.post("/auth/login", data={"csrf_token": token, "username": "clerk_cookie", "password": PASSWORD})
    assert resp.status_code == 302
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert before is None or client.get_cookie("session").value != before.value


def test_secure_cookies_and_hsts_behind_https(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    resp = app.test_client().get("/", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


def test_the_api_does_not_trust_the_session_cookie(client, auth):
    """A signed-in browser session gives no access to the API, so the API needs no CSRF token."""
    auth.as_role("supervisor")
    resp = client.get("/api/v1/cases")
    assert resp.status_code == 401


def test_an_api_request_has_a_null_session_and_never_sets_the_cookie(app, client, auth):
    """Under /api/ the session cookie is neither verified nor written; a write to the session fails loudly."""
    interface = app.session_interface
    with app.test_request_context("/api/v1/health"):
        api_session = interface.open_session(app, flask.request)
        assert interface.is_null_session(api_session)
        with pytest.raises(RuntimeError):
            api_session["user"] = "someone"
    with app.test_request_context("/staff/"):
        assert not interface.is_null_session(interface.open_session(app, flask.request))
    auth.as_role("supervisor")  # a browser signed in to the console files an appeal through the API
    assert "Set-Cookie" in client.get("/staff/").headers  # the console's session is refreshed on each page
    resp = client.post("/api/v1/appeals", json=appeal_body())
    assert resp.status_code == 201 and "Set-Cookie" not in resp.headers
