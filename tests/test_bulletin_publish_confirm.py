"""Publishing a bulletin revision asks first, with the preview (the paragraph, the main figures, the PDF); a
period that has not ended needs a second, explicit confirmation, and the public page marks it provisional."""

from __future__ import annotations

import datetime as dt

from app.extensions import db
from cases import bulletin
from cases.models import utcnow
from tests.factories import make_appeal
from workflows import jobs


def built(period: str) -> bulletin.BulletinRevision:
    jobs.rollup_period(period)
    return bulletin.get_revision(period, 1)


def test_publishing_asks_first_and_shows_the_preview(client, auth):
    auth.as_role("supervisor")
    make_appeal(state="accepted", at=dt.datetime(2022, 9, 1, 2, 0))
    rev = built("2022H2")
    page = client.get("/staff/bulletin/2022H2").get_data(as_text=True)
    assert 'href="/staff/bulletin/2022H2/1/publish"' in page  # a link to the confirmation, not a publish button
    confirm = client.get("/staff/bulletin/2022H2/1/publish").get_data(as_text=True)
    assert rev.paragraph in confirm and 'id="preview-pdf"' in confirm and "受理用户申诉（件）" in confirm
    assert 'id="provisional-warning"' not in confirm  # 2022H2 is over: one confirmation is enough
    pdf = client.get("/staff/bulletin/2022H2/1/preview.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    unconfirmed = client.post("/staff/bulletin/2022H2/1/publish")
    assert unconfirmed.status_code == 200 and 'id="preview-paragraph"' in unconfirmed.get_data(as_text=True)
    assert bulletin.get_revision("2022H2", 1).published_at is None
    assert client.post("/staff/bulletin/2022H2/1/publish", data={"confirmed": "yes"}).status_code == 302
    db.session.expire_all()
    rev = bulletin.get_revision("2022H2", 1)
    assert rev.published_at is not None and not bulletin.provisional(rev)
    assert 'id="provisional"' not in client.get("/bulletin/2022H2").get_data(as_text=True)


def test_a_period_not_ended_needs_a_second_confirmation_and_is_marked_provisional(client, auth):
    auth.as_role("supervisor")
    period = bulletin.Period.containing(utcnow())
    make_appeal(state="accepted")
    built(period.code)
    url = f"/staff/bulletin/{period.code}/1/publish"
    assert 'id="provisional-warning"' in client.get(url).get_data(as_text=True)
    once = client.post(url, data={"confirmed": "yes"})
    assert once.status_code == 422 and "请勾选确认" in once.get_data(as_text=True)
    assert bulletin.get_revision(period.code, 1).published_at is None
    assert client.post(url, data={"confirmed": "yes", "provisional": "yes"}).status_code == 302
    db.session.expire_all()
    assert bulletin.provisional(bulletin.get_revision(period.code, 1))
    public = client.get(f"/bulletin/{period.code}").get_data(as_text=True)
    assert 'id="provisional"' in public and "暂定" in public


def test_only_supervisors_reach_the_confirmation_and_the_preview(client, auth):
    make_appeal(state="accepted", at=dt.datetime(2022, 9, 1, 2, 0))
    built("2022H2")
    auth.as_role("clerk")
    assert client.get("/staff/bulletin/2022H2/1/publish").status_code == 403
    assert client.get("/staff/bulletin/2022H2/1/preview.pdf").status_code == 403
    assert client.get("/staff/bulletin/2022H2/9/publish").status_code == 403


def _rollup_before_the_end(period: str) -> bulletin.BulletinRevision:
    """A revision of an ended period whose figures were computed on its last day (the rollup not run since)."""
    rev = built(period)
    rev.computed_at = bulletin.Period.parse(period).end_utc - dt.timedelta(hours=3)
    db.session.commit()
    return rev


def test_figures_computed_before_the_period_ended_need_the_second_confirmation_too(client, auth):
    auth.as_role("supervisor")
    make_appeal(state="accepted", at=dt.datetime(2022, 9, 1, 2, 0))
    _rollup_before_the_end("2022H2")
    url = "/staff/bulletin/2022H2/1/publish"
    warning = client.get(url).get_data(as_text=True)
    assert 'id="provisional-warning"' in warning and "可能不完整" in warning and "尚未结束" not in warning
    assert client.post(url, data={"confirmed": "yes"}).status_code == 422
    assert client.post(url, data={"confirmed": "yes", "provisional": "yes"}).status_code == 302
    staff_page = client.get("/staff/bulletin/2022H2").get_data(as_text=True)
    assert 'class="provisional-mark" id="provisional"' in staff_page


def test_the_cli_publishes_incomplete_figures_only_with_provisional(runner):
    make_appeal(state="accepted", at=dt.datetime(2022, 9, 1, 2, 0))
    _rollup_before_the_end("2022H2")
    refused = runner.invoke(args=["bulletin", "publish", "2022H2", "1"])
    assert refused.exit_code != 0 and "--provisional" in refused.output
    assert bulletin.get_revision("2022H2", 1).published_at is None
    done = runner.invoke(args=["bulletin", "publish", "2022H2", "1", "--provisional"])
    assert done.exit_code == 0 and "published 2022H2 revision 1 (provisional)" in done.output
    db.session.expire_all()
    assert bulletin.provisional(bulletin.get_revision("2022H2", 1))


def test_the_api_answers_422_without_provisional_yes_and_says_provisional_everywhere(client, app):
    from cases import accounts
    from tests.conftest import make_user

    _, token = accounts.create_token(make_user("supervisor"))
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    period = bulletin.Period.containing(utcnow())
    make_appeal(state="accepted")
    built(period.code)
    url = f"/api/v1/bulletin/{period.code}/revisions/1/publish"
    refused = client.post(url, headers=headers)
    assert refused.status_code == 422 and "provisional" in refused.get_json()["errors"]
    assert client.post(url + "?provisional=no", headers=headers).status_code == 422
    published = client.post(url + "?provisional=yes", headers=headers)
    assert published.status_code == 200 and published.get_json()["provisional"] is True
    assert client.get(f"/api/v1/bulletin/{period.code}").get_json()["provisional"] is True
    listed = client.get("/api/v1/bulletin").get_json()
    assert any(p["period"] == period.code and p["provisional"] for p in listed)
    index = client.get("/bulletin").get_data(as_text=True)
    assert '<span class="provisional-mark">（暂定）</span>' in index
    page = client.get(f"/bulletin/{period.code}").get_data(as_text=True)
    assert page.count("暂定") >= 2  # beside the title and in the note
    exported = client.get(f"/bulletin/{period.code}/export.json")
    assert exported.get_json()["provisional"] is True and "-provisional.json" in exported.headers["Content-Disposition"]
    pdf = client.get(f"/bulletin/{period.code}/export.pdf")
    assert pdf.status_code == 200 and "-provisional.pdf" in pdf.headers["Content-Disposition"]
