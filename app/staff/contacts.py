"""Phone consultations, walk-in visits and follow-up calls: the staff pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import is_english
from app.staff import bp
from app.staff.contact_forms import CallForm, ContactForm, ConvertForm, FilterForm, code_choices, operator_choices
from cases import clock, contacts, followups, intake, operator_view, queues, receipts, reference
from cases.models import Appeal, Contact, utcnow
from workflows import filing, outbox

PER_PAGE = 25
MAX_PAGE = 100_000
MAX_ID = 2**31 - 1  # larger ids cannot exist; asking the database would overflow its integer


def page_number() -> int:
    """The ?page= value, kept within 1..MAX_PAGE."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def to_utc(local: dt.datetime) -> dt.datetime:
    """A naive Asia/Shanghai time typed in a form, as naive UTC."""
    return clock.to_utc(local)


def to_local(utc: dt.datetime) -> dt.datetime:
    """A stored naive UTC time as a naive Asia/Shanghai time for a form."""
    return clock.to_local(utc).replace(tzinfo=None, second=0, microsecond=0)


def _lang() -> str:
    """The page's language, zh or en."""
    return "en" if is_english() else "zh"


def _intake_channels() -> list[tuple[str, str]]:
    """The consultation and visit channels as select options."""
    return [(c, v) for c, v in code_choices("contact_channel", _lang()) if c in contacts.INTAKE_CHANNELS]


@bp.route("/contacts")
def contacts_list():
    """Consultations and visits, filtered by channel, date range and operator, paginated."""
    form = FilterForm(request.args)
    form.channel.choices = [("", _("全部"))] + _intake_channels()
    form.operator.choices = operator_choices(_("全部"))
    filters: dict[str, Any] = {}
    if form.validate():
        filters = {
            "channel": form.channel.data or None,
            "date_from": form.date_from.data,
            "date_to": form.date_to.data,
            "operator_id": reference.operator_id_by_code(form.operator.data),
        }
    pagination = queues.rows_page(contacts.contacts_query(**filters), page_number(), PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("staff/contacts/list.html", form=form, pagination=pagination, args=args)


@bp.route("/contacts/new", methods=["GET", "POST"])
def contact_new():
    """Record a phone consultation or a walk-in visit."""
    form = ContactForm()
    form.channel.choices = _intake_channels()
    form.operator.choices = operator_choices(_("不涉及具体运营商"))
    if request.method == "GET":
        form.channel.data = (
            request.args.get("channel") if request.args.get("channel") in contacts.INTAKE_CHANNELS else None
        )
        form.at.data = to_local(utcnow())
    if form.validate_on_submit():
        triage = {"yes": True, "no": False}.get(form.complained_to_operator.data)
        contact = contacts.record_contact(
            channel=form.channel.data,
            recorded_by=g.user,
            at=to_utc(form.at.data),
            topic=form.topic.data,
            operator_id=reference.operator_id_by_code(form.operator.data),
            person_name=form.person_name.data or "",
            phone=form.phone.data or "",
            question=form.question.data,
            answer=form.answer.data or "",
            complained_to_operator=triage,
        )
        db.session.commit()
        flash(_("已记录。"), "success")
        return redirect(url_for("staff.contact_detail", contact_id=contact.id))
    return render_template("staff/contacts/new.html", form=form), 422 if form.errors else 200


def _contact_or_404(contact_id: int) -> Contact:
    """A consultation or visit by id, else 404 (follow-up calls live on their case)."""
    contact = db.session.get(Contact, contact_id) if contact_id <= MAX_ID else None
    if contact is None or contact.channel not in contacts.INTAKE_CHANNELS:
        abort(404)
    return contact


@bp.route("/contacts/<int:contact_id>")
def contact_detail(contact_id: int):
    """One consultation or visit."""
    contact = _contact_or_404(contact_id)
    return render_template("staff/contacts/detail.html", contact=contact, convertible=contacts.convertible(contact))


@bp.route("/contacts/<int:contact_id>/appeal", methods=["GET", "POST"])
def contact_convert(contact_id: int):
    """Turn a consultation or visit into an appeal (转为申诉), prefilled from the contact."""
    contact = _contact_or_404(contact_id)
    if not contacts.convertible(contact):
        flash(_("这条记录不能转为申诉（已转为申诉，或来电人尚未先向运营商投诉）。"), "error")
        return redirect(url_for("staff.contact_detail", contact_id=contact.id))
    form = ConvertForm()
    form.operator.choices = operator_choices("")
    form.service_type.choices = code_choices("service_type", _lang())
    form.category.choices = code_choices("category", _lang())
    if request.method == "GET":
        for name, value in contacts.prefill_from_contact(contact).items():
            form[name].data = value
        form.service_number.data = contact.phone
        form.received_at.data = to_local(contact.at)
    if form.validate_on_submit():
        raw = {name: form[name].data for name in intake.FIELDS if name in form}
        raw["pledge"] = True  # the clerk writes down the caller's own statement (Art. 12): no pledge box to tick
        try:
            # The public portal's rules for every field, so an appeal is the same whichever way it came in.
            cleaned = intake.clean_appeal(raw, clock.today())
        except intake.IntakeErrors as exc:
            for name, errors in exc.errors.items():
                if name in form:
                    form[name].errors = [*form[name].errors, *errors]
            return render_template("staff/contacts/convert.html", form=form, contact=contact), 422
        filed = filing.file_case(
            cleaned,
            channel=contacts.APPEAL_CHANNEL[contact.channel],
            role=g.user.role,
            actor=g.user,
            received_at=to_utc(form.received_at.data),
        )
        contacts.link_appeal(contact, filed.appeal)
        # The appellant gets the same SMS/e-mail receipt as one who filed online (case number and access code).
        record = receipts.for_staff_filing(filed.appeal, filed.access_code, app_secret=current_app.secret_key)
        outbox.record("send_receipt", {"receipt_id": record.id}, dedupe_key=f"receipt-{record.id}")
        db.session.commit()
        # The access code is shown this once; only its hash is stored.
        return render_template(
            "staff/contacts/converted.html", appeal=filed.appeal, access_code=filed.access_code, contact=contact
        )
    return render_template("staff/contacts/convert.html", form=form, contact=contact), 422 if form.errors else 200


def _appeal_or_404(case_no: str) -> Appeal:
    """A case by number, else 404."""
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    if appeal is None:
        abort(404)
    return appeal


def case_calls_context(appeal: Appeal, form: CallForm | None = None) -> dict[str, Any]:
    """What the calls partial shows: the calls, the next call due, the terms status and the call form."""
    settlement = followups.agreed_settlement(appeal)
    latest = operator_view.latest_settlement(appeal)
    if form is None:
        form = CallForm(formdata=None)
        form.at.data = to_local(utcnow())
    return {
        "calls": followups.calls_of(appeal),
        "next_call_due": followups.next_call_due(appeal),
        "settlement": settlement,
        "proposal": latest if latest is not None and latest.agreed_at is None else None,
        "terms_status": followups.terms_status(settlement),
        "settled": appeal.status == "settled",
        "form": form,
    }


@bp.app_template_global("case_calls")
def case_calls(appeal: Appeal) -> dict[str, Any]:
    """The calls partial's data, for `templates/staff/contacts/_case_calls.html` included by the case page."""
    return case_calls_context(appeal)


@bp.route("/cases/<case_no>/calls", methods=["GET", "POST"])
def case_calls_page(case_no: str):
    """The follow-up calls of a case, and the form to record one."""
    appeal = _appeal_or_404(case_no)
    form = CallForm()
    if request.method == "GET":
        form = None
    elif form.validate_on_submit() & form.check_case(appeal.status == "settled"):
        followups.record_call(
            appeal,
            recorded_by=g.user,
            callee=form.callee.data,
            reached=form.reached.data == "yes",
            notes=form.notes.data or "",
            at=to_utc(form.at.data),
            satisfaction=int(form.satisfaction.data) if form.satisfaction.data else None,
            next_call_due=form.next_call_due.data,
            terms_carried_out={"yes": True, "no": False}.get(form.terms_carried_out.data),
        )
        db.session.commit()
        flash(_("回访记录已保存。"), "success")
        return redirect(url_for("staff.case_calls_page", case_no=appeal.case_no))
    status = 422 if form is not None and form.errors else 200
    return render_template(
        "staff/contacts/calls.html", appeal=appeal, calls_ctx=case_calls_context(appeal, form)
    ), status


@bp.route("/settlements/unperformed")
def terms_unperformed():
    """Settled cases whose terms are not carried out (履行未到位): missed on a call, or past their date."""
    pagination = queues.rows_page(followups.unperformed_query(), page_number(), PER_PAGE)
    return render_template("staff/contacts/unperformed.html", pagination=pagination, today=clock.today(), args={})


@bp.route("/calls/due")
def calls_due():
    """Cases whose next follow-up call is due today or earlier."""
    pagination = queues.rows_page(followups.calls_due_query(), page_number(), PER_PAGE)
    return render_template("staff/contacts/calls_due.html", pagination=pagination, args={})
