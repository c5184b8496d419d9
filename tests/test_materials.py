"""Material items: checked by content, limited while streaming, stored atomically under a generated name."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.public import casefile
from cases import intake, materials
from cases.materials import MaterialRejected, material_path, safe_name, store_material
from cases.models import Appeal, Material
from tests.conftest import on_postgres
from tests.test_public_portal import today
from tests.test_validation import valid_fields

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\0" * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\0" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\0" * 120
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\0" * 120
OLE2 = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504


def office_zip(content_types: str | None = None, mimetype: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if mimetype is not None:
            zf.writestr("mimetype", mimetype)
        if content_types is not None:
            zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def ooxml(main: str) -> bytes:
    return office_zip(
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/main.xml" ContentType="{main}"/></Types>'
    )


DOCX = ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
XLSX = ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
PPTX = ooxml("application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")
DOCM = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")
ODT = office_zip(mimetype="application/vnd.oasis.opendocument.text")
ODS = office_zip(mimetype="application/vnd.oasis.opendocument.spreadsheet")
DOC = OLE2 + "WordDocument".encode("utf-16-le") + b"\0" * 64
XLS = OLE2 + "Workbook".encode("utf-16-le") + b"\0" * 64
PPT = OLE2 + "PowerPoint Document".encode("utf-16-le") + b"\0" * 64


def upload(data: bytes, name: str = "file.pdf") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def appeal(app):
    cleaned = intake.clean_appeal(valid_fields(event_date="2026-01-02", operator_complaint_date="2026-01-05"), today())
    filed = casefile.submit_appeal(cleaned)
    db.session.commit()
    return filed.appeal


def folder_listing(upload_dir) -> set[str]:
    upload_dir.mkdir(parents=True, exist_ok=True)
    return {p.name for p in upload_dir.iterdir()}


@pytest.mark.parametrize(
    "data,name,mime",
    [
        (PDF, "a.pdf", "application/pdf"),
        (JPEG, "photo.jpg", "image/jpeg"),
        (PNG, "screen.png", "image/png"),
        (DOCX, "a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (XLSX, "a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (PPTX, "a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (ODT, "a.odt", "application/vnd.oasis.opendocument.text"),
        (ODS, "a.ods", "application/vnd.oasis.opendocument.spreadsheet"),
        (DOC, "a.doc", "application/msword"),
        (XLS, "a.xls", "application/vnd.ms-excel"),
        (PPT, "a.ppt", "application/vnd.ms-powerpoint"),
        (PDF, "named-wrongly.png", "application/pdf"),
    ],
)
def test_allowed_types_are_recognised_by_their_content(appeal, upload_dir, data, name, mime):
    m = store_material(appeal, upload(data, name), source="consumer")
    db.session.commit()
    assert m.mime_type == mime and m.size == len(data) and m.sha256 == hashlib.sha256(data).hexdigest()
    assert m.original_name == name and m.source == "consumer"
    path = material_path(m)
    assert path.parent == upload_dir and path.name == m.stored_name and len(m.stored_name) == 32
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    "data,name",
    [
        (ELF, "invoice.pdf"),
        (MZ, "bill.pdf"),
        (b"<!doctype html><html><script>alert(1)</script></html>", "page.pdf"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "pic.png"),
        (b"#!/bin/sh\nrm -rf /\n", "run.docx"),
        (DOCM, "macro.docx"),
        (OLE2 + b"\0" * 64, "installer.doc"),
        (office_zip(), "empty.docx"),
        (b"PK\x03\x04broken zip", "broken.xlsx"),
    ],
)
def test_executables_markup_scripts_and_unknown_containers_are_refused(appeal, upload_dir, data, name):
    before = folder_listing(upload_dir)
    with pytest.raises(MaterialRejected) as exc:
        store_material(appeal, upload(data, name), source="consumer")
    assert exc.value.status == 415 and exc.value.reason_code == "type_not_allowed"
    db.session.commit()
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


class CountingStream(io.RawIOBase):
    """An endless upload that records how much was read from it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = len(buf)
        buf[:n] = b"%" * n
        self.read_bytes += n
        return n


def test_an_oversize_file_is_refused_while_streaming_not_after_reading_it_all(app, appeal, upload_dir, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_FILE_BYTES", 1024)
    before = folder_listing(upload_dir)
    raw = CountingStream()
    with pytest.raises(MaterialRejected) as exc:
        store_material(appeal, FileStorage(stream=raw, filename="big.pdf"), source="consumer")
    assert exc.value.status == 413 and exc.value.reason_code == "file_too_large"
    assert raw.read_bytes <= 1024 + materials.CHUNK
    assert folder_listing(upload_dir) == before
    ok = store_material(appeal, upload(PDF + b"x" * (1024 - len(PDF)), "exact.pdf"), source="consumer")
    assert ok.size == 1024


def test_a_file_that_would_pass_the_appeals_quota_is_refused(app, appeal, upload_dir, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_APPEAL_BYTES", 2048)
    store_material(appeal, upload(PDF + b"x" * 1400, "one.pdf"), source="consumer")
    db.session.commit()
    before = folder_listing(upload_dir)
    with pytest.raises(MaterialRejected) as exc:
        store_material(appeal, upload(PDF + b"x" * 700, "two.pdf"), source="consumer")
    assert exc.value.status == 413 and exc.value.reason_code == "appeal_quota"
    with pytest.raises(MaterialRejected):
        materials.check_appeal_quota(appeal, 700)
    materials.check_appeal_quota(appeal, 100)
    assert folder_listing(upload_dir) == before
    assert len(appeal.materials) == 1


def test_an_empty_file_is_refused(appeal):
    with pytest.raises(MaterialRejected) as exc:
        store_material(appeal, upload(b"", "empty.pdf"), source="consumer")
    assert exc.value.status == 422 and exc.value.reason_code == "empty_file"


@pytest.mark.parametrize(
    "given,kept",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32\\x.pdf", "x.pdf"),
        ("/var/www/index.pdf", "index.pdf"),
        ("a\x00b\nc\x1b.pdf", "abc.pdf"),
        ("..", "file"),
        ("", "file"),
        ("名" * 300 + ".pdf", "名" * 116 + ".pdf"),
    ],
)
def test_the_original_name_is_sanitised_and_never_used_as_a_path(appeal, upload_dir, given, kept):
    assert safe_name(given) == kept
    m = store_material(appeal, upload(PDF, given), source="consumer")
    db.session.commit()
    assert m.original_name == kept and material_path(m).parent == upload_dir
    assert not (upload_dir.parent / "etc").exists()


def test_a_failed_write_leaves_no_half_file_and_no_row(appeal, upload_dir, monkeypatch):
    before = folder_listing(upload_dir)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(materials.os, "replace", broken_replace)
    with pytest.raises(MaterialRejected) as exc:
        store_material(appeal, upload(PDF, "a.pdf"), source="consumer")
    assert (exc.value.status, exc.value.reason_code) == (503, "storage_failed")  # a real full disk: test_upload_hostile
    db.session.rollback()
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_a_failed_database_commit_removes_the_stored_file(appeal, upload_dir):
    before = folder_listing(upload_dir)
    m = store_material(appeal, upload(PDF, "a.pdf"), source="consumer")
    assert material_path(m).exists()
    m.original_name = None  # NOT NULL: the commit fails
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_a_rolled_back_upload_leaves_nothing_and_a_committed_one_stays(appeal, upload_dir):
    before = folder_listing(upload_dir)
    store_material(appeal, upload(PDF, "a.pdf"), source="consumer")
    db.session.rollback()
    assert folder_listing(upload_dir) == before
    kept = store_material(appeal, upload(PDF, "b.pdf"), source="staff")
    db.session.commit()
    assert material_path(kept).exists() and folder_listing(upload_dir) == before | {kept.stored_name}


def test_the_upload_folder_is_outside_the_web_root(app):
    static = os.path.realpath(app.static_folder)
    assert not os.path.realpath(app.config["UPLOAD_FOLDER"]).startswith(static)


@pytest.mark.skipif(not on_postgres, reason="row locks: PostgreSQL only (SQLite serialises whole transactions)")
def test_two_uploads_at_once_cannot_both_squeeze_into_the_quota(app, appeal, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_APPEAL_BYTES", 2048)
    appeal_id = appeal.id
    first_stored, release, outcome = threading.Event(), threading.Event(), {}

    def first_upload():
        with app.app_context():
            store_material(db.session.get(Appeal, appeal_id), upload(PDF + b"x" * 1400, "one.pdf"), source="consumer")
            first_stored.set()
            release.wait(10)
            db.session.commit()
            db.session.remove()

    def second_upload():
        with app.app_context():
            try:
                store_material(
                    db.session.get(Appeal, appeal_id), upload(PDF + b"y" * 900, "two.pdf"), source="consumer"
                )
                db.session.commit()
                outcome["second"] = "stored"
            except MaterialRejected as exc:
                outcome["second"] = exc.reason_code
            finally:
                db.session.remove()

    a = threading.Thread(target=first_upload)
    a.start()
    assert first_stored.wait(10)
    b = threading.Thread(target=second_upload)
    b.start()
    b.join(0.5)
    assert b.is_alive()  # waiting for the first upload's lock on the appeal
    release.set()
    a.join(10)
    b.join(10)
    assert outcome == {"second": "appeal_quota"}
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 1
