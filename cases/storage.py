"""Where materials' bytes live: the local upload folder, or an S3-compatible object store.

The backend for new files is chosen by `MATERIALS_STORAGE`: empty (the default, the local folder
`UPLOAD_FOLDER`) or `s3://bucket/prefix` with `S3_ENDPOINT_URL`, `S3_REGION` and the credentials
(`S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) from the
environment. Each `Material` row names the storage its object is in (`Material.storage`: "" for the
local folder, else the `s3://` URL), so rows can move one at a time (`flask materials migrate`).

The S3 backend talks to the store through the `minio` client. Nothing is held in memory: an upload
is first spooled to a local temporary file (its type and content are checked there), then sent as
one streamed PUT of a presigned URL up to `S3_SINGLE_PUT_BYTES` (64 MB), else as a multipart upload
whose parts are streamed slices of the file. A download is streamed in chunks. The bucket is never
public: the app reads the object after its own permission check and serves it with its own headers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

import urllib3
from flask import current_app
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error

CHUNK = 64 * 1024
S3_SINGLE_PUT_BYTES = 64 * 1024 * 1024
S3_PART_BYTES = 16 * 1024 * 1024
LOCAL = ""


class StorageError(OSError):
    """The object store refused or could not be reached."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int


class Storage(Protocol):
    url: str

    def spool_dir(self) -> Path: ...

    def put_file(self, key: str, path: Path, size: int) -> None: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def chunks(self, key: str) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> Iterator[str]: ...


class LocalStorage:
    """Files named by their key in one folder (outside the web root)."""

    def __init__(self, folder: str | Path):
        self.url = LOCAL
        self.folder = Path(folder)

    def spool_dir(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise FileNotFoundError(key)
        return self.folder / key

    def put_file(self, key: str, path: Path, size: int) -> None:
        self.spool_dir()
        if path.parent.resolve() == self.folder.resolve():
            os.replace(path, self.path(key))
        else:
            tmp = self.folder / f".copy-{key}.part"
            with open(path, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path(key))
        fsync_dir(self.folder)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return ObjectInfo(size=self.path(key).stat().st_size)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def chunks(self, key: str) -> Iterator[bytes]:
        with open(self.path(key), "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def keys(self) -> Iterator[str]:
        if self.folder.is_dir():
            for p in sorted(self.folder.iterdir()):
                if p.is_file() and not p.name.startswith("."):
                    yield p.name


class S3Storage:
    """Objects under `prefix/` in one bucket of an S3-compatible store."""

    def __init__(
        self, url: str, *, endpoint: str, region: str, access_key: str | None, secret_key: str | None, spool: str | Path
    ):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        self.url = url.rstrip("/")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        ep = urlsplit(endpoint or "https://s3.amazonaws.com")
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self.client = Minio(
            ep.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=ep.scheme == "https",
            region=region or "us-east-1",
            http_client=self._http,
        )
        self._spool = Path(spool)

    def object_name(self, key: str) -> str:
        if not key or "/" in key:
            raise FileNotFoundError(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def spool_dir(self) -> Path:
        self._spool.mkdir(parents=True, exist_ok=True)
        return self._spool

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (tests, a first start); it stays private."""
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket)

    def put_file(self, key: str, path: Path, size: int) -> None:
        name = self.object_name(key)
        try:
            if size <= S3_SINGLE_PUT_BYTES:
                self._put(
                    self.client.get_presigned_url("PUT", self.bucket, name, dt.timedelta(minutes=15)), path, 0, size
                )
            else:
                self._multipart(name, path, size)
        except StorageError:
            raise
        except Exception as exc:  # minio, urllib3: any failure is a failed write
            raise StorageError(f"S3 upload failed: {exc.__class__.__name__}") from exc

    def _put(self, url: str, path: Path, offset: int, length: int) -> str:
        """One streamed PUT of `length` bytes of the file from `offset`; returns the ETag."""
        with open(path, "rb") as fh:
            fh.seek(offset)
            resp = self._http.request(
                "PUT",
                url,
                body=_Slice(fh, length),
                headers={"Content-Length": str(length)},
                preload_content=True,
                retries=False,
            )
        if resp.status != 200:
            raise StorageError(f"S3 PUT answered {resp.status}")
        return (resp.headers.get("ETag") or "").strip('"')

    def _multipart(self, name: str, path: Path, size: int) -> None:
        upload_id = self.client._create_multipart_upload(
            self.bucket, name, {"Content-Type": "application/octet-stream"}
        )
        try:
            parts = []
            for number, offset in enumerate(range(0, size, S3_PART_BYTES), start=1):
                url = self.client.get_presigned_url(
                    "PUT",
                    self.bucket,
                    name,
                    dt.timedelta(minutes=15),
                    extra_query_params={"partNumber": str(number), "uploadId": upload_id},
                )
                etag = self._put(url, path, offset, min(S3_PART_BYTES, size - offset))
                parts.append(Part(number, etag))
            self.client._complete_multipart_upload(self.bucket, name, upload_id, parts)
        except BaseException:
            try:
                self.client._abort_multipart_upload(self.bucket, name, upload_id)
            except Exception:
                pass
            raise

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self.client.stat_object(self.bucket, self.object_name(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"):
                return None
            raise StorageError(f"S3 stat failed: {exc.code}") from exc
        return ObjectInfo(size=int(st.size or 0))

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(self.bucket, self.object_name(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise FileNotFoundError(key) from exc
            raise StorageError(f"S3 read failed: {exc.code}") from exc
        return self._stream(resp)

    @staticmethod
    def _stream(resp) -> Iterator[bytes]:
        try:
            yield from resp.stream(CHUNK)
        finally:
            resp.close()
            resp.release_conn()

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, self.object_name(key))

    def keys(self) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        for obj in self.client.list_objects(self.bucket, prefix=start, recursive=True):
            yield obj.object_name[len(start) :]


class _Slice:
    """A read-only window of `length` bytes of a file, read in blocks by the HTTP client."""

    def __init__(self, fh: IO[bytes], length: int):
        self._fh = fh
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data


def open_storage(url: str, config=None) -> Storage:
    """The storage named by a URL ("" for the local folder), configured from the app's settings."""
    cfg = config if config is not None else current_app.config
    if not url:
        return LocalStorage(cfg["UPLOAD_FOLDER"])
    if not url.startswith("s3://"):
        raise ValueError(f"MATERIALS_STORAGE must be empty or s3://bucket/prefix, not {url!r}")
    return S3Storage(
        url,
        endpoint=cfg.get("S3_ENDPOINT_URL") or "",
        region=cfg.get("S3_REGION") or "us-east-1",
        access_key=cfg.get("S3_ACCESS_KEY_ID") or None,
        secret_key=cfg.get("S3_SECRET_ACCESS_KEY") or None,
        spool=cfg.get("UPLOAD_SPOOL_FOLDER") or tempfile.gettempdir(),
    )


_CACHE_KEY = "materials_storages"


def storage_for(url: str) -> Storage:
    """The storage of a URL: the local folder as configured now; one S3 client per app, URL and endpoint."""
    if not url:
        return LocalStorage(current_app.config["UPLOAD_FOLDER"])
    cache = current_app.extensions.setdefault(_CACHE_KEY, {})
    key = (url, current_app.config.get("S3_ENDPOINT_URL"), current_app.config.get("S3_ACCESS_KEY_ID"))
    if key not in cache:
        cache[key] = open_storage(url)
    return cache[key]


def current() -> Storage:
    """The storage new materials go to (MATERIALS_STORAGE)."""
    return storage_for(current_app.config.get("MATERIALS_STORAGE") or LOCAL)


def hash_object(storage: Storage, key: str) -> tuple[int, str]:
    """The size and SHA-256 of a stored object, read as a stream."""
    sha = hashlib.sha256()
    size = 0
    for chunk in storage.chunks(key):
        size += len(chunk)
        sha.update(chunk)
    return size, sha.hexdigest()


def fsync_dir(folder: Path) -> None:
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
