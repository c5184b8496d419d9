"""The permission table: which roles may use each route (by endpoint name).

A route missing from this table is refused to everyone (and the permission test
fails), so every new route must declare who may use it here. Lifecycle actions
have their roles in `workflows.lifecycle.TRANSITIONS`; routes that perform an
action check both.
"""

from __future__ import annotations

from workflows.lifecycle import ADMIN, CLERK, MEDIATOR, OPERATOR, SUPERVISOR

PUBLIC = "public"  # anyone, signed in or not (consumer routes check the access code themselves)
STAFF = frozenset({CLERK, MEDIATOR, SUPERVISOR, ADMIN})
CASEWORK = frozenset({CLERK, MEDIATOR, SUPERVISOR})
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})
ADMINS = frozenset({ADMIN})
OPERATORS = frozenset({OPERATOR})
SIGNED_IN = STAFF | OPERATORS

ROUTES: dict[str, frozenset[str] | str] = {
    "static": PUBLIC,
    # auth
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    # public portal
    "public.index": PUBLIC,
    "public.set_language": PUBLIC,
    "public.toggle_elder_mode": PUBLIC,
    # staff console
    "staff.index": STAFF,
    # operator portal
    "operator.index": OPERATORS,
    # api (public part)
    "api.openapi_document": PUBLIC,
}


def roles_for(endpoint: str) -> frozenset[str] | str | None:
    """The roles allowed on an endpoint, PUBLIC, or None when the table has no rule."""
    return ROUTES.get(endpoint)
