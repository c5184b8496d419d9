"""API routes shared by every area."""

from flask import jsonify

from app.api import bp, openapi

openapi.PATHS["/openapi.json"] = {
    "get": {
        "summary": "This OpenAPI document",
        "security": [],
        "responses": {"200": {"description": "The document", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }
}


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API."""
    return jsonify(openapi.document())
