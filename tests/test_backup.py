"""The restore drill: cases, lifecycle, materials and a published bulletin; back up; destroy the database and the
materials; restore; the same cases, events, materials (hashes) and figures, and the access codes still work."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil

import sqlalchemy as sa

from app.extensions import db
from cases import bulletin
from cases.models import Appeal, CaseEvent, Contact, Material
from tests.factories import publish_small_half_year
from tests.test_api_public import PDF, code_header, file_appeal
from workflows import jobs

AT = dt.datetime(2022, 9, 1, 2, 0)


def snapshot() -> dict:
    db.session.expire_all()
    return {
        "cases": sorted(db.session.execute(sa.select(Appeal.case_no, Appeal.status, Appeal.version)).all()),
        "events": sorted(db.session.execute(sa.select(CaseEvent.id, CaseEvent.appeal_id, CaseEvent.action)).all()),
        "materials": sorted(db.session.execute(sa.select(Material.id, Material.size, Material.sha256)).all()),
        "contacts": db.session.scalar(sa.select(sa.func.count(Contact.id))),
        "published": bulletin.published_revision("2022H2").figures,
    }


def test_a_backup_restores_into_an_empty_database_and_storage(app, client, runner, auth, upload_dir, tmp_path):
    filed = []
    for k in range(2):
        receipt = file_appeal(client)
        body = PDF + str(k).encode()
        added = client.post(
            f"/api/v1/appeals/{receipt['case_no']}/materials",
            headers=code_header(receipt["access_code"]),
            data={"file": (io.BytesIO(body), f"bill{k}.pdf")},
        )
        assert added.status_code == 201
        filed.append((receipt["case_no"], receipt["access_code"], added.json["id"], body))
    withdrawn = client.post(
        f"/api/v1/appeals/{filed[1][0]}/withdraw", headers=code_header(filed[1][1]), json={"reason": "已解决"}
    )
    assert withdrawn.status_code == 200
    publish_small_half_year(AT)
    before = snapshot()
    assert before["published"]["appeals_accepted"] >= 2

    folder = tmp_path / "backup"
    made = runner.invoke(args=["backup", str(folder)])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.output)
    assert summary["materials"] == summary["materials_copied"] == 2 and summary["rows"]["appeal"] == 5

    # the disaster: the database's tables and the materials' files are gone
    db.session.remove()
    db.drop_all()
    shutil.rmtree(upload_dir)
    again = runner.invoke(args=["backup", str(folder)])
    assert again.exit_code != 0 and "not empty" in again.output  # a backup never overwrites another

    restored = runner.invoke(args=["restore", str(folder)])
    assert restored.exit_code == 0, restored.output
    result = json.loads(restored.output)
    assert result["rows_match"] and result["materials"] == {"restored": 2, "present": 0, "missing": 0, "wrong_hash": 0}
    assert snapshot() == before

    for case_no, code, material_id, body in filed:
        tracked = client.get(f"/api/v1/appeals/{case_no}", headers=code_header(code))
        assert tracked.status_code == 200  # the access code still works
        m = db.session.get(Material, material_id)
        assert (
            hashlib.sha256((upload_dir / m.stored_name).read_bytes()).hexdigest()
            == m.sha256
            == hashlib.sha256(body).hexdigest()
        )
    jobs.rollup_period("2022H2")  # a fresh rollup of the restored records gives the same figures: no new revision
    assert len(bulletin.revisions("2022H2")) == 1
    refused = runner.invoke(args=["restore", str(folder)])
    assert refused.exit_code != 0 and "not empty" in refused.output  # never over a live database
