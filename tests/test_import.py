"""The import of historical records: the seed's half-year, bad lines, dry runs, idempotency and faithful replay."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata

import sqlalchemy as sa

from app.extensions import db
from cases import bulletin
from cases.models import Appeal, CaseEvent, Contact, Material, Operator, OutboxJob, Referral, Settlement
from cases.numbering import next_case_no
from tests.conftest import needs_redis
from tests.jobs_helpers import (
    SEED,
    SEED_PARAGRAPH,
    appeal_line,
    half_year_lines,
    import_file,
    iso,
    run_worker,
    write_jsonl,
)
from workflows import engine, outbox

CST = dt.timezone(dt.timedelta(hours=8))


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@needs_redis
def test_a_generated_half_year_imports_and_the_rollup_on_rq_gives_the_seed_paragraph(redis_app, runner, tmp_path):
    """2022H2 records with the seed's totals + the 2021H2 baseline, imported by the CLI, rolled up on a real worker."""
    path = write_jsonl(tmp_path / "2022h2.jsonl", half_year_lines())
    result = runner.invoke(args=["import-records", str(path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["committed"] and summary["added"]["contact"] == 2364 + 26416 + 5
    assert _count(OutboxJob) == 0  # the import sends no notifications

    outbox.record("rollup_period", {"period": "2022H2"})
    db.session.commit()  # handed to Redis after the commit
    assert db.session.scalar(sa.select(OutboxJob.status)) == "enqueued"
    run_worker(redis_app)

    db.session.expire_all()
    assert db.session.scalar(sa.select(OutboxJob.status)) == "done"
    rev = bulletin.latest_revision("2022H2")
    assert rev.number == 1
    for name, value in SEED.items():
        assert rev.figures[name] == value, name
    assert rev.figures["yoy_change_pct"] == "13.04" and rev.figures["settlement_rate_pct"] == "58.69"
    assert "，" in rev.paragraph and "（" in rev.paragraph  # full-width, as official documents
    assert unicodedata.normalize("NFKC", rev.paragraph) == SEED_PARAGRAPH


def test_the_same_file_imported_twice_adds_nothing(app, tmp_path):
    """Appeals by case number, contacts by line hash, materials by (case, sha256, time): a second run adds nothing."""
    figures = dict(SEED, phone_consultations=30, callbacks=40, visits=2, materials_received=25, appeals_accepted=12)
    figures.update(appeals_accepted_basic=10, appeals_accepted_resale_other=2, settled=5)
    path = write_jsonl(tmp_path / "small.jsonl", half_year_lines(figures))
    first = import_file(path)
    assert first.ok and first.committed
    counts = {m.__name__: _count(m) for m in (Appeal, CaseEvent, Contact, Material, Referral, Settlement)}
    second = import_file(path)
    assert second.ok and sum(second.added.values()) == 0
    assert second.skipped["appeal"] == 32 and second.skipped["contact"] == 72 and second.skipped["material"] == 25
    assert {m.__name__: _count(m) for m in (Appeal, CaseEvent, Contact, Material, Referral, Settlement)} == counts


def test_bad_lines_are_reported_by_number_and_nothing_is_changed(app, tmp_path):
    """Every bad line is listed with its reason; the good lines around them are not imported either."""
    good = {"kind": "contact", "channel": "visit", "at": "2022-08-01T10:00:00+08:00"}
    received = dt.datetime(2022, 8, 1, 9, 0, tzinfo=CST)
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"kind": "contact", "channel": "fax", "at": "2022-08-01T10:00:00+08:00"}),
        json.dumps({"kind": "contact", "channel": "visit", "at": "2022-08-01T10:00:00"}),
        json.dumps(appeal_line("JL2022-000001", received, "cmcc_jl", [("settle", received, {})])),
        json.dumps(
            {
                "kind": "material",
                "case_no": "JL2022-999999",
                "received_at": iso(received),
                "filename": "a",
                "size": 1,
                "sha256": "0" * 64,
            }
        ),
        json.dumps({"kind": "subscribers", "operator": "nobody", "period": "2022H2", "count": 5}),
        json.dumps({"kind": "baseline", "period": "2022H3", "figures": {"appeals_accepted": 1}}),
        json.dumps({"kind": "ufo"}),
        json.dumps({"kind": "contact", "channel": "visit", "at": "2022-08-01T10:00:00+08:00", "notes": "a\x00b"}),
        json.dumps(
            {
                "kind": "material",
                "case_no": "JL2022-000001",
                "received_at": iso(received),
                "filename": "a",
                "size": 10**30,
                "sha256": "0" * 64,
            }
        ),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(path)
    assert [n for n, _ in report.errors] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    reasons = dict(report.errors)
    assert "JSON" in reasons[2] and "contact_channel" in reasons[3] and "offset" in reasons[4]
    assert "settle not allowed from state received" in reasons[5]
    assert "JL2022-999999" in reasons[6] and "operator" in reasons[7] and "period" in reasons[8]
    assert "NUL" in reasons[10] and "size" in reasons[11]
    assert not report.committed and _count(Contact) == 0 and _count(Appeal) == 0


def test_a_dry_run_checks_everything_and_changes_nothing(app, runner, tmp_path):
    """--dry-run reads the whole file through the same checks and leaves the database as it was."""
    figures = dict(SEED, phone_consultations=3, callbacks=3, visits=1, materials_received=4, appeals_accepted=3)
    figures.update(appeals_accepted_basic=2, appeals_accepted_resale_other=1, settled=1)
    path = write_jsonl(tmp_path / "dry.jsonl", half_year_lines(figures))
    result = runner.invoke(args=["import-records", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was changed" in result.output
    assert json.loads(result.output.splitlines()[0])["added"]["appeal"] == 23
    assert _count(Appeal) == 0 and _count(Contact) == 0 and _count(Material) == 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "contact"}\n', encoding="utf-8")
    result = runner.invoke(args=["import-records", str(bad), "--dry-run"])
    assert result.exit_code == 1 and "line 1: channel" in result.output


def _case_file(appeal: Appeal) -> dict:
    """What a case looks like after its history: state, events, clocks, referral and settlement."""
    referral = db.session.scalar(sa.select(Referral).where(Referral.appeal_id == appeal.id))
    settlement = db.session.scalar(sa.select(Settlement).where(Settlement.appeal_id == appeal.id))
    return {
        "status": appeal.status,
        "outcome": appeal.outcome,
        "accepted_at": appeal.accepted_at,
        "closed_at": appeal.closed_at,
        "events": [(e.action, e.from_state, e.to_state, e.at, e.details) for e in appeal.events],
        "deadlines": [(d.kind, d.started_at, d.due_at, d.stopped_at, d.met) for d in appeal.deadlines],
        "referral": (referral.referred_at, referral.due_at, referral.replied_at, referral.reply_text, referral.active),
        "settlement": (str(settlement.refund_amount), settlement.perform_by, settlement.agreed_at),
    }


def test_an_imported_case_is_exactly_as_if_handled_live(app, tmp_path):
    """The import replays the lifecycle table: the same states, events, clocks and side records as live handling."""
    received = dt.datetime(2022, 9, 29, 9, 0, tzinfo=CST)  # before the National Day holiday: working days matter
    steps = [
        ("request_materials", received + dt.timedelta(hours=2), {"missing": "缴费凭证"}),
        ("receive_materials", received + dt.timedelta(days=9), {}),
        ("accept", received + dt.timedelta(days=10), {}),
        ("refer", received + dt.timedelta(days=10, hours=1), {}),
        ("reply", received + dt.timedelta(days=15), {"text": "已核实并退费"}),
        ("settle", received + dt.timedelta(days=16), {"terms": {"refund_amount": "35.5", "perform_by": "2022-10-31"}}),
    ]
    write_jsonl(tmp_path / "one.jsonl", [appeal_line("JL2022-000777", received, "unicom_jl", steps)])
    assert import_file(tmp_path / "one.jsonl").committed

    op = db.session.scalar(sa.select(Operator).where(Operator.code == "unicom_jl"))
    utc = received.astimezone(dt.UTC).replace(tzinfo=None)
    live = Appeal(
        case_no=next_case_no("JL", utc),
        complainant_name="王五",
        phone="13900000000",
        operator=op,
        service_type="mobile",
        service_number="13900000000",
        category="charging",
        request="退费",
        facts="多收费",
        received_at=utc,
    )
    db.session.add(live)
    engine.perform(live, "submit", role="consumer", at=utc)
    for action, at, data in steps:
        role = "operator" if action == "reply" else "supervisor"
        flat = {k: v for k, v in data.items() if k != "terms"} | data.get("terms", {})
        engine.perform(live, action, role=role, data=flat, at=at.astimezone(dt.UTC).replace(tzinfo=None))
    db.session.commit()
    assert live.case_no == "JL2022-000778"  # the sequence moved past the imported number

    imported = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == "JL2022-000777"))
    assert _case_file(imported) == _case_file(live)
    assert {e.actor_kind for e in imported.events} == {"import"}
    engine.perform(imported, "close", role="mediator", data={"note": "已履行"})  # handled on like any case
    db.session.commit()
    assert imported.status == "closed" and len(imported.events) == 8
