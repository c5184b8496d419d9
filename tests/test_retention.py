"""Personal data kept only as long as allowed (cases/retention.py): anonymise, skip held cases, figures unchanged."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import bulletin, retention, trends, webhooks
from cases.materials import material_path
from cases.models import (
    Appeal,
    BulletinRevision,
    CaseEvent,
    Contact,
    Material,
    RetentionRun,
    User,
    WebhookEvent,
    utcnow,
)
from tests.conftest import make_user
from tests.jobs_helpers import SEED, half_year_lines, import_file, write_jsonl
from tests.test_api_public import PDF, code_header, file_appeal
from workflows import jobs, scheduler

LONG_AGO = dt.timedelta(days=4 * 366)


def test_free_text_loses_phones_ids_emails_and_the_known_names():
    text = "张三（身份证220102199001011239，电话13800138000，座机0431-88888888，邮箱zs@example.com）姓名：李四"
    masked = retention.mask_text(text, ("张三",))
    for gone in ("张三", "220102199001011239", "13800138000", "88888888", "zs@example.com", "李四"):
        assert gone not in masked
    assert "张*" in masked and "138****8000" in masked and "220102********1239" in masked and "李*" in masked


def file_and_withdraw(client, **fields) -> Appeal:
    receipt = file_appeal(client, **fields)
    headers = code_header(receipt["access_code"])
    added = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials", headers=headers, data={"file": (io.BytesIO(PDF), "账单.pdf")}
    )
    assert added.status_code == 201
    gone = client.post(f"/api/v1/appeals/{receipt['case_no']}/withdraw", headers=headers, json={"reason": "张三已解决"})
    assert gone.status_code == 200
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == receipt["case_no"]))


def age(appeal: Appeal) -> None:
    """As if the case had closed four years ago."""
    appeal.closed_at = utcnow() - LONG_AGO
    db.session.commit()


def test_an_expired_case_is_anonymised_its_files_deleted_and_a_held_or_recent_one_kept(client, runner, auth):
    facts = "张三的手机13800138000被多扣费，身份证220102199001011239。"
    old = file_and_withdraw(client, facts=facts, email="zs@example.com", id_number="220102199001011239")
    held = file_and_withdraw(client, facts=facts)
    recent = file_and_withdraw(client, facts=facts)
    age(old)
    age(held)
    supervisor = make_user("supervisor")
    retention.set_legal_hold(held, supervisor, "诉讼中，法院调取材料")
    db.session.commit()
    # what the operator was sent when the case was referred, kept for redelivery
    hook = webhooks.new_event("referral.created", old.operator_id, old, webhooks.referral_created(old))
    kept_hook = webhooks.new_event("referral.created", held.operator_id, held, webhooks.referral_created(held))
    db.session.commit()
    phone, service_number = old.phone, old.service_number
    old_material = old.materials[0]
    old_path = material_path(old_material)
    size, sha = old_material.size, old_material.sha256
    db.session.add_all(
        [
            Contact(
                channel="phone_consultation",
                at=utcnow() - LONG_AGO,
                person_name="赵六",
                phone="13912345678",
                notes="赵六来电，电话13912345678",
            ),
            Contact(channel="visit", at=utcnow(), person_name="钱七", phone="13700000000", notes="钱七来访"),
        ]
    )
    db.session.commit()

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0
    assert json.loads(dry.output) | {"run_id": 0, "cutoff": ""} == {
        "dry_run": True,
        "cutoff": "",
        "run_id": 0,
        "cases": 1,
        "contacts": 1,
        "materials": 1,
        "objects_not_deleted": 0,
    }
    db.session.expire_all()
    assert old.anonymised_at is None and old_path.exists()

    done = json.loads(runner.invoke(args=["retention", "run"]).output)
    assert (done["cases"], done["contacts"], done["materials"], done["dry_run"]) == (1, 1, 1, False)
    db.session.expire_all()
    assert old.anonymised_at is not None and old.complainant_name == retention.ANONYMISED_NAME
    assert (old.phone, old.id_number, old.address, old.email) == ("", "", "", "")
    assert "13800138000" not in old.facts and "张三" not in old.facts and "220102199001011239" not in old.facts
    assert all("张三" not in json.dumps(e.details, ensure_ascii=False) for e in old.events)
    sent = json.dumps(db.session.get(WebhookEvent, hook.id).data, ensure_ascii=False)
    assert phone not in sent and service_number not in sent and "张三" not in sent and "13800138000" not in sent
    assert db.session.get(WebhookEvent, hook.id).data["appellant"] == {"name": retention.ANONYMISED_NAME, "phone": ""}
    assert db.session.get(WebhookEvent, kept_hook.id).data["appellant"]["name"] == "张三"  # the held case's
    m = db.session.get(Material, old_material.id)
    assert (m.stored_name, m.removed, m.size, m.sha256) == (None, "retention", size, sha)
    assert not old_path.exists()
    for kept in (held, recent):
        assert kept.anonymised_at is None and kept.complainant_name == "张三" and "13800138000" in kept.facts
        assert material_path(kept.materials[0]).exists()
    contacts = {c.channel: c for c in db.session.scalars(sa.select(Contact))}
    assert (
        contacts["phone_consultation"].person_name == "" and "13912345678" not in contacts["phone_consultation"].notes
    )
    assert contacts["visit"].person_name == "钱七"

    auth.as_role("clerk")
    assert client.get(f"/staff/cases/{old.case_no}/materials/{m.id}").status_code == 404
    page = client.get(f"/staff/cases/{old.case_no}").get_data(as_text=True)
    assert "13800138000" not in page and "张三" not in page

    runs = db.session.scalars(sa.select(RetentionRun).order_by(RetentionRun.id)).all()
    assert [r.dry_run for r in runs] == [True, False] and runs[1].counts["cases"] == 1
    assert "张三" not in json.dumps(runs[1].counts, ensure_ascii=False)
    again = json.loads(runner.invoke(args=["retention", "run"]).output)
    assert (again["cases"], again["contacts"], again["materials"]) == (0, 0, 0)


def test_an_expired_case_in_s3_loses_its_object(client, s3_store):
    old = file_and_withdraw(client)
    key = old.materials[0].stored_name
    assert s3_store.stat(key) is not None
    age(old)
    assert retention.run()["materials"] == 1
    assert s3_store.stat(key) is None


def test_only_a_supervisor_sets_a_hold_and_it_needs_a_reason(client):
    appeal = file_and_withdraw(client)
    with pytest.raises(retention.LegalHoldRefused):
        retention.set_legal_hold(appeal, make_user("mediator"), "原因")
    with pytest.raises(retention.LegalHoldRefused):
        retention.set_legal_hold(appeal, make_user("supervisor"), "  ")
    supervisor = db.session.scalar(sa.select(User).where(User.role == "supervisor"))
    event = retention.set_legal_hold(appeal, supervisor, "仲裁中")
    db.session.commit()
    assert event.action == "legal_hold" and event.internal and appeal.legal_hold_reason == "仲裁中"


def test_the_nightly_job_runs_at_three_local_time():
    entry = next(e for e in scheduler.SCHEDULE if e.task == "apply_retention")
    assert entry.daily_at == dt.time(3, 0)
    assert jobs.REGISTRY.tasks["apply_retention"] is jobs.apply_retention


def test_on_the_seeds_half_year_the_published_figures_and_a_fresh_rollup_stay_the_same(app, tmp_path):
    """2022H2 with the seed's totals, rolled up and published; years later the job anonymises it; same figures."""
    report = import_file(write_jsonl(tmp_path / "2022h2.jsonl", half_year_lines()))
    assert report.committed
    jobs.rollup_period("2022H2")
    published = bulletin.latest_revision("2022H2")
    bulletin.publish(published, None)
    db.session.commit()
    before = dict(published.figures)
    for name, value in SEED.items():
        assert before[name] == value, name

    done = retention.run(now=dt.datetime(2026, 12, 5))
    assert done["cases"] > 0 and done["contacts"] == SEED["phone_consultations"] + SEED["callbacks"] + SEED["visits"]
    anonymised = sa.select(sa.func.count(Appeal.id)).where(Appeal.anonymised_at.is_not(None), Appeal.phone == "")
    assert db.session.scalar(anonymised) == done["cases"]
    jobs.rollup_period("2022H2")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(BulletinRevision.id))) == 1  # the fresh rollup is the same
    assert bulletin.published_revision("2022H2").figures == before
    assert trends.rollup_figures(bulletin.Period.parse("2022H2")) == before
    assert db.session.scalar(sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.action.like("legal%"))) == 0


def test_a_supervisor_sets_and_lifts_a_legal_hold_on_the_case_page(client, auth):
    appeal = file_and_withdraw(client)
    auth.as_role("supervisor")
    url = f"/staff/cases/{appeal.case_no}/legal-hold"
    missing = client.post(url, data={"version": appeal.version, "reason": "  "})
    assert missing.status_code == 422 and "请填写法律保全的理由" in missing.get_data(as_text=True)
    held = client.post(url, data={"version": appeal.version, "reason": "法院调取证据"})
    assert held.status_code == 302
    db.session.expire_all()
    assert appeal.legal_hold_reason == "法院调取证据" and appeal.events[-1].action == "legal_hold"
    page = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert "法院调取证据" in page and "解除法律保全" in page
    lifted = client.post(url, data={"version": appeal.version, "hold": "lift"})
    assert lifted.status_code == 302
    db.session.expire_all()
    assert appeal.legal_hold_reason == "" and appeal.events[-1].action == "legal_hold_lifted"
