"""Flask CLI commands of the jobs area: worker, scheduler, sweeps, the bulletin and the import of records."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db
from cases import bulletin, importer
from cases.models import OutboxJob, User, utcnow
from workflows import jobs, outbox, queue, replay, scheduler

bulletin_cli = AppGroup("bulletin", help="The half-yearly bulletin: build, show and publish revisions.")
alerts_cli = AppGroup("alerts", help="Early warning (异常预警) of systemic problems.")


def _app() -> Flask:
    """The app the command runs in."""
    return current_app._get_current_object()


@click.command("worker")
@click.option("--burst", is_flag=True, help="run the queued jobs, then stop")
def worker_command(burst: bool) -> None:
    """Run an rq worker on the app's queue (with rq's scheduler, which runs the retries)."""
    app = _app()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline after each commit")
    queue.make_worker(app).work(with_scheduler=True, burst=burst)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="one tick, then stop")
@click.option("--interval", default=15, show_default=True, help="seconds between ticks")
def scheduler_command(once: bool, interval: int) -> None:
    """Start the periodic tasks: outbox sweep every minute, deadline sweep every 5 minutes, nightly rollup."""
    app = _app()
    seen: dict[str, str] = {}
    while True:
        started = scheduler.tick(app, utcnow(), seen)
        if started:
            click.echo(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} started {', '.join(started)}")
        if once:
            return
        time.sleep(interval)


@click.command("sweep-outbox")
def sweep_outbox_command() -> None:
    """Hand over outbox jobs left pending (e.g. Redis was down at commit time)."""
    click.echo(json.dumps(jobs.sweep_outbox()))


@click.command("sweep-deadlines")
def sweep_deadlines_command() -> None:
    """Flag overdue cases and queue the reminders now."""
    click.echo(json.dumps(jobs.sweep_deadlines()))


def _period(code: str) -> bulletin.Period:
    """A period argument, or a usage error."""
    try:
        return bulletin.Period.parse(code)
    except bulletin.PeriodError as exc:
        raise click.BadParameter(str(exc)) from None


def _revision_json(rev) -> str:
    """A revision as indented JSON."""
    return json.dumps(
        {
            "period": rev.period,
            "revision": rev.number,
            "computed_at": rev.computed_at.isoformat() + "Z",
            "published_at": rev.published_at.isoformat() + "Z" if rev.published_at else None,
            "figures": rev.figures,
            "paragraph": rev.paragraph,
        },
        ensure_ascii=False,
        indent=2,
    )


@bulletin_cli.command("build")
@click.argument("period")
@click.option("--wait", is_flag=True, help="wait for the rollup job to finish (with Redis)")
@click.option("--timeout", default=300, show_default=True)
def bulletin_build(period: str, wait: bool, timeout: int) -> None:
    """Queue the rollup of PERIOD (inline without Redis) and print the latest revision's figures as JSON."""
    p = _period(period)
    row = outbox.record("rollup_period", {"period": p.code})
    job_id = row.id
    db.session.commit()
    if current_app.config.get("REDIS_URL"):
        if not wait:
            click.echo(f"rollup of {p.code} queued as outbox job {job_id}")
            return
        deadline = time.monotonic() + timeout
        while True:
            db.session.expire_all()
            status = db.session.get(OutboxJob, job_id).status
            if status in ("done", "failed"):
                break
            if time.monotonic() > deadline:
                raise click.ClickException(f"outbox job {job_id} still {status} after {timeout}s")
            time.sleep(0.5)
    db.session.expire_all()
    row = db.session.get(OutboxJob, job_id)
    if row.status != "done":
        raise click.ClickException(
            f"the rollup failed: {row.error.strip().splitlines()[-1] if row.error else row.status}"
        )
    _show(p.code)


def _show(code: str) -> None:
    """Print the latest revision of a period."""
    rev = bulletin.latest_revision(code)
    if rev is None:
        raise click.ClickException(f"no revision of {code} yet: run `flask bulletin build {code}`")
    click.echo(_revision_json(rev))


@bulletin_cli.command("show")
@click.argument("period")
def bulletin_show(period: str) -> None:
    """Print the latest revision of PERIOD as JSON."""
    _show(_period(period).code)


@bulletin_cli.command("publish")
@click.argument("period")
@click.argument("revision", type=int)
@click.option("--user", "username", default=None, help="the supervisor who publishes")
@click.option(
    "--provisional",
    is_flag=True,
    help="publish figures that may be incomplete (the period has not ended, or they were computed before it did)",
)
def bulletin_publish(period: str, revision: int, username: str | None, provisional: bool) -> None:
    """Publish revision REVISION of PERIOD (a published revision never changes). Figures computed before the
    period ended are published only with --provisional, and marked 暂定 wherever the bulletin appears."""
    rev = bulletin.get_revision(_period(period).code, revision)
    if rev is None:
        raise click.ClickException(f"no revision {revision} of {period}")
    user_id = None
    if username:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username}")
        user_id = user.id
    try:
        done = bulletin.publish(rev, user_id, provisional=provisional)
    except bulletin.ProvisionalNotConfirmed:
        raise click.ClickException(
            f"the figures of {rev.period} revision {rev.number} were computed before the period ended and may be "
            "incomplete: build a new revision after the period ends, or publish with --provisional"
        ) from None
    if not done:
        click.echo(f"{rev.period} revision {rev.number} was already published")
        return
    db.session.commit()
    click.echo(f"published {rev.period} revision {rev.number}" + (" (provisional)" if provisional else ""))


@click.command("import-records")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check everything and change nothing")
@click.option("--batch-size", default=2000, show_default=True)
def import_records_command(file: str, dry_run: bool, batch_size: int) -> None:
    """Import historical records from a JSON Lines FILE (all or nothing; bad lines are listed by number)."""
    with open(file, encoding="utf-8") as fh:
        report = importer.import_records(
            fh, replay.replay_events, replay.check_events, dry_run=dry_run, batch_size=batch_size
        )
    for number, error in report.errors[:1000]:
        click.echo(f"line {number}: {error}", err=True)
    total = len(report.errors) + report.more_errors
    if total > 1000:
        click.echo(f"... and {total - 1000} more bad lines", err=True)
    if report.problems:
        click.echo("bad lines by kind of problem:", err=True)
        for kind, n in report.problems.most_common():
            click.echo(f"{n:>8}  {kind}", err=True)
    click.echo(json.dumps({k: v for k, v in report.as_dict().items() if k != "errors"}, ensure_ascii=False))
    if not report.ok:
        click.echo(f"{total} bad lines: nothing was imported", err=True)
        sys.exit(1)
    if dry_run:
        click.echo("dry run: nothing was changed")


@alerts_cli.command("scan")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD (today)")
def alerts_scan(as_of: dt.datetime | None) -> None:
    """Scan the last complete week before --as-of and print its alerts as JSON, one object a line."""
    from cases import alerts

    for alert, new in jobs.raise_alerts(as_of.date() if as_of else None):
        click.echo(json.dumps(alerts.as_json(alert, new), ensure_ascii=False))


def register(app: Flask) -> None:
    """Add the commands to the app's CLI."""
    for command in (
        worker_command,
        scheduler_command,
        sweep_outbox_command,
        sweep_deadlines_command,
        import_records_command,
        bulletin_cli,
        alerts_cli,
    ):
        app.cli.add_command(command)
