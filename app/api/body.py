"""The body guard of the JSON API: checks a request before anything parses it recursively.

- the body is read with a cap, however it arrives (Content-Length or chunked): over it, 413;
- brackets nested deeper than `MAX_DEPTH` (counted on the raw bytes, outside strings): 400;
- a body that is not JSON, or not a JSON object: 400 (an empty body counts as `{}` where the body is optional);
- a NUL in the query string: 400; in a path segment: 404 (PostgreSQL cannot store or compare it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BadBody(BadRequest):
    """A 400 whose message is shown to the caller."""

    user_message = True


def _refuse(message: str) -> None:
    raise BadBody(description=message)


def depth(raw: bytes) -> int:
    """How deep the brackets of a JSON text nest (strings skipped); stops counting past MAX_DEPTH."""
    level = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", raw)):
        if match.group() in (b"[", b"{"):
            level += 1
            if level > MAX_DEPTH:
                return level
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def json_object(max_bytes: int, optional: bool = False) -> None:
    """Check the request's JSON body (see the module's docstring); Flask's parse of it is cached for the view."""
    app_cap = current_app.config.get("MAX_CONTENT_LENGTH")
    cap = min(max_bytes, app_cap) if app_cap else max_bytes
    # One byte more than the cap is read, so a stream without Content-Length (chunked) that is cut at the
    # cap is seen to be longer; werkzeug refuses a Content-Length over it before reading.
    request.max_content_length = cap + 1
    raw = request.get_data(cache=True)
    if len(raw) > cap:
        raise RequestEntityTooLarge()
    if not raw.strip():
        if optional:
            return
        _refuse(_("请求体应为 JSON 对象。"))
    if b"[" in raw or b"{" in raw:
        if depth(raw) > MAX_DEPTH:
            _refuse(_("请求体嵌套过深（最多%(n)s层）。", n=MAX_DEPTH))
    try:
        parsed = request.get_json(force=True)
    except BadRequest:
        parsed = None
    if not isinstance(parsed, dict):
        _refuse(_("请求体应为 JSON 对象。"))


def refuse_nul(view_args: Mapping[str, Any]) -> None:
    """400 when the query string or a path segment holds NUL."""
    if b"%00" in request.query_string or b"\x00" in request.query_string:
        _refuse(_("请求参数不能包含 NUL 字符。"))
    if any(isinstance(v, str) and "\x00" in v for v in view_args.values()):
        abort(404)  # no case number, period or code holds NUL


def form_within(max_bytes: int | None) -> bool:
    """Read a multipart body within the cap (however it is sent); False when it is over."""
    app_cap = current_app.config.get("MAX_CONTENT_LENGTH")
    if max_bytes:
        request.max_content_length = min(max_bytes, app_cap) if app_cap else max_bytes
    try:
        request.files  # noqa: B018 - parse the body now, within the cap
    except RequestEntityTooLarge:
        return False
    return True
