"""`flask materials migrate --to s3://…` and `flask materials verify`, against the S3-compatible server."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import storage
from cases.materials import material_path, store_material
from cases.models import Appeal, Material
from tests.test_api_public import file_appeal
from tests.test_storage_s3 import PDF
from tests.test_upload_hostile import upload


@pytest.fixture
def case(client) -> Appeal:
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == file_appeal(client)["case_no"]))


def local_materials(case, monkeypatch, app, n: int) -> list[Material]:
    monkeypatch.setitem(app.config, "MATERIALS_STORAGE", "")
    rows = [store_material(case, upload(PDF + str(k).encode(), f"m{k}.pdf"), source="consumer") for k in range(n)]
    db.session.commit()
    return rows


def run(runner, *args) -> tuple[int, dict]:
    result = runner.invoke(args=["materials", *args])
    return result.exit_code, json.loads(result.stdout[result.stdout.index("{") :])


def test_migrate_copies_verifies_and_switches_only_verified_rows_and_resumes(app, runner, case, s3_store, monkeypatch):
    url = s3_store.url
    rows = local_materials(case, monkeypatch, app, 4)
    ids = [m.id for m in rows]
    material_path(rows[3]).write_bytes(b"%PDF-1.4 tampered")  # a local file that no longer matches its row

    sent = []
    real_put = storage.S3Storage.put_file

    def put_then_die(self, key, path, size):
        if len(sent) == 1:
            raise storage.StorageError("connection reset")  # the run is cut off at the second object
        sent.append(key)
        return real_put(self, key, path, size)

    monkeypatch.setattr(storage.S3Storage, "put_file", put_then_die)
    code, first = run(runner, "migrate", "--to", url)
    assert code == 1 and first["copied"] == 1 and first["failed"] == 3 and first["remaining"] == 3
    db.session.expire_all()
    assert [db.session.get(Material, i).storage for i in ids] == [url, "", "", ""]

    monkeypatch.setattr(storage.S3Storage, "put_file", real_put)
    code, second = run(runner, "migrate", "--to", url)
    assert (second["copied"], second["failed"], second["remaining"]) == (2, 1, 1)
    assert "do not match" in second["failures"][0]["error"] and second["failures"][0]["id"] == ids[3]
    db.session.expire_all()
    assert [db.session.get(Material, i).storage for i in ids] == [url, url, url, ""]  # the bad one stays local
    assert sorted(s3_store.keys()) == sorted(db.session.get(Material, i).stored_name for i in ids[:3])
    for i in ids[:3]:
        m = db.session.get(Material, i)
        assert storage.hash_object(s3_store, m.stored_name) == (m.size, m.sha256)

    code, third = run(runner, "migrate", "--to", url)  # run again: nothing is sent twice
    assert (third["copied"], third["already_there"], third["failed"]) == (0, 0, 1)


def test_an_object_sent_before_the_row_switched_is_not_sent_again(app, runner, case, s3_store, monkeypatch):
    rows = local_materials(case, monkeypatch, app, 1)
    s3_store.put_file(rows[0].stored_name, material_path(rows[0]), rows[0].size)  # as a cut-off run left it
    code, summary = run(runner, "migrate", "--to", s3_store.url)
    assert code == 0 and (summary["copied"], summary["already_there"], summary["remaining"]) == (0, 1, 0)


def test_verify_counts_missing_wrong_size_and_wrong_hash_objects(app, runner, case, s3_store, monkeypatch):
    rows = local_materials(case, monkeypatch, app, 4)
    code, clean = run(runner, "verify")
    assert code == 0 and (clean["checked"], clean["ok"]) == (4, 4)

    material_path(rows[0]).unlink()
    material_path(rows[1]).write_bytes(b"short")
    material_path(rows[2]).write_bytes(PDF + b"X")  # same size as its row, other bytes
    code, found = run(runner, "verify")
    assert code == 1
    assert (found["ok"], found["missing"], found["wrong_size"], found["wrong_hash"]) == (1, 1, 1, 1)
    assert {p["id"]: p["problem"] for p in found["problems"]} == {
        rows[0].id: "missing",
        rows[1].id: "wrong_size",
        rows[2].id: "wrong_hash",
    }


def test_migrate_refuses_a_target_that_is_not_a_storage_url(runner):
    result = runner.invoke(args=["materials", "migrate", "--to", "ftp://x"])
    assert result.exit_code == 2 and "s3://bucket/prefix" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0
