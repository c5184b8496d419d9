"""NUL characters (which PostgreSQL cannot store in text) in any field of any form of the staff console and the
operator portal, and in the query of every page, are answered with a form error or a 4xx, never a 500.

The forms are read from the pages themselves, so a form added later is covered without editing this file."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from flask_babel import refresh

from tests.conftest import AuthActions, make_user
from tests.factories import make_appeal, make_consultation

NUL = "a\x00b"
QUERY = (
    "q",
    "status",
    "figure",
    "value",
    "from",
    "to",
    "period",
    "table",
    "page",
    "r",
    "year",
    "state",
    "channel",
    "operator",
    "category",
    "date_from",
    "date_to",
    "dimension",
    "unit",
)


class _Forms(HTMLParser):
    """The forms of a page: (method, action, field names)."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, set[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(((a.get("method") or "get").lower(), a.get("action") or "", set()))
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            if a.get("type") not in ("file", "submit"):
                self.forms[-1][2].add(a["name"])


def _forms(html: str, page: str) -> list[tuple[str, str, set[str]]]:
    parser = _Forms()
    parser.feed(html)
    return [(m, action or page, names) for m, action, names in parser.forms]


def _submit_every_form(client, page: str) -> int:
    """Fill every field of every form on the page with NUL and send it; returns how many forms were sent."""
    resp = client.get(page)
    assert resp.status_code < 500, (page, resp.status_code)
    if resp.status_code != 200 or "text/html" not in resp.content_type:
        return 0
    sent = 0
    for method, action, names in _forms(resp.get_data(as_text=True), page):
        if "/auth/" in action or "/lang" in action or "elder" in action:
            continue  # sign-out, language and elder mode: not forms of this area
        data = {n: NUL for n in names if n != "csrf_token"}
        answer = client.post(action, data=data) if method == "post" else client.get(f"{action}?{urlencode(data)}")
        assert answer.status_code < 500, (page, action, answer.status_code)
        sent += 1
    return sent


@pytest.fixture
def cases(app):
    """A case in each state the console shows a different form for, and a consultation to convert."""
    made = {state: make_appeal(state=state).case_no for state in ("received", "accepted", "replied", "settled")}
    contact = make_consultation(topic="话费", question="多扣费")
    return made, contact.id


def _client(app, role: str):
    client = app.test_client()
    AuthActions(client).login(make_user(role).username)
    return client


@pytest.mark.parametrize("role", ["clerk", "mediator", "supervisor"])
def test_nul_in_every_staff_form_is_answered_without_a_server_error(app, cases, role):
    made, contact_id = cases
    client = _client(app, role)
    pages = [
        *(f"/staff/cases/{case_no}" for case_no in made.values()),
        f"/staff/cases/{made['settled']}/calls",
        f"/staff/cases/{made['accepted']}/materials/record",
        "/staff/contacts/new",
        f"/staff/contacts/{contact_id}/appeal",
        "/staff/contacts",
        "/staff/statistics",
        "/staff/statistics/baselines",
        "/staff/statistics/subscribers",
        "/staff/bulletin",
        "/staff/dashboard",
        "/staff/audit",
        "/staff/alerts",
        "/staff/queues/new",
    ]
    sent = sum(_submit_every_form(client, page) for page in pages)
    assert sent >= 5


def test_nul_in_every_operator_form_is_answered_without_a_server_error(app, cases):
    made, _ = cases
    client = _client(app, "operator")
    sent = sum(_submit_every_form(client, f"/operator/cases/{case_no}") for case_no in made.values())
    sent += _submit_every_form(client, "/operator/")
    assert sent >= 2


@pytest.mark.parametrize("role", ["supervisor", "operator"])
def test_nul_in_the_query_of_every_page_is_answered_without_a_server_error(app, cases, role):
    made, contact_id = cases
    client = _client(app, role)
    query = urlencode({name: NUL for name in QUERY})
    values = {
        "case_no": made["settled"],
        "contact_id": contact_id,
        "period": "2022H2",
        "name": "new",
        "fmt": "csv",
        "figure": "accepted",
        "number": 1,
        "alert_id": 1,
        "material_id": 1,
        "job_id": 1,
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith(("staff.", "operator.")):
            continue
        if any(arg not in values for arg in rule.arguments):
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
        resp = client.get(f"{url}?{query}")
        assert resp.status_code < 500, (url, resp.status_code)
        checked += 1
    assert checked > 10


def test_a_field_of_nul_only_is_a_form_error_and_the_summary_says_how_many_fields_need_fixing(client, auth):
    auth.as_role("clerk")
    resp = client.post("/staff/contacts/new", data={"channel": "phone_consultation", "topic": "\x00", "question": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    count = int(html.split('class="error-count" data-count="')[1].split('"')[0])
    assert count >= 2 and f"有 {count} 处需要修改" in html
    assert html.count('<li><a href="#') >= count  # one line per field, each a link to it
    client.set_cookie("lang", "en")
    refresh()  # the test's app context keeps the locale of the first page
    english = client.post("/staff/contacts/new", data={"channel": "phone_consultation", "topic": "\x00"})
    assert f"{count} fields need fixing" in english.get_data(as_text=True)
