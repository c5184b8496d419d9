"""Odd input never ends in a server error on the staff console: NUL characters, overlong text, bad numbers,
unknown cases and ids."""

from __future__ import annotations

import pytest

from tests.factories import make_appeal

NASTY = ["\x00", "a\x00b", "词" * 6000, "%_\\", "' OR 1=1 --", "<script>alert(1)</script>", "９９", "-1", "1e309"]


@pytest.mark.parametrize("value", NASTY)
def test_odd_values_in_every_staff_form_are_answered_without_a_500(client, auth, value):
    auth.as_role("supervisor")
    a = make_appeal()
    posts = [
        (
            f"/staff/cases/{a.case_no}/actions/reject",
            {"reject-ground": value, "reject-explanation": value, "reject-version": value},
        ),
        (
            f"/staff/cases/{a.case_no}/actions/request_materials",
            {"request_materials-missing": value, "request_materials-version": str(a.version)},
        ),
        (f"/staff/cases/{a.case_no}/notes", {"text": value}),
        (f"/staff/cases/{a.case_no}/reveal", {"field": value}),
        (f"/staff/cases/{a.case_no}/assign", {"mediator": value, "version": value}),
        (f"/staff/cases/{a.case_no}/repeat", {"original": value, "version": value}),
        ("/auth/password", {"current": value, "new": value, "confirm": value}),
    ]
    for url, data in posts:
        resp = client.post(url, data=data)
        assert resp.status_code < 500, (url, resp.status_code)
    gets = [
        f"/staff/search?q={value}",
        f"/staff/search?q={value}&key={value}",
        f"/staff/queues/new?state={value}&operator={value}&category={value}&received_from={value}"
        f"&assignee={value}&overdue={value}&sort={value}&page={value}",
        f"/staff/cases/{value}",
    ]
    for url in gets:
        resp = client.get(url)
        assert resp.status_code < 500, (url, resp.status_code)
    assert "<script>alert(1)</script>" not in client.get(f"/staff/search?q={value}").get_data(as_text=True)


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "x" * 300])
def test_odd_values_in_the_admin_forms_and_the_sign_in_form_are_answered_without_a_500(client, auth, value):
    auth.as_role("admin")
    for url, data in [
        (
            "/staff/admin/users/new",
            {
                "username": value,
                "full_name": value,
                "role": value,
                "operator": value,
                "email": value,
                "password": value,
            },
        ),
        ("/staff/admin/tokens/new", {"user": value, "label": value}),
        ("/staff/admin/users/1/active", {"active": value}),
    ]:
        assert client.post(url, data=data).status_code < 500, url
    auth.logout()
    assert client.post("/auth/login", data={"username": value, "password": value}).status_code < 500


def test_a_case_action_with_a_non_numeric_version_is_refused_as_invalid(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    resp = client.post(f"/staff/cases/{a.case_no}/actions/accept", data={"accept-version": "abc"})
    assert resp.status_code == 422
