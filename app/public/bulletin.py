"""The public bulletin pages (published half-yearly figures)."""

from app.public import bp  # noqa: F401
