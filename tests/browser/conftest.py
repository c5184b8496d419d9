"""Real-browser fixtures: the app served on a loopback port, Debian's Chromium driven by Playwright.

The server has its own database (a SQLite file, or `<test db>_browser` on
PostgreSQL) built by the migrations, with the reference data and known demo
accounts. Screenshots of key pages go to `artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.conftest import DB_URL, PASSWORD, on_postgres

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium")
    pytest.skip("Chromium is not installed: the browser tests are SKIPPED", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")


def _browser_database_url(tmp: Path) -> str:
    if not on_postgres:
        return f"sqlite:///{tmp / 'browser.db'}"
    import psycopg

    name = DB_URL.rsplit("/", 1)[1] + "_browser"
    with psycopg.connect(DB_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return DB_URL.rsplit("/", 1)[0] + "/" + name


class LiveServer:
    """The app on a free loopback port, in a thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app with a migrated database, reference data and one account per role (password: tests.conftest.PASSWORD)."""
    import flask_migrate

    from app import create_app
    from app.extensions import db
    from cases import accounts, reference

    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _browser_database_url(tmp),
            "UPLOAD_FOLDER": str(tmp / "uploads"),
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SECRET_KEY": "browser-test",
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        reference.ensure_reference_data()
        for role in accounts.ROLES:
            accounts.create_user(
                f"b_{role}", PASSWORD, role, f"{role}（测试）", "cmcc_jl" if role == "operator" else None
            )
        db.session.commit()
    server = LiveServer(app)
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(10_000)
    yield p
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot of a key page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(browser, url: str, *, cookies: list[dict] | None = None, impacts=("serious", "critical")) -> list:
    """Run axe-core (from npm) on a page; the serious and critical violations."""
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError("axe-core missing: run `npm ci`")
        pytest.skip("axe-core is not installed (npm ci)")
    context = browser.new_context(locale="zh-CN", bypass_csp=True)
    try:
        if cookies:
            context.add_cookies(cookies)
        p = context.new_page()
        p.goto(url)
        p.add_script_tag(path=str(AXE))
        result = p.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    return [v for v in result["violations"] if v.get("impact") in impacts]
