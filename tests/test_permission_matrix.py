"""Every registered route has a row in the permission table, and the table is what the app enforces, role by role.

The walk picks up every rule of `app.url_map`, so a route another area adds is checked without editing this file.
"""

from __future__ import annotations

import io

import pytest
from flask import g
from werkzeug.datastructures import FileStorage
from werkzeug.routing.converters import NumberConverter

from app import permissions
from app.extensions import db
from cases import accounts, contacts, materials
from tests.conftest import make_user
from tests.factories import make_appeal

ROLES = ("anonymous", "clerk", "mediator", "supervisor", "admin", "operator")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Routes whose request would end the session it is made with: they run last for each role.
SESSION_ENDING = ("auth.logout", "auth.end_sessions")


@pytest.fixture
def demo(app):
    """One of each thing a URL can name: a referred case, a material, a contact, a spare user and token."""
    appeal = make_appeal(state="referred")
    material = materials.store_material(appeal, FileStorage(io.BytesIO(PDF), filename="bill.pdf"), source="consumer")
    contact = contacts.record_contact(
        channel="phone_consultation", recorded_by=None, topic="话费", question="咨询", complained_to_operator=True
    )
    spare = make_user("clerk", "spare-clerk")
    spare_token, _ = accounts.create_token(spare)
    db.session.commit()
    return {
        "case_no": appeal.case_no,
        "material_id": material.id,
        "contact_id": contact.id,
        "user_id": spare.id,
        "token_id": spare_token.id,
        "period": "2022H2",
        "name": "new",
        "action": "reject",  # refused without its ground: the request reaches the view and changes nothing
        "filename": "css/site.css",
        "fmt": "csv",
        "figure": "accepted",
        "number": 1,
    }


def _url(app, rule, values: dict) -> str:
    """The rule's URL with every parameter filled from the demo values."""
    args = {}
    for arg in rule.arguments:
        default = 1 if isinstance(rule._converters[arg], NumberConverter) else "1"
        args[arg] = values.get(arg, default)
    with app.test_request_context():
        return app.url_for(rule.endpoint, **args)


def _to_login(resp) -> bool:
    """Whether a response sends the visitor to the sign-in page."""
    return resp.status_code in (301, 302, 303) and "/auth/login" in resp.headers.get("Location", "")


def test_every_route_has_a_row_in_the_permission_table(app):
    missing = sorted({r.endpoint for r in app.url_map.iter_rules()} - set(permissions.ROUTES))
    assert missing == [], f"routes without a permission row: {missing}"


def test_each_role_gets_exactly_what_its_row_allows_on_every_route(app, demo):
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint in permissions.ROUTES),
        key=lambda r: (r.endpoint in SESSION_ENDING, r.rule),
    )
    assert len(rules) > 20
    failures: list[str] = []
    checked = 0
    for role in ROLES:
        client = app.test_client()
        headers: dict[str, str] = {}
        if role != "anonymous":
            user = make_user(role, f"matrix-{role}")
            _, plain = accounts.create_token(user)
            db.session.commit()
            headers = {"Authorization": f"Bearer {plain}"}
            resp = client.post(
                "/auth/login", data={"username": user.username, "password": "correct horse battery staple"}
            )
            assert resp.status_code == 302
        for rule in rules:
            allowed = permissions.ROUTES[rule.endpoint]
            is_api = rule.endpoint.startswith("api.")
            url = _url(app, rule, demo)
            method = "GET" if "GET" in rule.methods else "POST"
            g.pop("user", None)
            g.pop("_login_user", None)
            resp = client.open(url, method=method, headers=headers if is_api else {})
            checked += 1
            where = f"{role} {method} {rule.rule} ({rule.endpoint}) -> {resp.status_code}"
            permitted = allowed == permissions.PUBLIC or role in allowed
            if permitted:
                # the permission layer let the request through, as this role
                # (web: Flask-Login keeps the loaded user in the app context's g; the API: g.user)
                identity = g.get("user") if is_api else g.get("_login_user")
                if allowed == permissions.PUBLIC:
                    if resp.status_code == 401:
                        failures.append(f"public route asked for sign-in: {where}")
                elif rule.endpoint in SESSION_ENDING:
                    # the view ran (the session is gone) only if the permission layer let it through
                    home = "/operator/" if role == "operator" else "/staff/"
                    if not _to_login(client.get(home)):
                        failures.append(f"session not ended, so refused: {where}")
                elif getattr(identity, "role", None) != role:
                    failures.append(f"refused although allowed (not identified as {role}): {where}")
            elif role == "anonymous":
                expected = resp.status_code == 401 if is_api else _to_login(resp)
                if not expected:
                    failures.append(f"anonymous not sent to sign in: {where}")
            elif resp.status_code != 403:
                failures.append(f"not refused: {where}")
    assert failures == [], "\n".join(failures)
    assert checked == len(rules) * len(ROLES)
