"""Publishing a bulletin revision is a decision the public sees: a confirmation page with the preview (the PDF
and the paragraph) comes first; a revision whose figures may be incomplete (the period has not ended, or they
were computed before it did: `cases.bulletin.incomplete`) needs a second, explicit confirmation, and every
page and export of it says the figures are provisional (暂定, `cases.bulletin.provisional`)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_babel import gettext as _

from app import bulletin_export as export
from app.i18n import is_english
from app.staff import bp
from cases import bulletin
from cases.bulletin import BulletinRevision, Period, PeriodError

CONFIRMED, PROVISIONAL = "confirmed", "provisional"


def revision_or_404(period: str, number: int) -> tuple[Period, BulletinRevision]:
    """The period and its revision named by the URL, or 404."""
    try:
        p = Period.parse(period)
    except PeriodError:
        abort(404)
    rev = bulletin.get_revision(p.code, number)
    if rev is None:
        abort(404)
    return p, rev


def _label(p: Period) -> str:
    return p.label_en() if is_english() else p.label_zh()


def confirmation_page(p: Period, rev: BulletinRevision, error: str | None = None, status: int = 200):
    """The page that asks before publishing, with the preview and, for a period not ended, the second question."""
    body = render_template(
        "staff/publish_confirm.html",
        period=p,
        label=_label(p),
        revision=rev,
        ended=bulletin.period_ended(p.code),
        incomplete=bulletin.incomplete(rev),
        summary=export.tables(rev.figures)[0],
        error=error,
    )
    return body, status


def refusal(p: Period, rev: BulletinRevision, form: Any):
    """None when the publish form carries the confirmations it needs; else the confirmation page again."""
    if rev.published_at is not None:
        return None  # nothing to confirm: the caller says it is already published
    if form.get(CONFIRMED) != "yes":
        return confirmation_page(p, rev)
    if bulletin.incomplete(rev) and not provisional_asked(form):
        message = _("本版本的数字可能不完整（统计期尚未结束，或在结束前计算）。如确实要发布暂定数据，请勾选确认。")
        return confirmation_page(p, rev, message, 422)
    return None


def provisional_asked(form: Any) -> bool:
    """Whether the publish form ticked the provisional confirmation."""
    return form.get(PROVISIONAL) == "yes"


@bp.route("/bulletin/<period>/<int:number>/publish", methods=["GET"])
def bulletin_publish_confirm(period: str, number: int):
    """Ask before publishing a revision: the paragraph, the main figures and the PDF preview."""
    p, rev = revision_or_404(period, number)
    return confirmation_page(p, rev)


@bp.route("/bulletin/<period>/<int:number>/preview.pdf")
def bulletin_preview_pdf(period: str, number: int):
    """A revision as the public PDF will show it, before it is published."""
    p, rev = revision_or_404(period, number)
    title = _("%(period)s申诉受理情况", period=_label(p))
    return export.pdf_response(
        title,
        _label(p),
        rev.paragraph,
        export.tables(rev.figures),
        export.pdf_charts(rev.figures),
        f"bulletin-{p.code}-r{rev.number}-preview",
    )


@bp.app_template_global()
def bulletin_provisional(rev: BulletinRevision) -> bool:
    """For the bulletin pages: a published revision whose figures cover part of its period only (暂定)."""
    return bulletin.provisional(rev)
