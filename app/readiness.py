"""Readiness of a web node (`GET /api/v1/ready`): may the load balancer send it requests?

Three checks, each answering a word, never a connection string or an error text:
- `database`: one `SELECT 1` answers (`ok`, else `unreachable`);
- `redis`: `PING` answers when REDIS_URL is set (`ok`, `unreachable`), `not used` without it;
- `migrations`: the database's migration against this code's (`ok` at the same head; `newer` when the database
  was upgraded by a newer release, which still serves this one; `behind` when this code needs a migration
  that has not run, or `not migrated`; `unknown` when the database does not answer).
Ready when the database answers, Redis answers where it is used, and the migrations are `ok` or `newer`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from redis.exceptions import RedisError

from app.extensions import db
from workflows import queue

GOOD = {"database": ("ok",), "redis": ("ok", "not used"), "migrations": ("ok", "newer")}  # a ready node's words


def revisions(app: Flask) -> tuple[str, frozenset[str]]:
    """This code's head revision and every revision it knows, read once per process from migrations/."""
    found = app.extensions.get("readiness_revisions")
    if found is None:
        config = Config()
        config.set_main_option("script_location", app.extensions["migrate"].directory)
        script = ScriptDirectory.from_config(config)
        found = (script.get_current_head(), frozenset(rev.revision for rev in script.walk_revisions()))
        app.extensions["readiness_revisions"] = found
    return found


def _database() -> tuple[str, str | None]:
    """(`ok` or `unreachable`, the database's migration revision or None)."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return "unreachable", None
    if not sa.inspect(db.session.connection()).has_table("alembic_version"):
        return "ok", None  # never migrated
    return "ok", db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))


def _migrations(app: Flask, database: str, revision: str | None) -> str:
    if database != "ok":
        return "unknown"
    if revision is None:
        return "not migrated"
    head, known = revisions(app)
    if revision == head:
        return "ok"
    return "behind" if revision in known else "newer"


def _redis(app: Flask) -> str:
    if not app.config.get("REDIS_URL"):
        return "not used"
    try:
        queue.redis_conn(app).ping()
    except (RedisError, OSError):
        return "unreachable"
    return "ok"


def check(app: Flask) -> tuple[bool, dict[str, str]]:
    """(ready, each check's word)."""
    database, revision = _database()
    checks = {"database": database, "redis": _redis(app), "migrations": _migrations(app, database, revision)}
    db.session.rollback()  # a read only: end its transaction now
    return all(word in GOOD[name] for name, word in checks.items()), checks
