"""Flask CLI commands: reference data, accounts and API tokens.

Other areas add their own command groups (see `register` calls below).
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from app import cli_jobs, cli_storage
from app.cli_webhooks import webhooks_cli
from app.extensions import db
from app.staff.lifecycle_doc import lifecycle_cli
from cases import accounts, reference
from cases import demo as demo_data
from cases.models import ApiToken, User
from cases.numbering import next_case_no
from workflows import engine

users_cli = AppGroup("users", help="Staff and operator accounts.")
tokens_cli = AppGroup("tokens", help="API tokens.")


@click.command("seed")
@click.option("--demo", is_flag=True, help="also create demo accounts (one per role) and demo cases")
def seed_command(demo: bool) -> None:
    """Load the reference data (operators and codes) where absent; with --demo, the demo accounts too."""
    added = reference.ensure_reference_data()
    click.echo(f"reference data: {added['operators']} operators and {added['codes']} codes added")
    if demo:
        created = demo_data.seed_demo_accounts()
        if created:
            click.echo("demo accounts (the passwords are shown this once):")
            for username, role, password in created:
                click.echo(f"  {role:<11} {username:<11} {password}")
        else:
            click.echo("demo accounts already exist")
        cases_made = demo_data.seed_demo_cases(
            engine.perform, lambda at: next_case_no(current_app.config["CASE_PREFIX"], at)
        )
        click.echo(f"demo cases: {cases_made} created" if cases_made else "demo cases: appeals exist, none added")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--operator", "operator_code", default=None, help="operator code, for a liaison account")
@click.option("--name", "full_name", default="")
@click.password_option()
def create_user(username: str, role: str, operator_code: str | None, full_name: str, password: str) -> None:
    """Create an account."""
    try:
        accounts.create_user(username, password, role, full_name, operator_code)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"created {role} {username}")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--label", default="")
def create_token(username: str, label: str) -> None:
    """Create an API token for a user; the token is printed once."""
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username}")
    row, plain = accounts.create_token(user, label)
    db.session.commit()
    click.echo(f"token {row.id} for {username}: {plain}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id."""
    if not accounts.revoke_token(token_id):
        raise click.ClickException(f"no live token {token_id}")
    db.session.commit()
    click.echo(f"token {token_id} revoked")


@tokens_cli.command("list")
def list_tokens() -> None:
    """List the API tokens (never the tokens themselves)."""
    for row in db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if row.revoked_at else "live"
        click.echo(f"{row.id}\t{row.user.username}\t{row.label}\t{state}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(seed_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(lifecycle_cli)
    app.cli.add_command(webhooks_cli)
    cli_jobs.register(app)
    cli_storage.register(app)
