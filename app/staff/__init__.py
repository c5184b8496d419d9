"""The staff pages."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from app.staff import admin, audit, calendar_admin, case_page, contacts, exports, nav, routes, statistics  # noqa: E402,F401
