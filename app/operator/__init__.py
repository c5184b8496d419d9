"""The operator pages."""

from flask import Blueprint

bp = Blueprint("operator", __name__)

from app.operator import routes  # noqa: E402,F401
