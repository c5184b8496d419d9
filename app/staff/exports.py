"""Case lists as spreadsheets: a queue (with its filters and sort) or a search, as CSV or XLSX.

Every member of staff may export a list with personal data masked, as the list page shows it. Only a
supervisor may export the full personal data and the complainant's own words (for call-back lists, for
instance); that is a POST with the form's CSRF token, and each case exported writes a `PiiView` row
(field `export`), so the audit log shows who took whose data. A list longer than `MAX_ROWS` is not
exported: the page asks for narrower filters instead of silently cutting the file.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from app.bulletin_export import Table, csv_response, xlsx_response
from app.extensions import db
from app.i18n import code_name, local_datetime
from app.staff import bp
from app.staff.forms import SearchForm
from app.staff.routes import QUEUE_TITLES, queue_listing
from cases import pii, queues, search
from cases.models import Appeal, PiiView, utcnow
from workflows import engine

MAX_ROWS = queues.COUNT_CAP
FORMATS = ("csv", "xlsx")


def _headers(full: bool) -> list[str]:
    masked = [
        _("案件编号"),
        _("状态"),
        _("收到时间"),
        _("被申诉企业"),
        _("申诉类别"),
        _("业务类型"),
        _("申诉人"),
        _("联系电话"),
        _("业务号码"),
        _("承办人"),
        _("最近期限"),
        _("是否超期"),
    ]
    if not full:
        return masked
    return masked + [_("身份证号码"), _("地址"), _("邮政编码"), _("电子邮箱"), _("申诉请求"), _("事实与理由")]


def _row(a: Appeal, now, full: bool) -> list[str]:
    row = [
        a.case_no,
        engine.state_name(a.status),
        local_datetime(a.received_at),
        a.operator.display_name,
        code_name(a.category, "category"),
        code_name(a.service_type, "service_type"),
        a.complainant_name if full else pii.mask_name(a.complainant_name),
        a.phone if full else pii.mask_phone(a.phone),
        a.service_number if full else pii.mask_phone(a.service_number),
        a.assignee.full_name if a.assignee else "",
        local_datetime(a.next_due_at) if a.next_due_at else "",
        _("是") if a.is_late(now) else _("否"),
    ]
    if full:
        row += [a.id_number or "", a.address or "", a.postcode or "", a.email or "", a.request or "", a.facts or ""]
    return row


def _respond(page: queues.Page, title: str, filename: str, fmt: str, full: bool, back: str):
    """The file, or back to the list with a message when it is longer than an export may be."""
    if page.has_next:
        flash(_("列表超过 %(n)s 件，请用筛选条件缩小范围后再导出。", n=MAX_ROWS), "error")
        return redirect(back)
    now = utcnow()
    table = Table("cases", title, _headers(full), [_row(a, now, full) for a in page.items])
    if full:
        db.session.add_all(PiiView(appeal_id=a.id, user_id=g.user.id, field="export", at=now) for a in page.items)
        db.session.commit()
    name = f"{filename}-{local_datetime(now, '%Y%m%d-%H%M')}{'-full' if full else ''}"
    response = csv_response(table, name) if fmt == "csv" else xlsx_response([table], name)
    response.headers["Cache-Control"] = "no-store"
    return response


def _queue_export(name: str, fmt: str, full: bool):
    if name not in queues.QUEUES or fmt not in FORMATS:
        abort(404)
    _form, select, where, args = queue_listing(name)
    page = queues.page_of(select, where, 1, per_page=MAX_ROWS)
    back = url_for("staff.queue", name=name, **args)
    return _respond(page, str(QUEUE_TITLES[name]), f"queue-{name}", fmt, full, back)


def _search_export(fmt: str, full: bool):
    if fmt not in FORMATS:
        abort(404)
    form = SearchForm(request.args)
    form.fill_choices()
    if not form.validate():
        return redirect(url_for("staff.search", **request.args))
    page = search.results(form.q.data, form.key.data or "any", 1, per_page=MAX_ROWS)
    if page is None:
        return redirect(url_for("staff.search"))
    back = url_for("staff.search", **request.args)
    return _respond(page, _("搜索结果"), "search", fmt, full, back)


@bp.route("/queues/<name>/export.<fmt>")
def queue_export(name: str, fmt: str):
    """A queue as it is filtered and sorted, personal data masked."""
    return _queue_export(name, fmt, full=False)


@bp.route("/queues/<name>/export-full.<fmt>", methods=["POST"])
def queue_export_full(name: str, fmt: str):
    """A queue with the full personal data and the complainant's words; each case's export is audited."""
    return _queue_export(name, fmt, full=True)


@bp.route("/search/export.<fmt>")
def search_export(fmt: str):
    """Search results, personal data masked."""
    return _search_export(fmt, full=False)


@bp.route("/search/export-full.<fmt>", methods=["POST"])
def search_export_full(fmt: str):
    """Search results with the full personal data; each case's export is audited."""
    return _search_export(fmt, full=True)


@bp.app_context_processor
def _export_context() -> dict:
    """The longest list an export takes, for the export links under each list."""
    return {"export_max": MAX_ROWS}
