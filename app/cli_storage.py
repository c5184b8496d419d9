"""`flask materials migrate|verify` (cases/material_moves.py) and `flask retention run` (cases/retention.py)."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from cases import material_moves, retention

materials_cli = AppGroup("materials", help="Materials' storage: move them, check them.")
retention_cli = AppGroup("retention", help="Personal data kept only as long as allowed.")


@materials_cli.command("migrate")
@click.option("--to", "to", required=True, help='Target storage: "s3://bucket/prefix", or "local".')
def migrate(to: str) -> None:
    """Copy every material to the target storage, verify each, switch the verified rows (resumable)."""
    url = "" if to == "local" else to
    if url and not url.startswith("s3://"):
        raise click.BadParameter('expected s3://bucket/prefix or "local"', param_hint="--to")
    summary = material_moves.migrate_to(url, echo=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    if summary["failed"]:
        raise SystemExit(1)


@materials_cli.command("verify")
def verify() -> None:
    """Check every material against its object (missing, wrong size, wrong hash) and print a summary."""
    summary = material_moves.verify()
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    if summary["checked"] != summary["ok"]:
        raise SystemExit(1)


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
def retention_run(dry_run: bool) -> None:
    """Anonymise the cases closed more than RETENTION_YEARS ago (not under legal hold); print the counts as JSON."""
    click.echo(json.dumps(retention.run(dry_run=dry_run), ensure_ascii=False))


def register(app: Flask) -> None:
    app.cli.add_command(materials_cli)
    app.cli.add_command(retention_cli)
