"""The admin pages: list, create and deactivate accounts, reset passwords, create and revoke API tokens."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.security import token_digest
from cases.models import ApiToken, User
from tests.conftest import PASSWORD, AuthActions, make_user
from tests.factories import open_as

NEW_USER = {
    "username": "li.clerk",
    "full_name": "李受理",
    "role": "clerk",
    "operator": "",
    "email": "li@example.com",
    "password": "a-long-initial-password",
}


def _once(client, page: str) -> str:
    """The one-time value of the secret-showing form on an admin page, as a browser would read it."""
    html = client.get(page).get_data(as_text=True)
    return re.search(r'name="once"(?: type="hidden")? value="([^"]+)"', html).group(1)


def _user(username: str) -> User | None:
    """The account with this username as the database has it now."""
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def test_an_admin_lists_the_accounts_and_creates_a_clerk_who_can_sign_in(client, auth, app):
    auth.as_role("admin")
    make_user("mediator", "med1")
    page = client.get("/staff/admin/users").get_data(as_text=True)
    assert 'id="user-med1"' in page and "新建账户" in page
    resp = client.post("/staff/admin/users/new", data=NEW_USER)
    assert resp.status_code == 302
    created = _user("li.clerk")
    assert created.role == "clerk" and created.full_name == "李受理" and created.operator_id is None
    assert created.password_hash.startswith("scrypt:")
    other = app.test_client()
    assert AuthActions(other).login("li.clerk", "a-long-initial-password").status_code == 302


def test_account_creation_refuses_bad_input_with_messages_and_keeps_what_was_typed(client, auth):
    auth.as_role("admin")
    make_user("clerk", "taken")
    cases = [
        ({"username": "taken"}, "username", "已被使用"),
        ({"username": "a b"}, "username", "只能包含"),
        ({"password": "short"}, "password", "至少10个字符"),
        ({"role": "operator", "operator": ""}, "operator", "必须选择所属企业"),
        ({"role": "clerk", "operator": "cmcc_jl"}, "operator", "只有企业联络员"),
        ({"role": "emperor"}, "role", ""),
        ({"email": "not-an-email"}, "email", "有效的电子邮箱"),
    ]
    for change, field, message in cases:
        resp = client.post("/staff/admin/users/new", data=NEW_USER | change)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422, change
        assert f'id="{field}-error"' in html and message in html, change
        assert "李受理" in html  # the form keeps what was typed
    assert _user("li.clerk") is None


def test_an_operator_liaison_is_tied_to_one_operator(client, auth):
    auth.as_role("admin")
    data = NEW_USER | {"username": "unicom1", "role": "operator", "operator": "unicom_jl"}
    assert client.post("/staff/admin/users/new", data=data).status_code == 302
    liaison = _user("unicom1")
    assert liaison.role == "operator" and liaison.operator.code == "unicom_jl"


def test_a_deactivated_account_cannot_sign_in_until_reactivated_and_an_admin_cannot_deactivate_themselves(
    client, auth, app
):
    admin = auth.as_role("admin")
    clerk = make_user("clerk", "clerk1")
    assert client.post(f"/staff/admin/users/{clerk.id}/active", data={"active": "0"}).status_code == 302
    assert _user("clerk1").active is False
    other = app.test_client()
    assert AuthActions(other).login("clerk1").status_code == 200
    assert client.post(f"/staff/admin/users/{clerk.id}/active", data={"active": "1"}).status_code == 302
    assert _user("clerk1").active is True
    assert open_as(other, "POST", "/auth/login", data={"username": "clerk1", "password": PASSWORD}).status_code == 302
    resp = open_as(client, "POST", f"/staff/admin/users/{admin.id}/active", data={"active": "0"})
    assert resp.status_code == 302 and _user(admin.username).active is True
    assert open_as(client, "POST", f"/staff/admin/users/{clerk.id}/active", data={"active": "x"}).status_code == 400
    assert open_as(client, "POST", "/staff/admin/users/99999/active", data={"active": "0"}).status_code == 404


def test_a_password_reset_shows_a_temporary_password_once_and_unlocks_the_account(client, auth, app):
    auth.as_role("admin")
    clerk = make_user("clerk", "clerk1")
    clerk.failed_logins = 3
    db.session.commit()
    html = client.post(
        f"/staff/admin/users/{clerk.id}/password", data={"once": _once(client, "/staff/admin/users")}
    ).get_data(as_text=True)
    temporary = re.search(r'id="temporary-password">([^<]+)<', html).group(1)
    assert temporary not in client.get("/staff/admin/users").get_data(as_text=True)
    other = app.test_client()
    assert AuthActions(other).login("clerk1").status_code == 200  # the old password is gone
    assert AuthActions(other).login("clerk1", temporary).status_code == 302
    assert _user("clerk1").failed_logins == 0


def test_an_api_token_is_shown_once_stored_as_a_hash_and_stops_working_when_revoked(client, auth, app):
    auth.as_role("admin")
    mediator = make_user("mediator", "med1")
    once = _once(client, "/staff/admin/tokens")
    html = client.post(
        "/staff/admin/tokens/new", data={"user": str(mediator.id), "label": "调解系统对接", "once": once}
    )
    html = html.get_data(as_text=True)
    plain = re.search(r'id="new-token">([^<]+)<', html).group(1)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == mediator.id))
    assert row.token_hash == token_digest(plain) and plain not in row.token_hash
    listing = client.get("/staff/admin/tokens").get_data(as_text=True)
    assert plain not in listing and "调解系统对接" in listing
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert open_as(api, "GET", "/api/v1/cases", headers=headers).status_code == 200
    assert open_as(client, "POST", f"/staff/admin/tokens/{row.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is not None
    assert open_as(api, "GET", "/api/v1/cases", headers=headers).status_code == 401
    assert open_as(client, "POST", f"/staff/admin/tokens/{row.id}/revoke").status_code == 404  # already revoked


def test_a_token_needs_an_account_and_a_label(client, auth):
    auth.as_role("admin")
    resp = client.post("/staff/admin/tokens/new", data={"user": "", "label": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="user-error"' in html and 'id="label-error"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_reloading_the_page_that_showed_a_token_creates_no_second_token(client, auth):
    auth.as_role("admin")
    mediator = make_user("mediator", "med1")
    form = {"user": str(mediator.id), "label": "对接", "once": _once(client, "/staff/admin/tokens")}
    first = client.post("/staff/admin/tokens/new", data=form)
    assert first.status_code == 200 and 'id="new-token"' in first.get_data(as_text=True)
    again = client.post("/staff/admin/tokens/new", data=form)  # what a browser's reload sends
    html = again.get_data(as_text=True)
    assert again.status_code == 409 and 'id="new-token"' not in html and "没有再创建令牌" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1
    forged = client.post("/staff/admin/tokens/new", data={**form, "once": "made-up"})
    assert forged.status_code == 409
    fresh = client.post("/staff/admin/tokens/new", data={**form, "once": _once(client, "/staff/admin/tokens")})
    assert fresh.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 2


def test_reloading_a_password_reset_does_not_reset_the_password_again(client, auth, app):
    auth.as_role("admin")
    clerk = make_user("clerk", "clerk1")
    data = {"once": _once(client, "/staff/admin/users")}
    html = client.post(f"/staff/admin/users/{clerk.id}/password", data=data).get_data(as_text=True)
    temporary = re.search(r'id="temporary-password">([^<]+)<', html).group(1)
    again = client.post(f"/staff/admin/users/{clerk.id}/password", data=data)
    assert again.status_code == 409 and 'id="temporary-password"' not in again.get_data(as_text=True)
    assert AuthActions(app.test_client()).login("clerk1", temporary).status_code == 302  # still the one shown
