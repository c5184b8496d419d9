"""The staff pages."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from app.staff import (  # noqa: E402,F401
    admin,
    alerts,
    audit,
    calendar_admin,
    case_page,
    contacts,
    dashboard,
    exports,
    jobs,
    materials,
    nav,
    outcome,
    publishing,
    routes,
    satisfaction,
    statistics,
    timeline,
    webhooks_admin,
)
