"""Uploads while they stream in: werkzeug spools each file part, and keeps at most MAX_FILE_BYTES + 1 bytes of it.

The rest of an oversize part is read (up to the request's limit) but not
stored, so the form's other fields still arrive and `store_material` refuses
the file with its own message; the disk never holds more than the limit.
"""

from __future__ import annotations

from tempfile import SpooledTemporaryFile
from typing import IO

from flask import Request, current_app

SPOOL_IN_MEMORY = 500 * 1024  # werkzeug's own threshold


class CappedSpool(SpooledTemporaryFile):
    """A spooled temporary file that stores its first `cap` bytes and only counts the rest."""

    def __init__(self, cap: int):
        super().__init__(max_size=SPOOL_IN_MEMORY, mode="w+b")
        self.cap = cap
        self.received = 0

    def write(self, data) -> int:  # type: ignore[override]
        """Store what fits under the cap; report everything as written so parsing goes on."""
        room = self.cap - min(self.received, self.cap)
        if room:
            super().write(bytes(data[:room]))
        self.received += len(data)
        return len(data)


class UploadRequest(Request):
    """Flask's request, whose file parts are spooled into `CappedSpool`s."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return CappedSpool(current_app.config["MAX_FILE_BYTES"] + 1)
