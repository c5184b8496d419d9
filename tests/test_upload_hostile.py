"""Hostile uploads: polyglots, active content, a real full disk, and a body that grows past the limit mid-stream.

What is refused and what is kept (and then only ever served as a download with
its stored type, or inline inside a CSP sandbox) is decided in docs/public.md.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zipfile
import zlib
from pathlib import Path

import flask_babel
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.public.uploads import SPOOL_IN_MEMORY, CappedSpool
from cases.materials import MaterialRejected, store_material
from cases.models import Appeal, Material
from tests.test_api_public import code_header, file_appeal
from tests.test_materials import JPEG, OLE2, PDF, PNG, folder_listing, upload
from tests.test_public_portal import open_case

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def case(client) -> Appeal:
    """An appeal filed through the API, committed."""
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == file_appeal(client)["case_no"]))


def zip_of(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pdf_with(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\n%%EOF\n"


JAR = zip_of(**{"META-INF/MANIFEST.MF": b"Main-Class: Evil\n", "Evil.class": b"\xca\xfe\xba\xbe"})
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
JPEG_WITH_HTML_COMMENT = JPEG[:2] + b"\xff\xfe" + struct.pack(">H", len(HTML) + 2) + HTML + JPEG[2:]
PNG_WITH_SCRIPT_TEXT = PNG[:8] + png_chunk(b"IHDR", b"\0" * 13) + png_chunk(b"tEXt", b"Comment\0" + HTML)
PDF_WITH_HTML_TEXT = pdf_with(b"1 0 obj<</Type/Catalog>>endobj\n% " + HTML)
PDF_WITH_EMBEDDED_XML = pdf_with(
    b"1 0 obj<</Type/EmbeddedFile/Subtype/text#2Fxml>>stream\n<invoice/>\nendstream endobj"
)
OBJECT_STREAM = zlib.compress(b"2 0 <</S/JavaScript/JS(app.alert(1))>>")
DOCX_PARTS = {
    "[Content_Types].xml": b'<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
    b'wordprocessingml.document.main+xml" PartName="/word/document.xml"/></Types>',
    "word/document.xml": b"<w:document/>",
}

REFUSED_POLYGLOTS = {
    "PDF with /JavaScript in an OpenAction": pdf_with(
        b"1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj"
    ),
    "PDF with the name hex-escaped (/J#61vaScript)": pdf_with(b"1 0 obj<</AA<</O<</S/J#61vaScript/JS 2 0 R>>>>>>"),
    "PDF with JavaScript inside a compressed object stream": pdf_with(
        b"3 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length %d>>stream\n" % len(OBJECT_STREAM)
        + OBJECT_STREAM
        + b"\nendstream endobj"
    ),
    "PDF with a /Launch action": pdf_with(b"1 0 obj<</OpenAction<</S/Launch/F(cmd.exe)>>>>endobj"),
    "JPEG with a JAR appended (GIFAR)": JPEG + JAR,
    "PNG with a ZIP (PHAR) appended": PNG + zip_of(**{"shell.php": b"<?php system($_GET[1]);"}),
    "PDF that is also a ZIP": pdf_with(b"1 0 obj<<>>endobj") + zip_of(**{"run.exe": b"MZ"}),
    "DOCX carrying a VBA project": zip_of(**DOCX_PARTS, **{"word/vbaProject.bin": OLE2}),
    "DOCX carrying a program": zip_of(**DOCX_PARTS, **{"word/embeddings/setup.exe": b"MZ\x90\x00"}),
    "DOCX with an ActiveX control": zip_of(**DOCX_PARTS, **{"word/activeX/activeX1.xml": b"<ax/>"}),
    "ODT with Basic macros": zip_of(
        mimetype=b"application/vnd.oasis.opendocument.text", **{"Basic/Standard/Module1.xml": b"<m/>"}
    ),
    "DOC with a VBA project": OLE2 + "WordDocument".encode("utf-16-le") + "_VBA_PROJECT".encode("utf-16-le"),
}

KEPT_POLYGLOTS = {
    "JPEG with HTML in a comment": (JPEG_WITH_HTML_COMMENT, "image/jpeg"),
    "PNG with a script in a tEXt chunk": (PNG_WITH_SCRIPT_TEXT, "image/png"),
    "PDF with HTML in a comment": (PDF_WITH_HTML_TEXT, "application/pdf"),
    "PDF with an embedded XML file (an e-invoice)": (PDF_WITH_EMBEDDED_XML, "application/pdf"),
    "DOCX with an embedded chart object": (
        zip_of(**DOCX_PARTS, **{"word/embeddings/oleObject1.bin": OLE2}),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}


@pytest.mark.parametrize("data", REFUSED_POLYGLOTS.values(), ids=REFUSED_POLYGLOTS.keys())
def test_files_carrying_script_macros_programs_or_a_hidden_archive_are_refused(case, upload_dir, data):
    """Each is a valid PDF, image or Office file, and also something that runs or unpacks: 415, nothing kept."""
    before = folder_listing(upload_dir)
    with pytest.raises(MaterialRejected) as exc:
        store_material(case, upload(data, "evidence.pdf"), source="consumer")
    assert exc.value.status == 415 and exc.value.reason_code == "active_content"
    assert "宏、脚本" in exc.value.message
    db.session.rollback()
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


@pytest.mark.parametrize("data,mime", KEPT_POLYGLOTS.values(), ids=KEPT_POLYGLOTS.keys())
def test_harmless_polyglots_are_kept_and_only_served_as_their_stored_type(client, auth, case, data, mime):
    """Markup inside an image or PDF is inert when the file is sent as what it is: attachment, nosniff, sandbox."""
    material = store_material(case, upload(data, "<img src=x onerror=alert(1)>.html"), source="consumer")
    db.session.commit()
    assert material.mime_type == mime and material.original_name == "<img src=x onerror=alert(1)>.html"
    auth.as_role("clerk")
    base = f"/staff/cases/{case.case_no}/materials/{material.id}"
    download = client.get(base)
    assert download.status_code == 200 and download.data == data
    assert download.mimetype == mime and download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"] == 'attachment; filename="<img src=x onerror=alert(1)>.html"'
    assert "default-src 'self'" in download.headers["Content-Security-Policy"]
    inline = client.get(base + "/inline")
    if mime.startswith("image/") or mime == "application/pdf":
        assert inline.status_code == 200 and inline.mimetype == mime
        assert inline.headers["Content-Security-Policy"].startswith("sandbox;")
        assert inline.headers["X-Content-Type-Options"] == "nosniff"
    else:
        assert inline.status_code == 404  # Office files are never shown inline


def test_a_stored_html_or_svg_type_is_never_previewed_and_downloads_as_an_attachment(client, auth, case, upload_dir):
    """Even a row whose stored type is HTML or SVG (e.g. from an old import) is never rendered from our origin."""
    auth.as_role("clerk")
    for mime in ("text/html", "image/svg+xml", "application/javascript"):
        material = store_material(case, upload(PDF, "x.pdf"), source="consumer")
        material.mime_type = mime
        db.session.commit()
        base = f"/staff/cases/{case.case_no}/materials/{material.id}"
        assert client.get(base + "/inline").status_code == 404
        assert client.get(base + "/preview").status_code == 404
        download = client.get(base)
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_the_spool_keeps_at_most_its_cap_and_counts_the_rest():
    spool = CappedSpool(cap=1000)
    for _ in range(100):
        assert spool.write(b"x" * 777) == 777
    spool.seek(0)
    assert spool.read() == b"x" * 1000 and spool.received == 77_700
    spool.close()


# --- a real full disk ----------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(app, tmp_path, monkeypatch):
    """A 256 KB tmpfs as the upload folder (we run as root here and in CI)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"NO REAL DISK-FULL TEST: cannot mount a tmpfs ({done.stderr.decode().strip()}); run as root")
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(mount))
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_stores_nothing_and_says_so_on_the_web_and_the_api(client, small_disk):
    """A 600 KB file on a 256 KB disk: 507 with a clear message naming the file; no half file, no row; space back."""
    receipt = file_appeal(client)
    filed = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == receipt["case_no"]))
    status, version = filed.status, filed.version
    big = PDF + b"0" * 600_000

    api = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(big), "bill.pdf")},
    )
    assert api.status_code == 507 and api.json["reason"] == "storage_full"
    assert "存储空间不足" in api.json["errors"]["file"][0]

    open_case(client, receipt["case_no"], receipt["access_code"])
    page = client.post("/track/materials", data={"materials": [(io.BytesIO(big), "bill.pdf")]})
    assert page.status_code == 507 and "存储空间不足，文件没有保存" in page.get_data(as_text=True)
    client.set_cookie("lang", "en")
    flask_babel.refresh()  # the test's app context outlives requests and keeps the locale it first chose
    page = client.post("/track/materials", data={"materials": [(io.BytesIO(big), "bill.pdf")]})
    assert page.status_code == 507 and "out of storage space" in page.get_data(as_text=True)

    assert list(small_disk.iterdir()) == []  # no half file
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0
    assert (filed.status, filed.version) == (status, version)
    small = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(PDF + b"0" * 100_000), "small.pdf")},
    )
    assert small.status_code == 201  # the failed writes gave their space back
    assert [p.stat().st_size for p in small_disk.iterdir()] == [len(PDF) + 100_000]


# --- a body that grows past the limit while it streams, through a real server ----------------------------------

MAX_FILE = 1024 * 1024  # past werkzeug's 500 KB in memory, so the spool is a file the test can watch
MAX_APPEAL = 2 * 1024 * 1024
FACTORY_WITHOUT_CSRF = "app:create_app({'WTF_CSRF_ENABLED': False})"


@pytest.fixture(scope="module")
def server(_app_and_schema, tmp_path_factory):
    """gunicorn (one sync worker) on the test database, with a 1 MB file limit and a 2 MB appeal limit."""
    app = _app_and_schema
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("gunicorn") / "gunicorn.log").open("ab")
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("server-instance")),
        "SECRET_KEY": "test-secret",
        "MAX_FILE_BYTES": str(MAX_FILE),
        "MAX_APPEAL_BYTES": str(MAX_APPEAL),
        "RATELIMIT_ENABLED": "0",
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        # CSRF off so the test can post the web form without a page round trip; the body is parsed the same way.
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", FACTORY_WITHOUT_CSRF],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
    if proc.poll() is not None:
        pytest.fail("gunicorn did not start: see gunicorn.log")
    yield port, proc.pid
    proc.terminate()
    proc.wait(10)
    log.close()


def spooled_bytes(master_pid: int) -> int:
    """The largest unlinked temporary file the gunicorn worker holds open right now (werkzeug's spool)."""
    biggest = 0
    for worker in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        fd_dir = Path(f"/proc/{worker}/fd")
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if "(deleted)" in os.readlink(fd):
                    biggest = max(biggest, fd.stat().st_size)
            except OSError:
                continue
    return biggest


def multipart_head(field: str, name: str, boundary: str = "hostile-boundary") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + PDF


def endless(head: bytes):
    """A file part that never ends."""
    return itertools.chain([head], itertools.repeat(b"0" * 65536))


def post_growing(server: tuple[int, int], path: str, blocks, *, headers: dict, length: int | None = None) -> dict:
    """POST the blocks (chunked, or raw under the given Content-Length) until they run out or the server answers.

    Returns the answer's status and body, the bytes sent before the answer came, and the largest spool seen on the
    server meanwhile.
    """
    port, master = server
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append("Content-Type: multipart/form-data; boundary=hostile-boundary")
    lines.append("Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}")
    frame = (lambda b: b"%x\r\n" % len(b) + b + b"\r\n") if length is None else (lambda b: b)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sock.setblocking(False)
    blocks = iter(blocks)
    pending, sent, spool, waited = frame(next(blocks)), 0, 0, 0.0
    while waited < 30:
        spool = max(spool, spooled_bytes(master))
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.02)
        if readable:
            break
        if not writable:
            waited += 0.02
            continue
        waited = 0.0
        try:
            n = sock.send(pending)
        except (ConnectionResetError, BrokenPipeError):
            break
        sent += n
        pending = pending[n:] or frame(next(blocks, b""))
        if sent > 64 << 20:
            pytest.fail("the server read 64 MB without answering")
    sock.setblocking(True)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return {"status": int(head.split(b" ", 2)[1]) if head else 0, "body": body, "sent": sent, "spool": spool}


def tracking_cookie(client) -> str:
    """A new appeal opened on the tracking page: the session cookie that carries it."""
    receipt = file_appeal(client)
    return open_case(client, receipt["case_no"], receipt["access_code"]).headers["Set-Cookie"].split(";", 1)[0]


def assert_web_upload_refused(got: dict, message: str, upload_dir: Path, before: set[str]) -> None:
    """413 with the message; the spool was seen on disk and stayed under the cap; no file, no row."""
    assert got["status"] == 413 and message.encode() in got["body"]
    assert SPOOL_IN_MEMORY < got["spool"] <= MAX_FILE + 1
    print(f"\nweb: answered {got['status']} after {got['sent']:,} bytes sent, spool {got['spool']:,}")
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


@pytest.mark.parametrize(
    "blocks,length,status,message",
    [
        # No Content-Length, a body that never ends: the server stops reading just past the limit.
        (endless(multipart_head("file", "grows.pdf")), None, 413, "单个文件不能超过 1 MB。"),
        # A Content-Length of 1,000 with megabytes behind it: only 1,000 bytes are read, and no file arrives.
        (itertools.islice(endless(multipart_head("file", "lies.pdf")), 64), 1000, 422, "请选择要上传的文件。"),
    ],
    ids=["chunked-endless", "lying-content-length"],
)
def test_a_growing_or_lying_upload_to_the_api_is_cut_off_and_stores_nothing(
    server, client, upload_dir, blocks, length, status, message
):
    """The API stops reading at the file limit, whatever the framing; JSON names the field `file`."""
    receipt = file_appeal(client)
    before = folder_listing(upload_dir)
    got = post_growing(
        server,
        f"/api/v1/appeals/{receipt['case_no']}/materials",
        blocks,
        headers=code_header(receipt["access_code"]),
        length=length,
    )
    assert got["status"] == status, got["body"][:300]
    assert json.loads(got["body"])["errors"]["file"] == [message]
    assert got["sent"] < MAX_FILE + 16 * 1024 * 1024  # the kernel's socket buffers at most; it never read it all
    assert got["spool"] <= MAX_FILE + 1
    print(f"\nAPI: answered {got['status']} after {got['sent']:,} bytes sent, spool {got['spool']:,}")
    assert folder_listing(upload_dir) == before
    assert db.session.scalar(sa.select(sa.func.count(Material.id))) == 0


def test_an_oversize_file_on_the_web_form_is_spooled_only_up_to_the_limit_and_explained(server, client, upload_dir):
    """An honest browser upload of 2.4 MB against a 1 MB limit: the form again with the field's error."""
    cookie, before = tracking_cookie(client), folder_listing(upload_dir)
    blocks = [multipart_head("materials", "scan.pdf"), *[b"0" * 60_000] * 40, b"\r\n--hostile-boundary--\r\n"]
    got = post_growing(server, "/track/materials", blocks, headers={"Cookie": cookie}, length=sum(map(len, blocks)))
    assert_web_upload_refused(got, "单个文件不能超过 1 MB", upload_dir, before)
    assert b'type="file"' in got["body"]  # the upload form again, not an error page


def test_an_endless_chunked_upload_to_the_web_form_stops_at_the_request_limit(server, client, upload_dir):
    """The web form carries several files: reading stops at the request limit, and no part spools past 1 MB."""
    cookie, before = tracking_cookie(client), folder_listing(upload_dir)
    got = post_growing(
        server, "/track/materials", endless(multipart_head("materials", "grows.pdf")), headers={"Cookie": cookie}
    )
    assert_web_upload_refused(got, "上传的文件太大", upload_dir, before)
    assert got["sent"] < MAX_APPEAL + 1024 * 1024 + 16 * 1024 * 1024
