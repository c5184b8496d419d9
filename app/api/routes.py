"""API routes shared by every area."""

from flask import jsonify

from app.api import bp, openapi


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API."""
    return jsonify(openapi.document())
