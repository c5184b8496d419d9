"""A stored material sent to a permitted reader: streamed from its storage with the download headers.

The bytes come through the app in chunks (never a public bucket, never the whole file in memory), as
an attachment with the stored type and `nosniff`, or inline inside a CSP sandbox for a preview.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response, abort

from cases import materials
from cases.models import Material

SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'self'"


def material_response(material: Material, *, inline: bool = False) -> Response:
    """The material's bytes as a streamed response; 404 when its content is not in its storage."""
    if not materials.has_content(material):
        abort(404)
    try:
        chunks = materials.content_chunks(material)
    except FileNotFoundError:
        abort(404)
    resp = Response(chunks, mimetype=material.mime_type or "application/octet-stream", direct_passthrough=True)
    resp.content_length = material.size
    name = material.original_name or "file"
    try:
        name.encode("ascii")
        names = {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}
    resp.headers.set("Content-Disposition", "inline" if inline else "attachment", **names)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        # A sandboxed document cannot run script or reach the app, whatever the file holds.
        resp.headers["Content-Security-Policy"] = SANDBOX_CSP
    return resp
