"""TRUSTED_PROXIES: behind a reverse proxy the client's address comes from X-Forwarded-For, and only then."""

from __future__ import annotations

from flask import request

from app import create_app, permissions


def _seen(trusted: int, tmp_path, monkeypatch) -> dict:
    monkeypatch.setitem(permissions.ROUTES, "whoami", permissions.PUBLIC)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}",
            "TRUSTED_PROXIES": trusted,
            "SECRET_KEY": "x",
        }
    )

    @app.get("/_whoami")
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "ts.example.cn"}
    resp = app.test_client().get("/_whoami", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert resp.status_code == 200, resp.data[:300]
    return resp.json


def test_forwarded_headers_count_only_from_a_trusted_proxy(tmp_path, monkeypatch):
    assert _seen(0, tmp_path, monkeypatch) == {"addr": "10.0.0.2", "scheme": "http", "host": "localhost"}
    assert _seen(1, tmp_path, monkeypatch) == {"addr": "203.0.113.7", "scheme": "https", "host": "ts.example.cn"}
