"""Staff sessions end everywhere: "全部退出登录", a changed or reset password and a deactivated account end every
web session of the account, also a copy of its cookie kept elsewhere; the account can sign in again."""

from __future__ import annotations

import re

from app.extensions import db
from cases.models import User
from tests.conftest import PASSWORD, AuthActions, make_user


def _signed_in(client) -> bool:
    """Whether the client reaches the console (rather than being sent to sign in)."""
    resp = client.get("/staff/")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    return False


def _two_devices(app, role: str = "mediator") -> tuple[User, object, object]:
    """One account signed in from two browsers."""
    user = make_user(role, f"{role}-two")
    phone, desk = app.test_client(), app.test_client()
    for c in (phone, desk):
        assert AuthActions(c).login(user.username).status_code == 302
        assert _signed_in(c)
    return user, phone, desk


def test_sign_out_everywhere_ends_every_session_of_the_account_and_a_copied_cookie(app):
    user, phone, desk = _two_devices(app)
    stolen = desk.get_cookie("session").value
    page = phone.get("/auth/password").get_data(as_text=True)
    assert 'id="end-sessions"' in page and "全部退出登录" in page
    resp = phone.post("/auth/sessions/end")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    assert not _signed_in(phone) and not _signed_in(desk)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert not _signed_in(thief)
    assert db.session.get(User, user.id).session_generation == 1
    again = app.test_client()
    assert AuthActions(again).login(user.username).status_code == 302 and _signed_in(again)


def test_an_ordinary_sign_out_leaves_the_other_devices_signed_in(app):
    _, phone, desk = _two_devices(app, "clerk")
    assert phone.post("/auth/logout").status_code == 302
    assert not _signed_in(phone) and _signed_in(desk)


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app):
    _, phone, desk = _two_devices(app, "supervisor")
    new = "another-long-password"
    resp = phone.post("/auth/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert resp.status_code == 302
    assert _signed_in(phone) and not _signed_in(desk)


def test_an_admins_reset_and_sign_out_everywhere_and_a_deactivation_end_the_accounts_sessions(app, client, auth):
    auth.as_role("admin")
    user, phone, desk = _two_devices(app, "clerk")
    assert "全部退出登录" in client.get("/staff/admin/users").get_data(as_text=True)

    assert client.post(f"/staff/admin/users/{user.id}/sessions").status_code == 302
    assert not _signed_in(phone) and not _signed_in(desk)

    assert AuthActions(phone).login(user.username).status_code == 302 and _signed_in(phone)
    assert client.post(f"/staff/admin/users/{user.id}/password", data={"once": _once(client)}).status_code == 200
    assert not _signed_in(phone)

    db.session.get(User, user.id).password_hash = make_user("clerk", "spare").password_hash  # the test password
    db.session.commit()
    assert AuthActions(phone).login(user.username).status_code == 302 and _signed_in(phone)
    assert client.post(f"/staff/admin/users/{user.id}/active", data={"active": "0"}).status_code == 302
    assert client.post(f"/staff/admin/users/{user.id}/active", data={"active": "1"}).status_code == 302
    assert not _signed_in(phone)  # reactivated, but the session from before stays ended


def test_signing_out_an_unknown_account_is_a_404(client, auth):
    auth.as_role("admin")
    assert client.post("/staff/admin/users/999999/sessions").status_code == 404


def _once(client) -> str:
    """The one-time value of the reset form on the accounts page."""
    page = client.get("/staff/admin/users").get_data(as_text=True)
    return re.search(r'name="once" value="([^"]+)"', page).group(1)
