"""The staff console's lists: the home page, the work queues, search and the supervisor dashboard."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, render_template, request
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.staff import bp
from app.staff.forms import QueueFilterForm, SearchForm
from app.staff.nav import visible_queues
from cases import duplicates, queues, search, states
from cases.models import Operator, User, utcnow
from workflows import calendar

QUEUE_TITLES = {
    "new": _l("待受理"),
    "mine": _l("我的案件"),
    "waiting": _l("等待企业答复"),
    "overdue": _l("已超期"),
    "closed": _l("已办结"),
}


def page_number() -> int:
    """The requested page number (1 for anything that is not a small positive number)."""
    raw = request.args.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() and len(raw) < 7 else 1


def _case_rows(pagination) -> dict:
    """The extra columns of a list page, each fetched for the whole page in one query."""
    ids = [a.id for a in pagination.items]
    return {"similar": duplicates.similar_counts(ids), "now_utc": utcnow()}


def _kept_args(form) -> dict[str, str]:
    """The form's own query arguments, to carry into the pagination links."""
    return {k: v for k, v in request.args.items() if k in form._fields and v}


@bp.route("/")
def index():
    """The staff home page: the user's queues with their counts."""
    counts = queues.queue_counts(g.user.id)
    unknown_years = []  # told to those who enter the holidays (admins) or see that someone does (supervisors)
    if g.user.role in states.SUPERVISORS:
        unknown_years = calendar.years_to_enter(calendar.local_date(utcnow()))
    return render_template(
        "staff/index.html",
        counts=counts,
        titles=QUEUE_TITLES,
        cap=queues.COUNT_CAP,
        names=visible_queues(),
        unknown_years=unknown_years,
    )


def queue_listing(name: str) -> tuple[QueueFilterForm, sa.Select, list, dict[str, str]]:
    """A queue's filter form read from the query string, its sorted select, its WHERE clauses and the kept args."""
    form = QueueFilterForm(request.args)
    operators = list(db.session.scalars(sa.select(Operator).order_by(Operator.id)))
    staff = [
        (u.id, u.full_name)
        for u in db.session.scalars(
            sa.select(User).where(User.role.in_(sorted(states.CASEWORK))).order_by(User.full_name)
        )
    ]
    form.fill_choices(operators, staff, queues.queue_states(name))
    form.validate()
    form.sort.choices = [c for c in form.sort.choices if c[0] in queues.sorts(name)]
    sort = form.sort.data if form.sort.data in queues.sorts(name) else queues.default_sort(name)
    form.sort.data = sort
    filters = form.filters()
    select = queues.queue_select(name, g.user.id, filters, sort)
    return form, select, queues.queue_conditions(name, g.user.id, filters), _kept_args(form)


@bp.route("/queues/<name>")
def queue(name: str):
    """A work queue, filtered, sorted and paginated."""
    if name not in queues.QUEUES:
        abort(404)
    form, select, where, args = queue_listing(name)
    pagination = queues.page_of(select, where, page_number())
    return render_template(
        "staff/queue.html",
        name=name,
        title=QUEUE_TITLES[name],
        form=form,
        pagination=pagination,
        args=args,
        **_case_rows(pagination),
    )


@bp.route("/search", endpoint="search")
def search_cases():
    """Find cases by number, phone, service number or words in the facts."""
    form = SearchForm(request.args)
    form.fill_choices()
    pagination = None
    rows: dict = {"similar": {}, "now_utc": utcnow()}
    if request.args.get("q") is not None and form.validate():
        pagination = search.results(form.q.data, form.key.data or "any", page_number())
        if pagination is not None:
            rows = _case_rows(pagination)
    args = _kept_args(form)
    return render_template("staff/search.html", form=form, pagination=pagination, args=args, **rows)
