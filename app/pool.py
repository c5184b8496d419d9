"""Database connections: a pooled connection is pinged before use only after it has been idle a while.

SQLAlchemy's `pool_pre_ping` costs a round trip (and a statement on the server) on every request. A
connection handed back less than `POOL_PING_IDLE_SECONDS` ago was working then; one idle longer (a
quiet worker, or one left over from before a database restart) is pinged, and a dead one is replaced
together with every other connection of the pool, as `pool_pre_ping` does. A connection that breaks
within the idle window fails its request, and that failure invalidates the pool just the same.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Flask

from app.extensions import db

_LAST_USED = "appeals_last_used"  # monotonic time the connection was made or last handed back
POOL_PING_IDLE_SECONDS = 1.0


def _mark_used(dbapi_connection, connection_record) -> None:
    connection_record.info[_LAST_USED] = time.monotonic()


def init_app(app: Flask) -> None:
    """Ping connections idle longer than POOL_PING_IDLE_SECONDS on checkout (instead of pinging them all)."""
    idle = float(app.config.get("POOL_PING_IDLE_SECONDS", POOL_PING_IDLE_SECONDS))
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        dialect = engine.dialect

        def _ping_if_idle(dbapi_connection, connection_record, connection_proxy, dialect=dialect) -> None:
            last = connection_record.info.get(_LAST_USED)
            if last is not None and time.monotonic() - last < idle:
                return
            try:
                dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as exc:
                if dialect.is_disconnect(exc, dbapi_connection, None):
                    raise sa.exc.InvalidatePoolError() from exc  # the pool replaces it and its elders
                raise

        sa.event.listen(engine, "connect", _mark_used)
        sa.event.listen(engine, "checkin", _mark_used)
        sa.event.listen(engine, "checkout", _ping_if_idle)
