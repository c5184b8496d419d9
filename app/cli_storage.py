"""`flask materials migrate|verify` (cases/material_moves.py), `flask retention run` (cases/retention.py),
`flask backup DIR` and `flask restore DIR` (cases/backup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from cases import backup, material_moves, retention

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


def _run_and_print(step, folder: Path) -> dict:
    """Run a backup step; print its summary as JSON, or its refusal as the command's error."""
    try:
        summary = step(folder)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary, ensure_ascii=False))
    return summary


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def backup_command(folder: Path) -> None:
    """Write a consistent backup (database dump, materials' list with hashes, local materials' bytes) to FOLDER."""
    _run_and_print(backup.backup, folder)


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(folder: Path) -> None:
    """Restore a backup from FOLDER into an empty database and upload folder; check every material's hash."""
    summary = _run_and_print(backup.restore, folder)
    materials = summary["materials"]
    if not summary["rows_match"] or materials["missing"] or materials["wrong_hash"]:
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(materials_cli)
    app.cli.add_command(retention_cli)
