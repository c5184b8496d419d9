"""Backups that restore (`flask backup DIR`, `flask restore DIR`).

A backup folder holds:

- `database.dump` (PostgreSQL, `pg_dump --format=custom`) or `database.sqlite` (SQLite's backup API);
- `materials.jsonl`: every stored material's id, storage, key, size and SHA-256, read in the same snapshot
  as the dump (PostgreSQL: the dump runs on a snapshot exported by the transaction that reads the list), so
  the list and the dump agree;
- `materials/<key>`: the bytes of the materials kept in the local folder, each checked against its hash
  as it is copied (materials in S3-compatible storage stay there: the bucket's own versioning or
  replication keeps them; the list lets `restore` check that they are all still there);
- `backup.json`: when, which database, how many rows of each main table and materials.

`restore` brings it back into an empty database (it refuses one that holds appeals) and an empty upload
folder, checks every material's bytes against the list, and reports what it restored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from cases import storage
from cases.db import db

TABLES = ("appeal", "case_event", "material", "contact", "bulletin_revision")
_DUMP_PG = "database.dump"
_DUMP_SQLITE = "database.sqlite"


class BackupError(RuntimeError):
    pass


def _url() -> sa.URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _manifest_rows(rows) -> list[dict]:
    return [{"id": r[0], "storage": r[1] or "", "key": r[2], "size": r[3], "sha256": r[4]} for r in rows]


_MANIFEST_SQL = "SELECT id, storage, stored_name, size, sha256 FROM material WHERE stored_name IS NOT NULL ORDER BY id"


def _counts(execute) -> dict[str, int]:
    return {t: int(execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def backup(folder: Path) -> dict:
    """Write a consistent backup of the database and the materials into `folder` (created; must be empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty")
    url = _url()
    if url.get_backend_name() == "postgresql":
        with psycopg.connect(_libpq(url)) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            done = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(folder / _DUMP_PG),
                    _libpq(url),
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            manifest = _manifest_rows(conn.execute(_MANIFEST_SQL).fetchall())
            counts = _counts(conn.execute)
            conn.rollback()
        kind = "postgresql"
    else:
        source = sqlite3.connect(url.database)
        target = sqlite3.connect(folder / _DUMP_SQLITE)
        try:
            source.backup(target)
        finally:
            source.close()
        try:
            manifest = _manifest_rows(target.execute(_MANIFEST_SQL).fetchall())
            counts = _counts(target.execute)
        finally:
            target.close()
        kind = "sqlite"
    copied = 0
    (folder / "materials").mkdir()
    for row in manifest:
        if row["storage"] == storage.LOCAL:
            _copy_checked(storage.storage_for(storage.LOCAL), row, folder / "materials" / row["key"])
            copied += 1
    with (folder / "materials.jsonl").open("w", encoding="utf-8") as fh:
        for row in manifest:
            fh.write(json.dumps(row) + "\n")
    summary = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": kind,
        "rows": counts,
        "materials": len(manifest),
        "materials_copied": copied,
        "materials_in_object_storage": len(manifest) - copied,
    }
    (folder / "backup.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _copy_checked(source: storage.Storage, row: dict, target: Path) -> None:
    sha, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        for chunk in source.chunks(row["key"]):
            sha.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if (size, sha.hexdigest()) != (row["size"], row["sha256"]):
        raise BackupError(f"material {row['id']}: its bytes do not match its hash; backup stopped")


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(storage.CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _has_appeals() -> bool:
    inspector = sa.inspect(db.engine)
    if not inspector.has_table("appeal"):
        return False
    return bool(db.session.scalar(sa.text("SELECT count(*) FROM appeal")))


def restore(folder: Path) -> dict:
    """Bring a backup back into an empty database and storage; returns what was restored and checked."""
    summary = json.loads((folder / "backup.json").read_text(encoding="utf-8"))
    if _has_appeals():
        raise BackupError("the database is not empty: restore only into an empty database")
    url = _url()
    db.session.remove()
    db.engine.dispose()
    if summary["database"] != url.get_backend_name():
        raise BackupError(f"a {summary['database']} backup cannot be restored into {url.get_backend_name()}")
    if summary["database"] == "postgresql":
        done = subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                _libpq(url),
                str(folder / _DUMP_PG),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    else:
        source = sqlite3.connect(folder / _DUMP_SQLITE)
        target = sqlite3.connect(url.database)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    local = storage.storage_for(storage.LOCAL)
    counts = {"restored": 0, "present": 0, "missing": 0, "wrong_hash": 0}
    with (folder / "materials.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["storage"] == storage.LOCAL:
                kept = folder / "materials" / row["key"]
                if _file_sha256(kept) != row["sha256"]:
                    counts["wrong_hash"] += 1
                    continue
                local.spool_dir()
                shutil.copyfile(kept, local.folder / f".restore-{row['key']}")
                local.put_file(row["key"], local.folder / f".restore-{row['key']}", row["size"])
                counts["restored"] += 1
            else:
                info = storage.storage_for(row["storage"]).stat(row["key"])
                counts["present" if info is not None and info.size == row["size"] else "missing"] += 1
    with db.engine.connect() as conn:
        rows = _counts(lambda q: conn.execute(sa.text(q)))
    return {"rows": rows, "rows_match": rows == summary["rows"], "materials": counts}
