"""Error pages in the user's language, and JSON errors for the API. No input ends in a bare 500."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.extensions import db, limiter
from workflows.engine import LifecycleError

log = logging.getLogger(__name__)


def _messages() -> dict[int, str]:
    return {
        400: _("请求有误，请返回上一页重试。"),
        401: _("请先登录。"),
        403: _("您没有权限访问此页面。"),
        404: _("找不到这个页面。"),
        405: _("不支持这种请求方式。"),
        409: _("案件已被他人更新，请刷新后重试。"),
        413: _("上传的文件太大。"),
        415: _("不支持这种文件类型。"),
        422: _("请检查填写的内容。"),
        429: _("操作过于频繁，请稍后再试。"),
        500: _("系统出错了，请稍后再试。"),
        503: _("系统暂时无法连接数据库，请稍后再试。"),
    }


def error_response(status: int, message: str | None = None, errors: dict | None = None):
    """A JSON body under /api, an error page elsewhere."""
    message = message or _messages().get(status, _("请求有误。"))
    if request.path.startswith("/api/"):
        body = {"error": message}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def retry_after_seconds() -> int | None:
    """How long until the limit this request broke lets the next one through (None when no limit was broken)."""
    current = limiter.current_limit
    if current is None or not current.breached:
        return None
    return max(1, current.reset_at - int(time.time()))


def wait_text(seconds: int) -> str:
    """A wait in words: seconds under one and a half minutes, whole minutes (rounded up) beyond."""
    if seconds < 90:
        return _("%(n)d 秒", n=seconds)
    return _("%(n)d 分钟", n=math.ceil(seconds / 60))


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        wait = retry_after_seconds()
        if wait is None:
            return error_response(429)
        message = _("操作过于频繁。请在 %(wait)s后再试。", wait=wait_text(wait))
        resp = make_response(error_response(429, message))
        resp.headers["Retry-After"] = str(wait)
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        message = None
        if exc.code in (400, 409, 413, 415, 422) and exc.description and getattr(exc, "user_message", False):
            message = exc.description
        answer = error_response(exc.code or 500, message)
        if exc.code == 405 and getattr(exc, "valid_methods", None):  # a 405 names what is allowed (RFC 9110)
            resp = make_response(answer)
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
            return resp
        return answer

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, _("页面已过期或表单校验失败，请刷新页面后重新提交。"))

    @app.errorhandler(LifecycleError)
    def _lifecycle(exc: LifecycleError):
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.errors or None)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        db.session.rollback()
        return error_response(409)

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool recovers on the next request
            pass
        resp = error_response(503)
        resp[0].headers["Retry-After"] = "30"
        return resp

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        log.exception("database error")
        db.session.rollback()
        if exc.connection_invalidated:
            return error_response(503)
        return error_response(500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        try:
            db.session.rollback()
        except Exception:
            pass
        return error_response(500)
