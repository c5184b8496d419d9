"""Material items (用户提交材料): files checked by content, size-limited while streaming, stored atomically.

A file is read in chunks from the upload stream into a temporary file in the
upload folder, hashed as it goes, and refused as soon as it passes the per-file
or per-appeal limit. Its type is decided by its bytes, never by its name. The
finished file is fsynced and moved into place with `os.replace`, and its
`Material` row is added to the current transaction; when that transaction does
not commit, the file is removed again (see the session hooks at the end).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
import uuid
import zipfile
from pathlib import Path
from typing import IO, Any

import filetype
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from cases.db import db
from cases.models import Appeal, Material, User, utcnow

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
    """The folder files are kept in (outside the web root), created when missing."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def material_path(material: Material) -> Path:
    """Where a stored material's bytes are."""
    if not material.stored_name:
        raise FileNotFoundError(f"material {material.id} has no stored file")
    return upload_folder() / material.stored_name


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
            raise MaterialRejected("file_too_large", _("单个文件不能超过 %(mb)s MB。", mb=_mb(file_limit)), 413)
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
    folder = upload_folder()
    file_limit = current_app.config["MAX_FILE_BYTES"]
    room = current_app.config["MAX_APPEAL_BYTES"] - used_bytes(appeal)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
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
        if appeal.id is not None:
            # Two uploads to one appeal at once must not both fit the quota: lock the appeal, then check again.
            db.session.execute(sa.select(Appeal.id).where(Appeal.id == appeal.id).with_for_update())
            check_appeal_quota(appeal, size)
        stored_name = uuid.uuid4().hex
        final = folder / stored_name
        os.replace(tmp, final)
        _fsync_dir(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    db.session.info.setdefault(_WRITTEN, []).append(str(final))
    material = Material(
        appeal=appeal,
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


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


@event.listens_for(Session, "after_commit")
def _keep_committed_files(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_uncommitted_files(session: Session, transaction: Any) -> None:
    # Fires after commit too, but then after_commit has already taken the list.
    if transaction.parent is not None or transaction.nested:
        return
    for name in session.info.pop(_WRITTEN, []):
        Path(name).unlink(missing_ok=True)
