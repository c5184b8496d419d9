"""The contacts API: consultations, visits, follow-up calls."""

from app.api import bp  # noqa: F401
