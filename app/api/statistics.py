"""The statistics API: bulletin figures and revisions."""

from app.api import bp  # noqa: F401
