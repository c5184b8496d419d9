"""Moving materials between storages and checking them (`flask materials migrate` / `verify`).

`migrate_to(url)` copies every material that is not yet in the target storage: the source's bytes are
streamed into a spool file while hashed (a source whose hash is not the row's is reported and left),
sent to the target, read back and hashed there; only a verified object switches its row
(`Material.storage`), committed one row at a time. An interrupted run is resumed by running it again:
switched rows are skipped, and an object already in the target with the right hash is not sent twice.
The source's files are left in place; remove them once `verify` is clean.

`verify()` reads every row's object (missing, wrong size, wrong hash) and counts them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from cases import storage
from cases.db import db
from cases.models import Material

BATCH = 200


def _rows(where) -> list[int]:
    return list(
        db.session.scalars(sa.select(Material.id).where(Material.stored_name.is_not(None), where).order_by(Material.id))
    )


def _spool_copy(source: storage.Storage, key: str, folder: Path) -> tuple[Path, int, str]:
    """The object's bytes in a local spool file, with their size and SHA-256."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".migrate-", suffix=".part")
    sha, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in source.chunks(key):
                sha.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), size, sha.hexdigest()


def _verified(target: storage.Storage, material: Material) -> bool:
    info = target.stat(material.stored_name)
    if info is None or info.size != material.size:
        return False
    return storage.hash_object(target, material.stored_name) == (material.size, material.sha256)


def migrate_to(url: str, *, echo: Callable[[str], None] = lambda _m: None) -> dict:
    """Copy every material not yet in `url` there, verify it, switch its row; returns the counts."""
    target = storage.storage_for(url)
    if isinstance(target, storage.S3Storage):
        target.ensure_bucket()
    counts: Counter = Counter()
    failed: list[dict] = []
    for material_id in _rows(Material.storage != target.url):
        material = db.session.get(Material, material_id)
        source = storage.storage_for(material.storage)
        try:
            if _verified(target, material):
                counts["already_there"] += 1  # sent by an interrupted run before its row was switched
            else:
                path, size, digest = _spool_copy(source, material.stored_name, target.spool_dir())
                try:
                    if (size, digest) != (material.size, material.sha256):
                        raise ValueError("the source's bytes do not match the row's size and hash")
                    target.put_file(material.stored_name, path, size)
                finally:
                    path.unlink(missing_ok=True)
                if not _verified(target, material):
                    raise ValueError("the copy read back does not match the row's hash")
                counts["copied"] += 1
        except (OSError, ValueError) as exc:
            db.session.rollback()
            failed.append({"id": material_id, "error": str(exc) or exc.__class__.__name__})
            echo(f"material {material_id}: NOT moved: {exc}")
            continue
        material.storage = target.url
        db.session.commit()
    db.session.commit()
    return {
        "to": target.url or "local",
        "copied": counts["copied"],
        "already_there": counts["already_there"],
        "failed": len(failed),
        "failures": failed[:50],
        "remaining": len(_rows(Material.storage != target.url)),
    }


def verify() -> dict:
    """Every stored material checked against its object: ok, missing, wrong size, wrong hash."""
    counts: Counter = Counter()
    problems: list[dict] = []
    for material_id in _rows(sa.true()):
        material = db.session.get(Material, material_id)
        store = storage.storage_for(material.storage)
        try:
            info = store.stat(material.stored_name)
            if info is None:
                state = "missing"
            elif info.size != material.size:
                state = "wrong_size"
            elif storage.hash_object(store, material.stored_name)[1] != material.sha256:
                state = "wrong_hash"
            else:
                state = "ok"
        except (OSError, ValueError):
            state = "unreadable"
        counts[state] += 1
        if state != "ok":
            problems.append({"id": material.id, "storage": material.storage or "local", "problem": state})
        db.session.expunge(material)
    return {
        "checked": sum(counts.values()),
        **{k: counts[k] for k in ("ok", "missing", "wrong_size", "wrong_hash", "unreadable")},
        "problems": problems[:100],
    }
