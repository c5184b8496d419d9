"""Phone consultations, walk-in visits and follow-up calls."""

from app.staff import bp  # noqa: F401
