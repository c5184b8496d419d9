"""API routes shared by every area."""

from flask import current_app
from flask_babel import gettext as _

from app import readiness
from app.api import bp, spec
from app.api.models import Document, Health, Readiness
from app.errors import error_response


@bp.route("/health")
@spec.endpoint(ok={200: Health}, tags=("meta",))
def health():
    """Liveness: the process answers (touches neither the database nor Redis); the load benchmark's floor route."""
    return {"status": "ok"}


@bp.route("/ready")
@spec.endpoint(ok={200: Readiness}, errors=(503,), tags=("meta",))
def ready():
    """Readiness, for the load balancer: 200 with each check's word when the database (and Redis, where used)
    answer and the migrations suit this code; else 503 naming, under `errors`, each check that is not
    (`app/readiness.py`)."""
    is_ready, checks = readiness.check(current_app)
    if not is_ready:
        failed = {name: [word] for name, word in checks.items() if word not in readiness.GOOD[name]}
        answer, status = error_response(503, _("此服务节点暂不能受理请求。"), failed)
        answer.headers["Cache-Control"] = "no-store"
        return answer, status
    return {"status": "ready", "checks": checks}, 200, {"Cache-Control": "no-store"}


@bp.route("/openapi.json")
@spec.endpoint(ok={200: Document}, tags=("meta",))
def openapi_document():
    """This OpenAPI document, generated from the endpoints' declarations."""
    return spec.document()
