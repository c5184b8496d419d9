"""The database unreachable: pages and the API answer 503 with a clear message, and recover by themselves.

A small TCP relay on loopback stands between the app and PostgreSQL, so the test
can cut the connection and restore it without touching the real server.
"""

from __future__ import annotations

import socket
import threading

import pytest

from tests.conftest import DB_URL, PASSWORD, on_postgres

pytestmark = pytest.mark.skipif(not on_postgres, reason="needs PostgreSQL over TCP")


class Relay:
    """Forwards loopback connections to PostgreSQL until cut; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_port: int = 5432):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_pages_and_api_answer_503_while_the_database_is_away_and_recover(app):
    from app import create_app
    from tests.conftest import make_user

    make_user("clerk", "clerk_fault")
    relay = Relay()
    url = DB_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = other.test_client()
    try:
        login = {"username": "clerk_fault", "password": PASSWORD}
        assert client.post("/auth/login", data=login).status_code == 302

        relay.cut()
        page = client.get("/staff/")
        assert page.status_code == 503
        assert "数据库" in page.get_data(as_text=True)
        api = client.get("/api/v1/cases", headers={"Authorization": "Bearer x"})
        assert api.status_code == 503 and "error" in api.get_json()

        relay.restore()
        assert client.get("/staff/").status_code == 200
    finally:
        relay.close()
        with other.app_context():
            from app.extensions import db

            db.engine.dispose()
