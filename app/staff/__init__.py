"""The staff pages."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from app.staff import routes  # noqa: E402,F401
