"""满意度评价: the appellant rates the handling of a case that ended, once; the statistics count it with the
satisfaction recorded on follow-up calls, each case once (the later of the two wins; both stay recorded).

A case "ended" when it is closed (办结): closed after the terms were carried out, acknowledged, disagreed or
mediation failed. A rejected or withdrawn case is not rated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from cases import codes, consumers
from cases.db import db
from cases.models import Appeal, Contact, Operator, Rating, utcnow

SCORES = (1, 2, 3, 4, 5)
SATISFIED = (4, 5)  # the satisfaction rate is the share of these
COMMENT_LIMIT = 500
RATEABLE_STATES = ("closed",)


class RatingRefused(Exception):
    """The rating cannot be taken: `status` 409 (not ended, already rated) or 422 (bad values, by field)."""

    def __init__(self, status: int, errors: dict[str, list[str]]):
        super().__init__(status, errors)
        self.status = status
        self.errors = errors

    @property
    def message(self) -> str:
        return " ".join(m for msgs in self.errors.values() for m in msgs)


def can_rate(appeal: Appeal) -> bool:
    """True when the case has ended and the appellant has not rated it on the web yet."""
    return appeal.status in RATEABLE_STATES and web_rating(appeal) is None


def web_rating(appeal: Appeal) -> Rating | None:
    """The appellant's own rating of the case, if given."""
    return db.session.scalar(sa.select(Rating).where(Rating.appeal_id == appeal.id))


def check(score: Any, comment: Any) -> tuple[int, str]:
    """The score (1–5) and the comment (at most COMMENT_LIMIT characters), or RatingRefused(422) naming the fields."""
    errors: dict[str, list[str]] = {}
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        errors["score"] = [_("请选择 1 到 5 分的满意程度。")]
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = [_("意见应为文字。")]
    elif len(comment.strip()) > COMMENT_LIMIT:
        errors["comment"] = [_("意见最多%(max)d个字。", max=COMMENT_LIMIT)]
    if errors:
        raise RatingRefused(422, errors)
    return score, comment.strip()


def rate(appeal: Appeal, score: Any, comment: Any = "", via: str = "web") -> Rating:
    """Record the appellant's rating with an internal audit event; the caller commits (a concurrent second rating
    meets the unique index: the caller answers 409)."""
    score, comment = check(score, comment)
    if appeal.status not in RATEABLE_STATES:
        raise RatingRefused(409, {"score": [_("申诉办结后才能评价。")]})
    if web_rating(appeal) is not None:
        raise RatingRefused(409, {"score": [_("这件申诉已经评价过了。")]})
    now = utcnow()
    row = Rating(appeal_id=appeal.id, score=score, comment=comment, at=now)
    db.session.add(row)
    consumers.audit(appeal, "consumer_rating", score=score, via=via)
    return row


@dataclass
class Counted:
    """Ratings counted in one group: how many, how many satisfied (4–5), the sum of scores."""

    key: str
    name: str
    rated: int = 0
    satisfied: int = 0
    total: int = 0

    def add(self, score: int) -> None:
        self.rated += 1
        self.satisfied += score in SATISFIED
        self.total += score

    @property
    def rate(self) -> str | None:
        """The satisfaction rate in percent, one decimal; None when nothing was rated."""
        if not self.rated:
            return None
        return str((Decimal(100 * self.satisfied) / self.rated).quantize(Decimal("0.1"), ROUND_HALF_UP))

    @property
    def mean(self) -> str | None:
        """The mean score, two decimals; None when nothing was rated."""
        if not self.rated:
            return None
        return str((Decimal(self.total) / self.rated).quantize(Decimal("0.01"), ROUND_HALF_UP))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "rate": self.rate,
            "mean": self.mean,
        }


def effective_scores(start: dt.datetime, end: dt.datetime) -> dict[int, tuple[int, str, dt.datetime]]:
    """Per case closed in [start, end): its counted score, where it came from (web or call) and when: the later
    of the appellant's web rating and the last follow-up call that recorded a satisfaction."""
    closed = sa.select(Appeal.id).where(Appeal.closed_at >= start, Appeal.closed_at < end, Appeal.status == "closed")
    found: dict[int, tuple[int, str, dt.datetime]] = {}
    web = db.session.execute(sa.select(Rating.appeal_id, Rating.score, Rating.at).where(Rating.appeal_id.in_(closed)))
    calls = db.session.execute(
        sa.select(Contact.appeal_id, Contact.satisfaction, Contact.at).where(
            Contact.appeal_id.in_(closed), Contact.channel == "callback", Contact.satisfaction.is_not(None)
        )
    )
    for source, rows in (("web", web), ("call", calls)):
        for appeal_id, score, at in rows:
            if appeal_id not in found or at >= found[appeal_id][2]:
                found[appeal_id] = (score, source, at)
    return found


def satisfaction(start: dt.datetime, end: dt.datetime, lang: str = "zh") -> dict[str, Any]:
    """The satisfaction of cases closed in [start, end): overall, by operator and by outcome."""
    scores = effective_scores(start, end)
    overall = Counted("all", _("全部"))
    by_operator: dict[int, Counted] = {}
    by_outcome: dict[str, Counted] = {}
    if scores:
        rows = db.session.execute(
            sa.select(Appeal.id, Appeal.operator_id, Appeal.outcome, Operator.code, Operator.name, Operator.short_name)
            .join(Operator, Operator.id == Appeal.operator_id)
            .where(Appeal.id.in_(list(scores)))
        )
        for appeal_id, operator_id, outcome, op_code, op_name, op_short in rows:
            score = scores[appeal_id][0]
            overall.add(score)
            by_operator.setdefault(operator_id, Counted(op_code, op_short or op_name)).add(score)
            key = outcome or "closed"
            name = codes.name("outcome", outcome, lang) if outcome else _("办结")
            by_outcome.setdefault(key, Counted(key, name)).add(score)
    return {
        "overall": overall.as_dict(),
        "by_operator": [c.as_dict() for c in sorted(by_operator.values(), key=lambda c: c.key)],
        "by_outcome": [c.as_dict() for c in sorted(by_outcome.values(), key=lambda c: c.key)],
        "web": sum(1 for s in scores.values() if s[1] == "web"),
        "call": sum(1 for s in scores.values() if s[1] == "call"),
    }


def rated_cases(start: dt.datetime, end: dt.datetime, operator: str = "", outcome: str = "") -> list[dict[str, Any]]:
    """The drill-down: the rated cases closed in [start, end) (of an operator code and outcome when given)."""
    scores = effective_scores(start, end)
    if not scores:
        return []
    query = (
        sa.select(Appeal.id, Appeal.case_no, Appeal.outcome, Appeal.closed_at, Operator.code, Operator.name)
        .join(Operator, Operator.id == Appeal.operator_id)
        .where(Appeal.id.in_(list(scores)))
        .order_by(Appeal.closed_at.desc(), Appeal.id.desc())
    )
    if operator:
        query = query.where(Operator.code == operator)
    if outcome == "closed":
        query = query.where(Appeal.outcome.is_(None))
    elif outcome:
        query = query.where(Appeal.outcome == outcome)
    return [
        {
            "id": appeal_id,
            "case_no": case_no,
            "outcome": outcome_code,
            "closed_at": closed_at,
            "operator": op_name,
            "score": scores[appeal_id][0],
            "source": scores[appeal_id][1],
            "at": scores[appeal_id][2],
        }
        for appeal_id, case_no, outcome_code, closed_at, _op_code, op_name in db.session.execute(query)
    ]
