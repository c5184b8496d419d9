"""The staff and operator API: cases and lifecycle actions."""

from app.api import bp  # noqa: F401
