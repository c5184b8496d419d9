"""The public portal for consumers."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import bulletin, consumer, routes  # noqa: E402,F401
