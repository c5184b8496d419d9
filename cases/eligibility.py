"""Whether a consumer may appeal (Art. 10, 11, 13), and the anonymous count of those stopped.

The web check, the appeal form and the API all call `evaluate`. A stopped
consumer leaves nothing behind but one increment of `EligibilityStop` for the
day and reason.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from cases.db import db
from cases.models import EligibilityStop

REPLY_WAIT_DAYS = 15  # Art. 10(4)
CHARGING_MONTHS = 5  # Art. 11(1)
OTHER_YEARS = 2  # Art. 11(1)

# reason -> rejection ground it corresponds to
REASONS = {
    "not_complained": "art10_4",
    "reply_pending": "art10_4",
    "satisfied": "art10_4",
    "time_barred_charging": "art11_1",
    "time_barred_other": "art11_1",
    "settled_and_performed": "art11_2",
    "other_body": "art11_4",
}


@dataclass
class Answers:
    """The consumer's answers to the check; None means not answered."""

    complained_to_operator: bool | None = None
    complaint_date: dt.date | None = None
    operator_replied: bool | None = None
    satisfied: bool | None = None
    event_date: dt.date | None = None
    charging: bool | None = None
    court_or_arbitration: bool | None = None
    settled_and_performed: bool | None = None

    def to_session(self) -> dict[str, Any]:
        """A JSON-able form, for the signed session."""
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> Answers:
        """The answers back from `to_session`."""
        values = dict(data)
        for key in ("complaint_date", "event_date"):
            if values.get(key):
                values[key] = dt.date.fromisoformat(values[key])
        return cls(**{k: values.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Stop:
    """Why the consumer cannot appeal (yet), the article, and what to do instead."""

    reason: str
    ground: str
    article: str
    advice: str


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def may_appeal_from(complaint_date: dt.date) -> dt.date:
    """The first day an unanswered complaint can be appealed."""
    return complaint_date + dt.timedelta(days=REPLY_WAIT_DAYS)


def time_bar(event_date: dt.date, charging: bool) -> dt.date:
    """The last day an appeal about an event may be filed (Art. 11(1))."""
    if charging:
        return add_months(event_date, CHARGING_MONTHS)
    return add_months(event_date, 12 * OTHER_YEARS)


def evaluate(answers: Answers, today: dt.date) -> Stop | None:
    """The first stop that applies, or None when the consumer may appeal."""
    if answers.complained_to_operator is False:
        return _stop("not_complained")
    if answers.complained_to_operator and answers.operator_replied is False:
        if answers.complaint_date is not None and today < may_appeal_from(answers.complaint_date):
            return _stop("reply_pending", since=answers.complaint_date, date=may_appeal_from(answers.complaint_date))
    if answers.operator_replied and answers.satisfied is True:
        return _stop("satisfied")
    if answers.event_date is not None and answers.charging is not None:
        if today > time_bar(answers.event_date, answers.charging):
            return _stop("time_barred_charging" if answers.charging else "time_barred_other")
    if answers.court_or_arbitration:
        return _stop("other_body")
    if answers.settled_and_performed:
        return _stop("settled_and_performed")
    return None


def missing_answers(answers: Answers) -> list[str]:
    """The questions that must be answered before the check can pass."""
    missing = []
    if answers.complained_to_operator is None:
        missing.append("complained_to_operator")
    elif answers.complained_to_operator:
        if answers.complaint_date is None:
            missing.append("complaint_date")
        if answers.operator_replied is None:
            missing.append("operator_replied")
        elif answers.operator_replied and answers.satisfied is None:
            missing.append("satisfied")
    for name in ("event_date", "charging", "court_or_arbitration", "settled_and_performed"):
        if getattr(answers, name) is None:
            missing.append(name)
    return missing


def _stop(reason: str, **kw: Any) -> Stop:
    ground = REASONS[reason]
    article, advice = _explanations(reason, **kw)
    return Stop(reason=reason, ground=ground, article=article, advice=advice)


def _explanations(reason: str, since: dt.date | None = None, date: dt.date | None = None) -> tuple[str, str]:
    art10 = _("《电信用户申诉处理办法》第十条第四项")
    art11_1 = _("《电信用户申诉处理办法》第十一条第一项")
    if reason == "not_complained":
        return art10, _(
            "请先向运营商投诉（拨打客服热线或到营业厅），15日内未答复或对处理结果不满意再来申诉。"
            "申诉时请准备好投诉的日期和工单号。"
        )
    if reason == "reply_pending":
        return art10, _(
            "您在%(since)s向运营商投诉，运营商有15日时间处理。如果到%(date)s仍未答复，或您对处理结果不满意，再来申诉。",
            since=since.isoformat() if since else "",
            date=date.isoformat() if date else "",
        )
    if reason == "satisfied":
        return art10, _("您对运营商的处理结果满意，不需要申诉。如果运营商没有按承诺办理，可以再次向运营商投诉。")
    if reason == "time_barred_charging":
        return art11_1, _(
            "收费争议应在发生后五个月内申诉，本事项已超过时限，申诉受理中心不能受理。"
            "您可以继续与运营商协商，或依法向人民法院起诉。"
        )
    if reason == "time_barred_other":
        return art11_1, _(
            "此类争议应在发生后二年内申诉，本事项已超过时限，申诉受理中心不能受理。您可以依法向人民法院起诉。"
        )
    if reason == "other_body":
        return _("《电信用户申诉处理办法》第十一条第四项"), _(
            "人民法院、仲裁机构、消费者组织或其他行政机关已受理或处理的事项，申诉受理中心不再受理。"
            "请向正在处理的机构了解进展。"
        )
    return _("《电信用户申诉处理办法》第十一条第二项"), _(
        "您与运营商已经达成和解并已履行，申诉受理中心不再受理。如果出现新的问题，请先向运营商投诉。"
    )


def record_stop(reason: str, day: dt.date) -> None:
    """Add one to the anonymous count of stops for the day and reason, atomically (an upsert)."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(EligibilityStop).values(day=day, reason=reason, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "reason"], set_={"count": EligibilityStop.__table__.c["count"] + 1}
    )
    db.session.execute(stmt)
