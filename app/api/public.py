"""The consumer's API: reference lists, filing, tracking, materials, withdrawal."""

from app.api import bp  # noqa: F401
