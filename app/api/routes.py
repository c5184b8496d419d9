"""API routes shared by every area."""

from app.api import bp, spec
from app.api.models import Document, Health


@bp.route("/health")
@spec.endpoint(ok={200: Health}, tags=("meta",))
def health():
    """Liveness: the process answers (touches neither the database nor Redis); the load benchmark's floor route."""
    return {"status": "ok"}


@bp.route("/openapi.json")
@spec.endpoint(ok={200: Document}, tags=("meta",))
def openapi_document():
    """This OpenAPI document, generated from the endpoints' declarations."""
    return spec.document()
