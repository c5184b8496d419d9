"""Materials in S3-compatible object storage (cases/storage.py), against a real S3 server over HTTP.

The server is moto's standalone server (tests/s3_server.py says why); the app talks to it through the
`minio` client and plain streamed HTTP PUTs, exactly as it would to a production store.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import storage
from cases.materials import MaterialRejected, store_material
from cases.models import Appeal, Material
from tests.test_api_public import code_header, file_appeal
from tests.test_upload_hostile import upload

PDF = b"%PDF-1.4\n" + b"0" * 4000 + b"\n%%EOF\n"


@pytest.fixture
def case(client) -> Appeal:
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == file_appeal(client)["case_no"]))


def object_bytes(store, key: str) -> bytes:
    return b"".join(store.chunks(key))


def test_an_upload_goes_to_the_bucket_hashed_and_is_read_back_through_the_app(client, auth, s3_store, upload_dir):
    receipt = file_appeal(client)
    local_before = set(upload_dir.glob("*"))
    added = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF), "账单.pdf")},
    )
    assert added.status_code == 201 and added.json["sha256"] == hashlib.sha256(PDF).hexdigest()
    material = db.session.get(Material, added.json["id"])
    assert material.storage == s3_store.url and material.storage.startswith("s3://materials-")
    assert object_bytes(s3_store, material.stored_name) == PDF
    assert list(s3_store.keys()) == [material.stored_name]
    assert set(upload_dir.glob("*")) == local_before  # nothing new on the local disk

    auth.as_role("clerk")
    base = f"/staff/cases/{receipt['case_no']}/materials/{material.id}"
    download = client.get(base)
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E8%B4%A6%E5%8D%95.pdf" in download.headers["Content-Disposition"]
    inline = client.get(base + "/inline")
    assert inline.status_code == 200 and inline.data == PDF
    assert inline.headers["Content-Security-Policy"].startswith("sandbox;")


def test_a_refused_file_and_a_rolled_back_upload_leave_no_object(case, s3_store, app):
    with pytest.raises(MaterialRejected) as refused:
        store_material(case, upload(b"MZ\x90\x00" + b"\0" * 200, "setup.pdf"), source="consumer")
    assert refused.value.reason_code == "type_not_allowed"
    assert list(s3_store.keys()) == []

    material = store_material(case, upload(PDF, "bill.pdf"), source="consumer")
    key = material.stored_name
    assert s3_store.stat(key).size == len(PDF)  # sent before the row is committed...
    db.session.rollback()
    assert s3_store.stat(key) is None  # ...and removed when the transaction does not commit
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0
    assert not [p for p in os.listdir(s3_store.spool_dir()) if p.startswith(".upload-")]


def test_a_store_that_cannot_be_reached_is_a_503_with_no_row(client, app, s3_store, monkeypatch):
    from tests.s3_server import free_port

    receipt = file_appeal(client)
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    refused = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF), "bill.pdf")},
    )
    assert refused.status_code == 503 and refused.json["reason"] == "storage_failed"
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_a_large_file_goes_up_in_parts_streamed_from_the_spool(s3_store, tmp_path, monkeypatch):
    """Past the single-PUT size the file is sent as a multipart upload; the object is whole and exact."""
    monkeypatch.setattr(storage, "S3_SINGLE_PUT_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(storage, "S3_PART_BYTES", 1024 * 1024)  # the server allows 1 MB parts (conftest)
    data = os.urandom(3 * 1024 * 1024 + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    s3_store.put_file("big", path, len(data))
    assert storage.hash_object(s3_store, "big") == (len(data), hashlib.sha256(data).hexdigest())
    uploads = s3_store.client._list_multipart_uploads(s3_store.bucket)
    assert not list(uploads.uploads)  # the multipart upload was completed, none is left open


def test_a_missing_object_is_a_404_not_a_500(client, auth, case, s3_store):
    material = store_material(case, upload(PDF, "bill.pdf"), source="consumer")
    db.session.commit()
    s3_store.delete(material.stored_name)
    auth.as_role("clerk")
    assert client.get(f"/staff/cases/{case.case_no}/materials/{material.id}").status_code == 404
