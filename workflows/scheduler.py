"""The schedule of periodic tasks and one tick of the scheduler loop (`flask scheduler`).

With Redis each due task is queued on rq once per time slot (a Redis key per
slot, so two schedulers never double it); without Redis it runs inline.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask

from cases import clock
from workflows import queue, registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Every:
    """A task run every `seconds`, or daily at `daily_at` Asia/Shanghai."""

    task: str
    seconds: int = 0
    daily_at: dt.time | None = None

    def slot(self, now_utc: dt.datetime) -> str | None:
        """The time slot `now` falls in, or None when a daily task's hour has not come yet today."""
        if self.daily_at is None:
            return str(int(now_utc.replace(tzinfo=dt.UTC).timestamp()) // self.seconds)
        local = clock.to_local(now_utc)
        if local.time() < self.daily_at:
            return None
        return local.date().isoformat()

    @property
    def ttl(self) -> int:
        """How long a slot's key is kept in Redis."""
        return 2 * self.seconds if self.daily_at is None else 2 * 24 * 3600


SCHEDULE = (
    Every("sweep_outbox", seconds=60),
    Every("retry_webhooks", seconds=60),
    Every("sweep_deadlines", seconds=300),
    Every("purge_receipts", seconds=300),
    Every("purge_consumer_sessions", seconds=600),
    Every("nightly_rollup", daily_at=dt.time(2, 0)),
    Every("scan_alerts", daily_at=dt.time(2, 30)),
    Every("apply_retention", daily_at=dt.time(3, 0)),
    Every("purge_webhook_events", daily_at=dt.time(3, 30)),
    Every("purge_outbox", daily_at=dt.time(3, 45)),
)


def tick(app: Flask, now_utc: dt.datetime, seen: dict[str, str]) -> list[str]:
    """Start every task whose slot is new; `seen` keeps the last slot per task (for the inline mode)."""
    started = []
    for entry in SCHEDULE:
        slot = entry.slot(now_utc)
        if slot is None or seen.get(entry.task) == slot:
            continue
        if app.config.get("REDIS_URL"):
            try:
                if queue.enqueue_task(app, entry.task, slot, entry.ttl):
                    started.append(entry.task)
            except Exception as exc:  # Redis down: try again on the next tick
                log.warning("could not queue %s: %s", entry.task, exc)
                continue
        else:
            started.append(entry.task)
            run_inline(app, entry.task)
        seen[entry.task] = slot
    return started


def run_inline(app: Flask, name: str) -> Any:
    """Run a periodic task in a fresh app context, logging (not raising) its failure."""
    with app.app_context():
        try:
            return registry.installed(app).tasks[name]()
        except Exception:
            log.exception("periodic task %s failed", name)
            return None
