"""Material items (用户提交材料): files checked by content, size-limited while streaming, stored atomically.

A file is read in chunks from the upload stream into a temporary file (in the
upload folder, or the spool folder when the store is S3: cases/storage.py),
hashed as it goes, and refused as soon as it passes the per-file or per-appeal
limit. Its type is decided by its bytes, never by its name. The checked file is
moved into place with `os.replace` or streamed to the object store, and its
`Material` row is added to the current transaction; when that transaction does
not commit, the object is removed again (see the session hooks at the end).

A file that is what it claims but carries active content — a PDF with
JavaScript, a launch action or embedded files, an Office document with macros
or an embedded program, an image or PDF with an archive appended — is refused
(415 `active_content`). A full disk is a 507 `storage_full`, any other write
failure a 503 `storage_failed`: never a half file, never a row.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import filetype
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from cases import storage
from cases.db import db
from cases.models import Appeal, Material, User, utcnow

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
NAME_MAX = 120
_WRITTEN = "materials_written"

ALLOWED = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "application/msword": "DOC",
    "application/vnd.ms-excel": "XLS",
    "application/vnd.ms-powerpoint": "PPT",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PPTX",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
}
# The main part's content type inside [Content_Types].xml -> the file's type.
OOXML_MAIN = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ),
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
}
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
OLE2_OFFICE = ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint")
# The stream an old Office file must hold, as its UTF-16LE directory name -> the file's type.
OLE2_STREAMS = {
    "WordDocument".encode("utf-16-le"): "application/msword",
    "Workbook".encode("utf-16-le"): "application/vnd.ms-excel",
    "Book".encode("utf-16-le"): "application/vnd.ms-excel",
    "PowerPoint Document".encode("utf-16-le"): "application/vnd.ms-powerpoint",
}


class MaterialRejected(Exception):
    """A file refused: `reason_code` for machines, `message` for people, `status` 413, 415 or 422."""

    def __init__(self, reason_code: str, message: str, status: int):
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message
        self.status = status


def upload_folder() -> Path:
    """The local folder files are kept in (outside the web root), created when missing."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def material_path(material: Material) -> Path:
    """Where a material kept in the local folder has its bytes (FileNotFoundError for any other)."""
    if not material.stored_name or material.storage:
        raise FileNotFoundError(f"material {material.id} has no file in the local folder")
    return upload_folder() / material.stored_name


def has_content(material: Material) -> bool:
    """True when the material's bytes are in its storage (a paper, legacy or removed item has none)."""
    if not material.stored_name:
        return False
    try:
        return storage.storage_for(material.storage or storage.LOCAL).stat(material.stored_name) is not None
    except (OSError, ValueError):
        log.error("material %s: its storage could not be read", material.id)
        return False


def content_chunks(material: Material) -> Iterator[bytes]:
    """The stored material's bytes, as a stream of chunks (FileNotFoundError when it has none)."""
    if not material.stored_name:
        raise FileNotFoundError(f"material {material.id} has no stored file")
    return storage.storage_for(material.storage or storage.LOCAL).chunks(material.stored_name)


def used_bytes(appeal: Appeal) -> int:
    """The bytes already stored for an appeal."""
    if appeal.id is None:
        return sum(m.size for m in appeal.materials)
    stored = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Material.size), 0)).where(Material.appeal_id == appeal.id)
    )
    pending = sum(m.size for m in appeal.materials if m.id is None)
    return int(stored or 0) + pending


def check_appeal_quota(appeal: Appeal, incoming_size: int) -> None:
    """Refuse (413) a file that would take the appeal past MAX_APPEAL_BYTES."""
    limit = current_app.config["MAX_APPEAL_BYTES"]
    if used_bytes(appeal) + incoming_size > limit:
        raise MaterialRejected("appeal_quota", _quota_message(limit), 413)


def safe_name(name: str | None) -> str:
    """The original file name made harmless: basename only, no control characters, length capped."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if not name:
        return "file"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = stem[: NAME_MAX - len(ext) - 1] + "." + ext if dot and len(ext) <= 10 else name[:NAME_MAX]
    return name


def detect_type(path: Path) -> str | None:
    """The file's MIME type from its content, when it is one of the allowed kinds; None otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head.startswith(OLE2_MAGIC):
        return _ole2_type(path)
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ("application/pdf", "image/jpeg", "image/png"):
        return kind.mime
    return None


# PDF names that run script or launch a program (checked after #xx escapes are decoded). Embedded files
# (e-invoices carry their XML so) and forms are kept: the viewers we serve them to do not run them.
PDF_ACTIVE = {b"JavaScript", b"JS", b"Launch", b"RichMedia"}
_PDF_NAME = re.compile(rb"/([A-Za-z0-9#]{2,40})")
_PDF_FLATE_STREAM = re.compile(rb"/FlateDecode.{0,400}?stream\r?\n", re.DOTALL)
PDF_INFLATE_MAX = 64 * 1024 * 1024  # the most we inflate from one PDF's streams (a zip bomb stops here)
# Office parts and stream names that are macros or programs; ODF keeps macros under Basic/ or Scripts/.
OFFICE_ACTIVE_PARTS = re.compile(
    r"(^|/)(vbaProject\.bin|vbaData\.xml|activeX[^/]*)$|^(Basic|Scripts)/|\.(exe|dll|scr|com|bat|cmd|ps1|vbs|js|jse|wsf"
    r"|hta|msi|jar|class|dex|apk|lnk)$",
    re.IGNORECASE,
)
OLE2_MACRO_STREAMS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))


def active_content(path: Path, mime: str) -> str | None:
    """What makes an allowed file unsafe to keep (macros, scripts, a hidden archive), or None."""
    if mime in ("image/jpeg", "image/png", "application/pdf") and _has_archive(path):
        return "appended archive"
    if mime == "application/pdf":
        return _pdf_active(path)
    if mime in OLE2_OFFICE:
        data = path.read_bytes()
        return "macros" if any(name in data for name in OLE2_MACRO_STREAMS) else None
    return _zip_active(path)


def _has_archive(path: Path) -> bool:
    """True when a ZIP (JAR, PHAR-zip, Office file...) with at least one member is readable from the file's end."""
    try:
        with zipfile.ZipFile(path) as zf:
            return bool(zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError):
        return False


def _pdf_names(data: bytes) -> set[bytes]:
    names = set()
    for raw in _PDF_NAME.findall(data):
        if b"#" in raw:
            try:
                raw = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
            except ValueError:
                continue
        names.add(raw)
    return names


def _pdf_active(path: Path) -> str | None:
    """A PDF's active names, looked for in the file and in its Flate streams (object streams hide dictionaries)."""
    data = path.read_bytes()
    found = _pdf_names(data) & PDF_ACTIVE
    budget = PDF_INFLATE_MAX
    for m in _PDF_FLATE_STREAM.finditer(data):
        if found or budget <= 0:
            break
        end = data.find(b"endstream", m.end())
        try:
            inflated = zlib.decompressobj().decompress(data[m.end() : end if end > 0 else len(data)], budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        found = _pdf_names(inflated) & PDF_ACTIVE
    return "PDF " + b", ".join(sorted(found)).decode() if found else None


def _zip_active(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = [n for n in zf.namelist() if OFFICE_ACTIVE_PARTS.search(n)]
            if "[Content_Types].xml" in zf.namelist():
                with zf.open("[Content_Types].xml") as fh:
                    types = fh.read(1024 * 1024)
                if b"macroEnabled" in types or b"vbaProject" in types or b"activeX" in types:
                    bad.append("[Content_Types].xml")
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError):
        return None
    return "macros or programs: " + ", ".join(bad[:3]) if bad else None


def _ole2_type(path: Path) -> str | None:
    data = path.read_bytes()
    for stream, mime in OLE2_STREAMS.items():
        if stream in data:
            return mime
    return None  # e.g. an .msi installer is OLE2 too


def _zip_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                with zf.open("mimetype") as fh:
                    mime = fh.read(100).decode("ascii", "replace").strip()
                return mime if mime in ALLOWED else None
            if "[Content_Types].xml" in names:
                with zf.open("[Content_Types].xml") as fh:
                    types = fh.read(1024 * 1024)
                for main, mime in OOXML_MAIN.items():
                    if b'"' + main + b'"' in types:
                        return mime
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError):
        return None
    return None


def file_too_large_message() -> str:
    """The per-file limit, in the user's language."""
    return _("单个文件不能超过 %(mb)s MB。", mb=_mb(current_app.config["MAX_FILE_BYTES"]))


def _quota_message(limit: int) -> str:
    return _("本案材料总大小不能超过 %(mb)s MB。", mb=_mb(limit))


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def _copy_limited(stream: IO[bytes], out: IO[bytes], file_limit: int, room: int) -> tuple[int, str]:
    """Copy in chunks, hashing; stop with 413 as soon as a limit is passed."""
    sha = hashlib.sha256()
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > file_limit:
            raise MaterialRejected("file_too_large", file_too_large_message(), 413)
        if size > room:
            raise MaterialRejected("appeal_quota", _quota_message(current_app.config["MAX_APPEAL_BYTES"]), 413)
        sha.update(chunk)
        out.write(chunk)
    return size, sha.hexdigest()


def store_material(appeal: Appeal, file_storage: Any, *, source: str, uploaded_by: User | None = None) -> Material:
    """Check and store one uploaded file for an appeal; returns its `Material` (added, not committed)."""
    if file_storage is None or getattr(file_storage, "stream", None) is None:
        raise MaterialRejected("no_file", _("请选择要上传的文件。"), 422)
    original = safe_name(getattr(file_storage, "filename", None))
    file_limit = current_app.config["MAX_FILE_BYTES"]
    room = current_app.config["MAX_APPEAL_BYTES"] - used_bytes(appeal)
    try:
        target = storage.current()
        fd, tmp_name = tempfile.mkstemp(dir=target.spool_dir(), prefix=".upload-", suffix=".part")
    except OSError as exc:
        raise _storage_error(exc) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = _copy_limited(file_storage.stream, out, file_limit, room)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise MaterialRejected("empty_file", _("文件是空的（0字节），请重新选择。"), 422)
        mime = detect_type(tmp)
        if mime is None:
            raise MaterialRejected(
                "type_not_allowed",
                _("不支持这种文件类型。请上传 PDF、JPG、PNG 图片或 Word、Excel、PowerPoint、WPS/OpenOffice 文档。"),
                415,
            )
        if (danger := active_content(tmp, mime)) is not None:
            log.info("upload refused for active content (%s)", danger)
            raise MaterialRejected(
                "active_content",
                _(
                    "文件中含有宏、脚本或夹带的其他文件，出于安全原因不能接收。"
                    "请另存为普通的 PDF 或图片（例如“打印为 PDF”或截图）后再上传。"
                ),
                415,
            )
        if appeal.id is not None:
            # Two uploads to one appeal at once must not both fit the quota: lock the appeal, then check again.
            db.session.execute(sa.select(Appeal.id).where(Appeal.id == appeal.id).with_for_update())
            check_appeal_quota(appeal, size)
        stored_name = uuid.uuid4().hex
        target.put_file(stored_name, tmp, size)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _storage_error(exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)  # sent to the object store, or moved into place (then already gone)
    db.session.info.setdefault(_WRITTEN, []).append((target.url, stored_name))
    material = Material(
        appeal=appeal,
        storage=target.url,
        stored_name=stored_name,
        original_name=original,
        size=size,
        mime_type=mime,
        sha256=digest,
        received_at=utcnow(),
        source=source,
        uploaded_by_id=uploaded_by.id if uploaded_by is not None else None,
    )
    db.session.add(material)
    try:
        db.session.flush()
    except BaseException:
        db.session.rollback()
        raise
    return material


def _storage_error(exc: OSError) -> MaterialRejected:
    """A failed write as the consumer should hear it: the disk is full (507), or saving failed (503)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        log.error("upload folder full: %s", exc.strerror)
        return MaterialRejected(
            "storage_full", _("服务器存储空间不足，文件没有保存。请稍后再试，或联系申诉受理中心。"), 507
        )
    log.error("could not store an upload: %s", exc.strerror or exc.__class__.__name__)
    return MaterialRejected("storage_failed", _("文件保存失败，请稍后重试。"), 503)


@event.listens_for(Session, "after_commit")
def _keep_committed_files(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_uncommitted_files(session: Session, transaction: Any) -> None:
    # Fires after commit too, but then after_commit has already taken the list.
    if transaction.parent is not None or transaction.nested:
        return
    for url, key in session.info.pop(_WRITTEN, []):
        try:
            storage.storage_for(url).delete(key)
        except Exception:  # a store that is down now: `flask materials verify` lists the orphan
            log.exception("could not remove the uncommitted object %s", key)
