"""Figures that stay true: each rule of issue 14 on its own, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import bulletin, statistics
from cases.bulletin import Period
from cases.models import CaseEvent, Material, Operator, Settlement
from tests.factories import make_appeal, operator
from tests.jobs_helpers import appeal_line, import_file, iso, write_jsonl
from workflows import engine
from workflows.engine import InvalidFields

H1, H2 = Period.parse("2023H1"), Period.parse("2023H2")
AT = dt.datetime(2023, 3, 1, 2, 0)
CST = dt.timezone(dt.timedelta(hours=8))


def figures(p: Period) -> dict:
    return statistics.compute(p.start_utc, p.end_utc, p)


def _material(appeal, source: str, at: dt.datetime = AT) -> None:
    db.session.add(
        Material(appeal=appeal, original_name=f"{source}.pdf", size=1, sha256="0" * 64, received_at=at, source=source)
    )


def test_materials_count_what_appellants_submitted_not_the_operators_evidence(app):
    """Online uploads, items staff recorded from post or the counter, and legacy items count; operator evidence not."""
    appeal = make_appeal(state="replied", at=AT)
    for source in ("consumer", "consumer", "staff", "legacy", "operator", "operator"):
        _material(appeal, source)
    db.session.commit()
    f = figures(H1)
    assert f["materials_received"] == 4
    rows = statistics.drilldown("materials_received", H1.start_utc, H1.end_utc)
    assert sorted(r["source"] for r in rows) == ["consumer", "consumer", "legacy", "staff"]


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"perform_by": "2023-03-31"}, "terms"),  # a date alone is no settlement
        ({"refund_amount": "0", "other_terms": "  ", "perform_by": "2023-03-31"}, "terms"),
        ({"apology": True, "perform_by": "2023-02-28"}, "perform_by"),  # a date already past
        ({"apology": True}, "perform_by"),
    ],
)
def test_a_live_settlement_needs_a_term_and_a_carry_out_date_from_its_day(app, terms, field):
    appeal = make_appeal(state="replied", at=AT)
    with pytest.raises(InvalidFields) as refused:
        engine.perform(appeal, "settle", role="mediator", data=terms, at=AT + dt.timedelta(days=1))
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Settlement)) == 0


def test_a_settlement_with_one_term_due_on_its_own_day_is_recorded(app):
    """The carry-out date may be the day of settlement itself (Asia/Shanghai): 2023-03-01 23:30 local."""
    appeal = make_appeal(state="replied", at=AT)
    late_evening = dt.datetime(2023, 3, 1, 15, 30)  # 23:30 in Shanghai
    engine.perform(
        appeal, "settle", role="mediator", data={"service_restored": "y", "perform_by": "2023-03-01"}, at=late_evening
    )
    db.session.commit()
    assert appeal.status == "settled"


def test_the_settlement_rule_reaches_the_web_form_with_what_to_fix(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="replied")
    page = client.post(
        f"/staff/cases/{appeal.case_no}/actions/settle",
        data={"settle-version": appeal.version, "settle-perform_by": "2020-01-01", "settle-other_terms": ""},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "和解至少要有一项条款" in html and 'id="settle-perform_by-error"' in html


def test_the_settlement_rule_speaks_english(client, auth):
    auth.as_role("mediator")
    appeal = make_appeal(state="replied")
    english = client.post(
        f"/staff/cases/{appeal.case_no}/actions/settle?lang=en",
        data={"settle-version": appeal.version, "settle-perform_by": "2020-01-01"},
        headers={"Accept-Language": "en"},
    )
    assert english.status_code == 422 and "A settlement needs at least one term" in english.get_data(as_text=True)


def test_the_paragraph_leaves_out_the_rate_without_acceptances_and_says_level_for_no_change():
    base = {
        "phone_consultations": 1,
        "callbacks": 2,
        "visits": 0,
        "materials_received": 3,
        "appeals_accepted": 0,
        "appeals_accepted_basic": 0,
        "appeals_accepted_resale_other": 0,
        "settled": 2,
        "settlement_rate_pct": None,
        "yoy_change_pct": None,
    }
    text = bulletin.paragraph(H2, base, "吉林省电信用户申诉受理中心", "省申诉受理中心")
    assert text.endswith("达成和解2件。") and "和解率" not in text
    level = dict(base, appeals_accepted=4, appeals_accepted_basic=4, settlement_rate_pct="50.00", yoy_change_pct="0.00")
    text = bulletin.paragraph(H2, level, "吉林省电信用户申诉受理中心", "省申诉受理中心")
    assert "），同比持平，经" in text and "同比上升" not in text and text.endswith("和解率50.00%。")


def test_an_old_acceptance_stays_with_the_operator_and_kind_it_had_when_accepted(app):
    """Accepted against a basic operator in H1, re-referred to a reseller in H2: H1 keeps its split."""
    appeal = make_appeal(state="referred", at=AT)
    before = figures(H1)
    engine.perform(appeal, "refer", role="mediator", data={"operator": "mvno_xiaomi"}, at=dt.datetime(2023, 8, 1, 2, 0))
    db.session.commit()
    after = figures(H1)
    assert before["appeals_accepted_basic"] == after["appeals_accepted_basic"] == 1
    assert after["appeals_accepted_resale_other"] == 0
    assert [(o["operator"], o["accepted"]) for o in after["by_operator"]] == [("cmcc_jl", 1)]
    assert appeal.operator.code == "mvno_xiaomi"  # the case itself is now against the reseller


def test_a_case_closed_in_one_half_year_and_reopened_in_the_next_stays_closed_in_the_first(app):
    appeal = make_appeal(state="closed", at=AT)
    engine.perform(appeal, "reopen", role="supervisor", data={"reason": "复核"}, at=dt.datetime(2023, 8, 1, 2, 0))
    db.session.commit()
    assert appeal.closed_at is None
    assert figures(H1)["timeliness"]["closed"] == 1
    assert figures(H2)["timeliness"]["closed"] == 0
    engine.perform(appeal, "end_mediation", role="mediator", data={"advice": "仲裁"}, at=dt.datetime(2023, 8, 9, 2, 0))
    db.session.commit()
    assert figures(H2)["timeliness"] == figures(H2)["timeliness"] | {"closed": 1, "median_days_to_close": "161.00"}


def test_the_breakdown_shows_the_name_of_an_operator_without_a_short_name(app):
    db.session.add(Operator(code="legacy_op", name="某某通信有限公司", short_name="", operator_type="resale"))
    db.session.commit()
    make_appeal(state="accepted", at=AT, operator_code="legacy_op")
    row = next(o for o in figures(H1)["by_operator"] if o["operator"] == "legacy_op")
    assert row["name"] == "某某通信有限公司"


# --- lenient import of history -------------------------------------------------------------------------------


def _legacy_lines() -> list[dict]:
    received = dt.datetime(2023, 2, 1, 9, 0, tzinfo=CST)
    day = dt.timedelta(days=1)
    to_reply = [("accept", received + day, {}), ("refer", received + 2 * day, {}), ("reply", received + 3 * day, {})]
    return [
        appeal_line("JL2023-000001", received, "cmcc_jl", [*to_reply, ("settle", received + 4 * day, {})]),
        appeal_line(
            "JL2023-000002",
            received,
            "cmcc_jl",
            [*to_reply, ("mediate", received + 4 * day, {}), ("end_mediation", received + 5 * day, {})],
        ),
        appeal_line("JL2023-000003", received, "unicom_jl", [("reject", received + day, {})]),
        appeal_line(
            "JL2023-000004",
            received,
            "unicom_jl",
            [
                ("accept", received + day, {}),
                ("refer", received + 2 * day, {}),
                ("reply", received + 3 * day, {"text": "已退费"}),
                ("settle", received + 4 * day, {"terms": {"refund_amount": "10", "perform_by": "2023-02-28"}}),
            ],
        ),
    ]


def test_legacy_events_without_details_are_imported_counted_and_marked(app, client, auth, tmp_path):
    """A settle without terms, an end_mediation without advice, a reject without ground, a reply without text."""
    report = import_file(write_jsonl(tmp_path / "legacy.jsonl", _legacy_lines()))
    assert report.committed, report.errors
    assert report.without_details == {"reply": 2, "settle": 1, "end_mediation": 1, "reject": 1}
    f = figures(H1)
    assert (f["appeals_received"], f["appeals_accepted"], f["settled"], f["appeals_rejected"]) == (4, 3, 2, 1)
    assert f["rejected_by_ground"] == {"unknown": 1} and f["by_outcome"]["mediation_failed"] == 1
    assert f["settlement_rate_pct"] == "66.67"
    marked = db.session.scalars(
        sa.select(CaseEvent.action).where(CaseEvent.details["imported_without_details"].as_boolean().is_(True))
    ).all()
    assert sorted(marked) == ["end_mediation", "reject", "reply", "reply", "settle"]

    auth.as_role("supervisor")
    page = client.get("/staff/cases/JL2023-000001").get_data(as_text=True)
    assert "导入时原系统未记录详情" in page
    table = client.get("/staff/statistics?from=2023-01-01&to=2023-06-30").get_data(as_text=True)
    assert "理由不详" in table


def test_an_unknown_field_name_is_reported_with_the_names_expected_and_a_dry_run_counts_problem_kinds(
    app, runner, tmp_path
):
    received = dt.datetime(2023, 2, 1, 9, 0, tzinfo=CST)
    settle = {"terms": {"refund_yuan": "10", "perform_by": "2023-02-28"}}
    steps = [("accept", received, {}), ("refer", received, {}), ("reply", received, {}), ("settle", received, settle)]
    lines = [appeal_line(f"JL2023-00001{i}", received, "cmcc_jl", steps) for i in range(3)]
    lines.append(dict(appeal_line("JL2023-000020", received, "cmcc_jl", []), complaint_date="2023-01-01"))
    lines.append({"kind": "contact", "channel": "fax", "at": iso(received)})
    report = import_file(write_jsonl(tmp_path / "named.jsonl", lines))
    reasons = dict(report.errors)
    assert reasons[1] == (
        "events[4].terms.refund_yuan: unknown field; expected refund_amount, service_restored, apology, "
        "other_terms, perform_by"
    )
    assert reasons[4].startswith("complaint_date: unknown field; expected kind, case_no, received_at")
    assert report.problems == {
        "events[].terms.refund_yuan: unknown field; expected refund_amount, service_restored, apology, "
        "other_terms, perform_by": 3,
        "complaint_date: unknown field; expected kind, case_no, received_at, operator, category, service_type, "
        "complainant, service_number, channel, facts, request, events": 1,
        "channel: unknown contact_channel code …": 1,
    }
    result = runner.invoke(args=["import-records", str(tmp_path / "named.jsonl"), "--dry-run"])
    assert result.exit_code == 1
    assert "bad lines by kind of problem:" in result.output
    assert "       3  events[].terms.refund_yuan: unknown field" in result.output
    summary = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert sum(summary["problems"].values()) == 5


def test_what_the_counts_need_stays_required_in_an_import(app, tmp_path):
    """The action's time, the case's operator and type: without them a line is refused."""
    received = dt.datetime(2023, 2, 1, 9, 0, tzinfo=CST)
    no_time = appeal_line("JL2023-000030", received, "cmcc_jl", [])
    no_time["events"] = [{"action": "accept"}]
    no_operator = appeal_line("JL2023-000031", received, "cmcc_jl", [])
    del no_operator["operator"]
    no_type = dict(appeal_line("JL2023-000032", received, "cmcc_jl", []), service_type="")
    report = import_file(write_jsonl(tmp_path / "needed.jsonl", [no_time, no_operator, no_type]))
    assert [n for n, _ in report.errors] == [1, 2, 3] and not report.committed
    assert operator("cmcc_jl") is not None
