"""The staff statistics pages, revisions, publishing, baselines, subscriber counts, jobs."""

from app.staff import bp  # noqa: F401
