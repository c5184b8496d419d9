"""The supervisor dashboard: every count links to the list of the cases it counts (the same condition, so the
list holds exactly that many), and the workload counts the cases each person acted on in the period, not only
those assigned to them."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.extensions import db
from cases import assignment, dashboard
from cases.models import utcnow
from tests.conftest import make_user
from tests.factories import make_appeal
from workflows import engine


def linked_counts(html: str) -> dict[str, tuple[str, int]]:
    """id -> (link, count) of every count on the dashboard that links to its list."""
    return {
        m.group(2): (m.group(1).replace("&amp;", "&"), int(m.group(3)))
        for m in re.finditer(r'<a href="([^"]+)" id="([^"]+)">(\d+)</a>', html)
    }


def listed(client, link: str) -> list[str]:
    html = client.get(link).get_data(as_text=True)
    return re.findall(r'<a href="/staff/cases/([^"]+)">', html)


@pytest.fixture
def cases(auth):
    supervisor = auth.as_role("supervisor")
    busy = make_user("mediator", "busy")
    helper = make_user("mediator", "helper")
    make_user("mediator", "idle")
    late = make_appeal(at=dt.datetime(2026, 1, 5, 2, 0))  # decision and reply clocks both late
    make_appeal(service_number="13100000001")
    referred = make_appeal(state="referred", service_number="13100000002")
    assignment.assign(referred, busy, supervisor)
    closed = make_appeal(state="closed", service_number="13100000003")
    closed.assignee_id = busy.id
    # the helper acts on a case assigned to someone else, and on the late one: two cases acted on, none assigned
    engine.add_note(referred, "代为联系企业", helper)
    engine.add_note(late, "已电话联系", helper)
    engine.add_note(late, "再次联系", helper, at=utcnow() - dt.timedelta(days=400))  # outside the period
    db.session.commit()
    return {"late": late, "referred": referred, "busy": busy, "helper": helper}


def test_every_count_links_to_a_list_of_exactly_the_cases_it_counts(client, cases):
    html = client.get("/staff/dashboard").get_data(as_text=True)
    counts = linked_counts(html)
    assert counts["state-received"][1] == 2 and counts["state-referred"][1] == 1
    assert counts["overdue-decision"][1] == 1 and counts["overdue-consumer_reply"][1] == 1
    assert 'id="overdue-operator_reply">0<' in html  # nothing to list: no link
    for element_id, (link, count) in counts.items():
        assert len(listed(client, link)) == count, element_id
    assert listed(client, counts["overdue-decision"][0]) == [cases["late"].case_no]


def test_the_workload_counts_the_cases_each_person_acted_on_in_the_period(client, cases):
    html = client.get("/staff/dashboard").get_data(as_text=True)
    counts = linked_counts(html)
    assert counts["workload-busy"][1] == 1 and "acted-busy" not in counts  # assigned one, did nothing this month
    assert "workload-helper" not in counts and counts["acted-helper"][1] == 2  # acted on two, assigned none
    assert 'id="workload-idle">0<' in html
    assert sorted(listed(client, counts["acted-helper"][0])) == sorted(
        [cases["late"].case_no, cases["referred"].case_no]
    )
    # a period long ago: only the old note counts
    long_ago = (utcnow() - dt.timedelta(days=400)).date()
    old = client.get(
        f"/staff/dashboard?date_from={long_ago - dt.timedelta(days=2)}&date_to={long_ago + dt.timedelta(days=2)}"
    )
    old_counts = linked_counts(old.get_data(as_text=True))
    assert old_counts["acted-helper"][1] == 1 and "acted-busy" not in old_counts


def test_an_unknown_figure_is_not_found(client, cases):
    assert client.get("/staff/dashboard/cases?figure=state").status_code == 404
    assert client.get("/staff/dashboard/cases?figure=acted&value=x").status_code == 404
    assert client.get("/staff/dashboard/cases?figure=drop&value=1").status_code == 404
    assert dashboard.condition("assigned", "99999999999") is None


def test_a_clerk_cannot_open_the_lists(client, auth, cases):
    auth.logout()
    auth.as_role("clerk")
    assert client.get("/staff/dashboard/cases?figure=state&value=received").status_code == 403
