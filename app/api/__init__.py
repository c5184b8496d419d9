"""The JSON API, version 1, described by an OpenAPI document at /api/v1/openapi.json."""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # the API authenticates by bearer token or access code, never by cookie

from app.api import cases, consumer, contacts, operator, public, routes, spec, statistics  # noqa: E402,F401
