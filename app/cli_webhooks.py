"""`flask webhooks add/list/rotate/remove`: operators' webhook endpoints (docs/operator-integration.md)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from cases import reference, webhooks

webhooks_cli = AppGroup("webhooks", help="Operators' webhook endpoints.")


def _endpoint(endpoint_id: int):
    endpoint = webhooks.endpoint_or_none(endpoint_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook endpoint {endpoint_id}")
    return endpoint


@webhooks_cli.command("add")
@click.argument("operator_code")
@click.argument("url")
@click.option("--events", default="", help="comma-separated event types (default: all of them)")
def add_command(operator_code: str, url: str, events: str) -> None:
    """Register an endpoint for an operator; its signing secret is printed this once."""
    operator = reference.operator_by_code(operator_code)
    if operator is None:
        raise click.ClickException(f"no operator {operator_code}")
    wanted = [e.strip() for e in events.split(",") if e.strip()]
    try:
        endpoint, secret = webhooks.add_endpoint(current_app.config, operator, url, wanted)
    except webhooks.InvalidEndpoint as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"endpoint {endpoint.id} for {operator.code}: {endpoint.url}")
    click.echo(f"events: {', '.join(endpoint.events)}")
    click.echo(f"secret (shown once): {secret}")


@webhooks_cli.command("list")
def list_command() -> None:
    """List the endpoints (never their secrets)."""
    for e in webhooks.endpoints():
        state = "paused" if e.paused_at else "active"
        rotating = (
            f"\tprevious secret signs until {e.previous_valid_until:%Y-%m-%d %H:%M} UTC"
            if (e.previous_valid_until)
            else ""
        )
        click.echo(f"{e.id}\t{e.operator.code}\t{e.url}\t{state}\t{','.join(e.events)}{rotating}")


@webhooks_cli.command("rotate")
@click.argument("endpoint_id", type=int)
def rotate_command(endpoint_id: int) -> None:
    """A new secret (printed once); the old one keeps signing for 24 hours."""
    endpoint = _endpoint(endpoint_id)
    secret = webhooks.rotate(current_app.config, endpoint)
    db.session.commit()
    click.echo(f"new secret for endpoint {endpoint.id} (shown once): {secret}")
    click.echo(f"the previous secret also signs until {endpoint.previous_valid_until:%Y-%m-%d %H:%M} UTC")


@webhooks_cli.command("remove")
@click.argument("endpoint_id", type=int)
def remove_command(endpoint_id: int) -> None:
    """Stop sending to an endpoint (its log is kept)."""
    webhooks.remove(_endpoint(endpoint_id))
    db.session.commit()
    click.echo(f"endpoint {endpoint_id} removed")
