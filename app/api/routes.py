"""API routes shared by every area."""

from flask import jsonify

from app.api import bp, openapi

openapi.PATHS["/openapi.json"] = {
    "get": {
        "summary": "This OpenAPI document",
        "security": [],
        "responses": {
            "200": {"description": "The document", "content": {"application/json": {"schema": {"type": "object"}}}}
        },
    }
}


openapi.PATHS["/health"] = {
    "get": {
        "summary": "Liveness: the process answers (touches neither the database nor Redis)",
        "security": [],
        "responses": {
            "200": {
                "description": "Alive",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"status": {"type": "string"}},
                            "required": ["status"],
                        }
                    }
                },
            }
        },
    }
}


@bp.route("/health")
def health():
    """Liveness probe, and the floor route of the load benchmark."""
    return jsonify(status="ok")


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API."""
    return jsonify(openapi.document())
