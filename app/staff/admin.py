"""Account and API-token management for admins."""

from app.staff import bp  # noqa: F401
