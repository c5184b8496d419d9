"""The bulletin and statistics pages: public periods with charts and exports, staff revisions, publishing, jobs, API."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from cases import accounts, bulletin
from cases.models import Baseline, Contact, OutboxJob, SubscriberCount
from tests.conftest import make_user
from tests.factories import make_appeal
from workflows import jobs, outbox

AT = dt.datetime(2022, 9, 1, 2, 0)  # 2022H2


def _some_cases() -> None:
    make_appeal(state="settled", at=AT, phone="13912345678")
    make_appeal(state="closed", at=AT, operator_code="mvno_jd")
    make_appeal(state="rejected", at=AT)
    db.session.add(Contact(channel="phone_consultation", at=AT))
    db.session.commit()


def _published(period: str = "2022H2"):
    jobs.rollup_period(period)
    rev = bulletin.latest_revision(period)
    bulletin.publish(rev, None)
    db.session.commit()
    return rev


def _assert_csp_clean(html: str) -> None:
    assert " style=" not in html and "onclick" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file


def test_the_public_sees_only_published_periods(client):
    """Before publishing there is nothing to see; an unknown period is 404, not an error."""
    assert "尚未发布" in client.get("/bulletin").get_data(as_text=True)
    jobs.rollup_period("2022H2")
    assert client.get("/bulletin/2022H2").status_code == 404
    assert client.get("/bulletin/2022H9").status_code == 404
    assert client.get("/bulletin/garbage/export.csv").status_code == 404


def test_a_published_period_shows_the_paragraph_tables_and_accessible_charts(client):
    """The page carries the paragraph, the tables and bar charts that are their own data tables."""
    _some_cases()
    rev = _published()
    jobs.rollup_period("2022H2")  # nothing changed: no new revision
    db.session.add(Contact(channel="visit", at=AT))
    db.session.commit()
    jobs.rollup_period("2022H2")  # a second, unpublished revision
    html = client.get("/bulletin/2022H2").get_data(as_text=True)
    assert rev.paragraph in html and "接待现场来访0人次" in html  # the published revision, not the newer one
    assert 'aria-labelledby="chart-operator-caption"' in html and 'aria-hidden="true"' in html
    assert "中国移动吉林" in html and "京东通信" in html
    _assert_csp_clean(html)
    index = client.get("/bulletin").get_data(as_text=True)
    assert "2022年下半年" in index and "/bulletin/2022H2" in index


def test_a_published_period_exports_as_csv_xlsx_json_and_pdf(client):
    """Every table in a spreadsheet, one table as CSV, the figures as JSON, the bulletin as a PDF."""
    _some_cases()
    _published()
    csv_text = client.get("/bulletin/2022H2/export.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeff指标,数值") and "受理用户申诉（件）,2" in csv_text
    by_operator = client.get("/bulletin/2022H2/export.csv?table=by_operator").get_data(as_text=True)
    assert "中国移动吉林" in by_operator
    wb = load_workbook(io.BytesIO(client.get("/bulletin/2022H2/export.xlsx").data))
    assert wb.sheetnames == [
        "主要数据",
        "按被申诉企业",
        "受理申诉按类别",
        "办理结果",
        "不予受理理由",
        "办理时效",
        "受理用户申诉趋势：按被申诉企业（件）",
        "受理用户申诉趋势：按类别（件）",
        "受理用户申诉趋势：按业务类型（件）",
    ]
    data = json.loads(client.get("/bulletin/2022H2/export.json").data)
    assert data["figures"]["appeals_accepted"] == 2 and data["revision"] == 1
    pdf = client.get("/bulletin/2022H2/export.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")  # its contents: test_bulletin_pdf.py
    assert client.get("/bulletin/2022H2/export.doc").status_code == 404


def test_a_supervisor_builds_publishes_and_sees_what_changed_in_a_new_revision(client, auth):
    """Build → revision 1 → publish → new events → build → revision 2 with the changed figure highlighted."""
    auth.as_role("supervisor")
    _some_cases()
    resp = client.post("/staff/bulletin/build", data={"period": "2022h2"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/bulletin/2022H2")
    page = client.get("/staff/bulletin/2022H2").get_data(as_text=True)
    assert "这是第一版" in page and "发布此版本" in page
    assert client.post("/staff/bulletin/2022H2/1/publish", data={"confirmed": "yes"}).status_code == 302
    assert bulletin.get_revision("2022H2", 1).published_at is not None

    db.session.add(Contact(channel="callback", at=AT))
    db.session.commit()
    client.post("/staff/bulletin/build", data={"period": "2022H2"})
    page = client.get("/staff/bulletin/2022H2").get_data(as_text=True)
    assert "第2版" in page and 'id="changes"' in page
    row = re.search(
        r'<tr class="changed"><th scope="row">回访呼出（件）</th><td class="num">0</td><td class="num">1</td>', page
    )
    assert row, page
    assert client.post("/staff/bulletin/2022H2/1/publish").status_code == 302
    assert "该版本已发布" in client.get("/staff/bulletin/2022H2?r=1").get_data(as_text=True)
    bad = client.post("/staff/bulletin/build", data={"period": "2022H3"})
    assert bad.status_code == 422 and "统计期格式" in bad.get_data(as_text=True)


def test_a_clerk_reads_statistics_for_any_range_and_drills_down_to_masked_cases(client, auth):
    """Any date range; a figure links to its cases with phones masked; a wrong range is explained, not a 500."""
    _some_cases()
    auth.as_role("clerk")
    html = client.get("/staff/statistics?from=2022-07-01&to=2022-12-31").get_data(as_text=True)
    assert "受理用户申诉（件）" in html and "查看明细" in html
    _assert_csp_clean(html)
    drill = client.get("/staff/statistics/figure/settled?from=2022-07-01&to=2022-12-31").get_data(as_text=True)
    assert "139****5678" in drill and "13912345678" not in drill
    bad = client.get("/staff/statistics?from=2022-12-31&to=2022-07-01")
    assert bad.status_code == 200 and "截止日期不能早于起始日期" in bad.get_data(as_text=True)
    assert client.get("/staff/statistics?from=nonsense&to=2022-07-01").status_code == 200
    far = client.get("/staff/statistics?from=0001-01-01&to=0001-01-02")
    assert far.status_code == 200 and "2000年至2100年" in far.get_data(as_text=True)
    assert client.get("/staff/statistics/figure/nonsense").status_code == 404
    export = client.get("/staff/statistics/export.json?from=2022-07-01&to=2022-12-31")
    assert json.loads(export.data)["figures"]["settled"] == 1
    assert client.get("/staff/statistics/export.xlsx?from=2022-07-01&to=2022-12-31").status_code == 200
    assert client.get("/staff/bulletin/2022H2").status_code == 200
    assert client.post("/staff/bulletin/build", data={"period": "2022H2"}).status_code == 403
    assert client.get("/staff/jobs").status_code == 403


def test_a_supervisor_enters_baselines_and_subscriber_counts(client, auth):
    """The forms keep what was typed and explain each error; saved figures feed 同比 and the per-million rate."""
    auth.as_role("supervisor")
    bad = client.post("/staff/statistics/baselines", data={"period": "2021", "appeals_accepted": "many"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "统计期格式" in html and 'value="2021"' in html and 'aria-invalid="true"' in html
    assert (
        client.post("/staff/statistics/baselines", data={"period": "2021H2", "appeals_accepted": "4925"}).status_code
        == 302
    )
    assert db.session.scalar(sa.select(Baseline.figures)) == {"appeals_accepted": 4925}
    op = make_appeal(state="accepted", at=AT).operator
    resp = client.post(
        "/staff/statistics/subscribers", data={"operator": str(op.id), "period": "2022H2", "count": "2000000"}
    )
    assert resp.status_code == 302
    assert db.session.scalar(sa.select(SubscriberCount.count)) == 2_000_000
    assert (
        client.post("/staff/statistics/subscribers", data={"operator": "", "period": "x", "count": "-1"}).status_code
        == 422
    )
    jobs.rollup_period("2022H2")
    figures = bulletin.latest_revision("2022H2").figures
    assert figures["yoy_change_pct"] == "-99.98" and figures["by_operator"][0]["per_million"] == "0.50"


def test_the_jobs_page_shows_failed_jobs_with_their_error_and_retries_them(client, auth):
    """A failed job is listed with its error; the supervisor's retry puts it back (inline without Redis: done)."""
    auth.as_role("supervisor")
    row = outbox.record("rollup_period", {"period": "bad"})
    db.session.commit()  # runs inline and fails
    db.session.expire_all()
    job = db.session.get(OutboxJob, row.id)
    job.status, job.args = "failed", {"period": "2022H2"}
    db.session.commit()
    html = client.get("/staff/jobs?status=failed").get_data(as_text=True)
    assert "rollup_period" in html and "not a period" in html and "未配置 Redis" in html
    assert client.post(f"/staff/jobs/{row.id}/retry").status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).status == "done"


def test_the_api_serves_published_figures_to_anyone_and_revisions_to_staff(client):
    """Public GET of a published period; staff token for ranges and revisions; supervisors roll up and publish."""
    _some_cases()
    clerk_token = accounts.create_token(make_user("clerk"), "t")[1]
    boss_token = accounts.create_token(make_user("supervisor"), "t")[1]
    db.session.commit()
    boss = {"Authorization": f"Bearer {boss_token}"}
    assert client.get("/api/v1/bulletin/2022H2").status_code == 404
    resp = client.post("/api/v1/bulletin/2022H2/rollup", headers=boss)
    assert resp.status_code == 202 and resp.json["latest"]["revision"] == 1
    assert (
        client.post("/api/v1/bulletin/2022H2/rollup", headers={"Authorization": f"Bearer {clerk_token}"}).status_code
        == 403
    )
    assert client.post("/api/v1/bulletin/2022H2/revisions/1/publish", headers=boss).status_code == 200
    assert client.post("/api/v1/bulletin/2022H2/revisions/1/publish", headers=boss).json["error"]
    public = client.get("/api/v1/bulletin/2022H2").json
    assert public["figures"]["appeals_accepted"] == 2 and "（以下简称省申诉受理中心）" in public["paragraph"]
    assert client.get("/api/v1/bulletin").json == [
        {"period": "2022H2", "revision": 1, "published_at": public["published_at"], "provisional": False}
    ]
    clerk = {"Authorization": f"Bearer {clerk_token}"}
    stats = client.get("/api/v1/statistics?from=2022-07-01&to=2022-12-31", headers=clerk)
    assert stats.status_code == 200 and stats.json["figures"]["appeals_received"] == 3
    bad = client.get("/api/v1/statistics?from=2022-13-01&to=2022-12-31", headers=clerk)
    assert bad.status_code == 422 and "from" in bad.json["errors"]
    assert client.get("/api/v1/statistics?from=0001-01-01&to=0001-01-02", headers=clerk).status_code == 422
    assert client.get("/api/v1/statistics?from=2022-07-01&to=2022-12-31").status_code == 401
    assert len(client.get("/api/v1/bulletin/2022H2/revisions", headers=clerk).json) == 1
    doc = client.get("/api/v1/openapi.json").json
    assert "/bulletin/{period}" in doc["paths"] and "/statistics" in doc["paths"]


def test_the_bulletin_page_reads_in_english_on_request(client):
    """With the language cookie the headings and tables are English; the official paragraph stays Chinese."""
    _some_cases()
    _published()
    client.set_cookie("lang", "en")
    html = client.get("/bulletin/2022H2").get_data(as_text=True)
    assert "Appeals handled in H2 2022" in html and "Appeals accepted" in html and 'lang="zh-CN"' in html


def test_the_bulletin_commands_build_show_and_publish(runner):
    """`flask bulletin build` rolls up (inline without Redis) and prints the figures; publish freezes a revision."""
    _some_cases()
    result = runner.invoke(args=["bulletin", "build", "2022H2"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["revision"] == 1 and shown["figures"]["appeals_accepted"] == 2 and shown["published_at"] is None
    assert json.loads(runner.invoke(args=["bulletin", "show", "2022h2"]).output)["revision"] == 1
    assert "published 2022H2 revision 1" in runner.invoke(args=["bulletin", "publish", "2022H2", "1"]).output
    assert "already published" in runner.invoke(args=["bulletin", "publish", "2022H2", "1"]).output
    assert runner.invoke(args=["bulletin", "show", "2021H2"]).exit_code == 1
    assert runner.invoke(args=["bulletin", "build", "2022H7"]).exit_code == 2


def test_the_jobs_page_shows_the_rq_queue_and_its_workers(redis_app, client, auth):
    """With Redis the supervisor sees the queue length, the workers and rq's failed registry."""
    auth.as_role("supervisor")
    outbox.record("rollup_period", {"period": "2022H2"})
    db.session.commit()
    html = client.get("/staff/jobs").get_data(as_text=True)
    assert '<dd id="queue-length">1</dd>' in html and "flask worker" in html
    assert '<dd id="failed-count">0</dd>' in html


def test_a_revision_figure_drills_down_to_the_events_of_its_period(client, auth):
    """From a revision's figure to the cases behind it; the statistics page opens on this half-year by default."""
    _some_cases()
    jobs.rollup_period("2022H2")
    auth.as_role("mediator")
    page = client.get("/staff/bulletin/2022H2").get_data(as_text=True)
    link = re.search(r'href="(/staff/statistics/figure/appeals_accepted_resale_other\?[^"]+)"', page).group(1)
    drill = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "京东通信" in drill and "2022-07-01" in drill and "中国移动吉林" not in drill
    assert client.get("/staff/statistics").status_code == 200
