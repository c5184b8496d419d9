"""The Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from app import config

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    config.check(app.config)
    register_extensions(app)
    from app.public.uploads import UploadRequest

    app.request_class = UploadRequest  # file parts spooled with a cap
    register_converters(app)
    register_blueprints(app)
    register_security(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind N reverse proxies: the client's address (rate limits, logs), scheme and host from the last N
        # X-Forwarded-* entries the proxies set; with 0 (the default) those headers are ignored (docs/DEPLOYMENT.md).
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extension objects to the app."""
    from app import i18n, pool
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate
    from cases import bulletin
    from workflows import consumer_jobs, jobs, outbox, queue, registry

    db.init_app(app)
    pool.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = i18n.translation_directories()
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: app.config["TIME_ZONE"])
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    limiter.init_app(app)
    login_manager.init_app(app)
    bulletin.guard_published()  # a published bulletin revision never changes
    registry.install(app, jobs.REGISTRY, consumer_jobs.REGISTRY)  # the background jobs and periodic tasks
    outbox.init_app(app, enqueue=queue.enqueue_outbox)
    i18n.init_app(app)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` limited to what an INTEGER column holds, so a huge id is a 404, not a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def register_converters(app: Flask) -> None:
    """URL converters shared by every blueprint (before the blueprints add their rules)."""
    app.url_map.converters["int"] = DatabaseIdConverter


def register_blueprints(app: Flask) -> None:
    """Mount the public portal, staff console, operator portal, API and auth."""
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.operator import bp as operator_bp
    from app.public import bp as public_bp
    from app.staff import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(operator_bp, url_prefix="/operator")
    app.register_blueprint(api_bp, url_prefix="/api/v1")


def register_security(app: Flask) -> None:
    """The permission table, identity loading and the security headers."""
    from app import security

    security.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the user's language, JSON errors under /api."""
    from app import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The Flask CLI commands."""
    from app import cli

    cli.init_app(app)
