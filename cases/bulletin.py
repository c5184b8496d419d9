"""The half-yearly bulletin: periods, the headline paragraph, numbered revisions and publishing.

A period is a half-year (`2022H2`) or a quarter (`2023Q1`) of the Asia/Shanghai
calendar. A rollup stores a numbered `BulletinRevision`; a published revision
never changes (enforced by the mapper events at the end of this module, which the factory installs).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from cases import clock
from cases.db import db
from cases.models import Baseline, BulletinRevision, utcnow

_PERIOD = re.compile(r"^(\d{4})(H[12]|Q[1-4])$")
_ZH_QUARTERS = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


class PeriodError(ValueError):
    """A period code that is not of the form 2022H2 or 2023Q1."""


class PublishedRevisionChanged(Exception):
    """Raised when code tries to change or delete a published revision."""


@dataclass(frozen=True)
class Period:
    """A half-year or a quarter of the Asia/Shanghai calendar."""

    code: str
    year: int
    kind: str  # H or Q
    number: int

    @classmethod
    def parse(cls, code: str) -> Period:
        """Parse `2022H2` or `2023Q1`; raises PeriodError."""
        m = _PERIOD.match((code or "").strip().upper())
        if not m or not 2000 <= int(m.group(1)) <= 2100:
            raise PeriodError(f"not a period: {code!r} (expected e.g. 2022H2 or 2023Q1)")
        return cls(f"{m.group(1)}{m.group(2)}", int(m.group(1)), m.group(2)[0], int(m.group(2)[1]))

    @classmethod
    def containing(cls, at_utc: dt.datetime, kind: str = "H") -> Period:
        """The period (half-year by default) that a stored UTC time falls in, by Asia/Shanghai time."""
        local = clock.to_local(at_utc)
        number = (local.month - 1) // 6 + 1 if kind == "H" else (local.month - 1) // 3 + 1
        return cls(f"{local.year}{kind}{number}", local.year, kind, number)

    @property
    def first_day(self) -> dt.date:
        """The first day of the period."""
        months = 6 if self.kind == "H" else 3
        return dt.date(self.year, (self.number - 1) * months + 1, 1)

    @property
    def end_day(self) -> dt.date:
        """The first day after the period."""
        months = 6 if self.kind == "H" else 3
        month = self.number * months + 1
        return dt.date(self.year + 1, 1, 1) if month > 12 else dt.date(self.year, month, 1)

    @property
    def start_utc(self) -> dt.datetime:
        """The start, as naive UTC."""
        return clock.local_midnight_utc(self.first_day)

    @property
    def end_utc(self) -> dt.datetime:
        """The exclusive end, as naive UTC."""
        return clock.local_midnight_utc(self.end_day)

    def year_before(self) -> Period:
        """The same period a year earlier (for 同比)."""
        return Period(f"{self.year - 1}{self.kind}{self.number}", self.year - 1, self.kind, self.number)

    def previous(self) -> Period:
        """The period just before this one."""
        if self.number > 1:
            return Period(f"{self.year}{self.kind}{self.number - 1}", self.year, self.kind, self.number - 1)
        last = 2 if self.kind == "H" else 4
        return Period(f"{self.year - 1}{self.kind}{last}", self.year - 1, self.kind, last)

    def label_zh(self) -> str:
        """2022年下半年, 2023年第一季度."""
        if self.kind == "H":
            return f"{self.year}年{'上' if self.number == 1 else '下'}半年"
        return f"{self.year}年{_ZH_QUARTERS[self.number]}"

    def label_en(self) -> str:
        """H2 2022, Q1 2023."""
        return f"{self.kind}{self.number} {self.year}"


def percent(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    """numerator ÷ denominator in percent, two decimals, rounded half up; None when the denominator is 0."""
    if not denominator:
        return None
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def per_million(count: int, users: int | None) -> Decimal | None:
    """Appeals per million users (百万用户申诉率): count ÷ (users / 1e6), two decimals, half up."""
    if not users:
        return None
    value = Decimal(count) * 1_000_000 / Decimal(users)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def change_percent(current: int, before: int | None) -> Decimal | None:
    """The year-on-year change in percent, two decimals, half up; None without a base."""
    if not before:
        return None
    return percent(current - before, before)


def paragraph(period: Period, figures: dict[str, Any], centre_name: str, short_name: str) -> str:
    """The headline paragraph in the seed's form, with full-width punctuation.

    A change of 0.00 % reads 同比持平; without a figure for the year before the 同比 clause is left out, and
    without an acceptance in the period the 和解率 clause (a rate of nothing) is left out.
    """
    yoy = figures.get("yoy_change_pct")
    if yoy is None:
        trend = ""
    elif (value := Decimal(str(yoy))) == 0:
        trend = "同比持平，"
    else:
        trend = f"同比{'下降' if value < 0 else '上升'}{abs(value):.2f}%，"
    rate = figures.get("settlement_rate_pct")
    rate_clause = f"，和解率{Decimal(str(rate)):.2f}%" if rate is not None and figures["appeals_accepted"] else ""
    return (
        f"{period.label_zh()}，{centre_name}（以下简称{short_name}）"
        f"共接到用户电话咨询{figures['phone_consultations']}件，"
        f"回访呼出{figures['callbacks']}件，"
        f"接待现场来访{figures['visits']}人次，"
        f"接到用户提交材料{figures['materials_received']}件，"
        f"受理用户申诉{figures['appeals_accepted']}件"
        f"（其中，基础电信业务企业为{figures['appeals_accepted_basic']}件，"
        f"移动转售等其他企业{figures['appeals_accepted_resale_other']}件），"
        f"{trend}"
        f"经{short_name}调解，电信用户与被申诉企业达成和解{figures['settled']}件"
        f"{rate_clause}。"
    )


# --- revisions -----------------------------------------------------------------------------------------------


def revisions(period: str) -> list[BulletinRevision]:
    """Every revision of a period, newest first."""
    return list(
        db.session.scalars(
            sa.select(BulletinRevision)
            .where(BulletinRevision.period == period)
            .order_by(BulletinRevision.number.desc())
        )
    )


def latest_revision(period: str) -> BulletinRevision | None:
    """The newest revision of a period, published or not."""
    return db.session.scalar(
        sa.select(BulletinRevision)
        .where(BulletinRevision.period == period)
        .order_by(BulletinRevision.number.desc())
        .limit(1)
    )


def published_revision(period: str) -> BulletinRevision | None:
    """The newest published revision of a period (what the public sees)."""
    return db.session.scalar(
        sa.select(BulletinRevision)
        .where(BulletinRevision.period == period, BulletinRevision.published_at.is_not(None))
        .order_by(BulletinRevision.number.desc())
        .limit(1)
    )


def get_revision(period: str, number: int) -> BulletinRevision | None:
    """One revision by period and number."""
    return db.session.scalar(
        sa.select(BulletinRevision).where(BulletinRevision.period == period, BulletinRevision.number == number)
    )


def published_periods() -> list[str]:
    """Periods with a published revision, oldest first."""
    rows = db.session.scalars(
        sa.select(BulletinRevision.period).where(BulletinRevision.published_at.is_not(None)).distinct()
    )
    return sorted(set(rows))


def store_rollup(period: Period, figures: dict[str, Any], text: str) -> tuple[BulletinRevision, bool]:
    """Store the figures as the next revision, unless they equal the latest revision's; returns (revision, created)."""
    latest = latest_revision(period.code)
    if latest is not None and latest.figures == figures and latest.paragraph == text:
        return latest, False
    number = (latest.number + 1) if latest is not None else 1
    rev = BulletinRevision(period=period.code, number=number, figures=figures, paragraph=text, computed_at=utcnow())
    db.session.add(rev)
    db.session.flush()
    return rev, True


def period_ended(period: str, now: dt.datetime | None = None) -> bool:
    """Whether the period is over (its figures can still change until then)."""
    return (now or utcnow()) >= Period.parse(period).end_utc


def incomplete(rev: BulletinRevision) -> bool:
    """Whether a revision's figures may be incomplete: they were computed before the period ended (the period
    is still running, or the rollup ran before its end and was not run again). Publishing such a revision is
    a provisional publication (暂定): it needs an explicit `provisional=True`, and every place that shows the
    bulletin marks it (`provisional`)."""
    return rev.computed_at < Period.parse(rev.period).end_utc


def provisional(rev: BulletinRevision) -> bool:
    """A published revision whose figures cover part of the period only (暂定): see `incomplete`."""
    return rev.published_at is not None and incomplete(rev)


class ProvisionalNotConfirmed(Exception):
    """Publishing a revision with incomplete figures was not explicitly asked for as provisional."""


def publish(rev: BulletinRevision, user_id: int | None, *, provisional: bool = False) -> bool:
    """Publish a revision; False when it was already published (nothing changes). A revision whose figures may
    be incomplete (`incomplete`) is published only with `provisional=True`, else ProvisionalNotConfirmed."""
    if rev.published_at is not None:
        return False
    if incomplete(rev) and not provisional:
        raise ProvisionalNotConfirmed(rev.period)
    rev.published_at = utcnow()
    rev.published_by_id = user_id
    return True


def base_figure(period: Period, name: str) -> int | None:
    """A figure of a past period for 同比: its published revision, else its baseline, else its latest revision."""
    rev = published_revision(period.code)
    if rev is not None and rev.figures.get(name) is not None:
        return int(rev.figures[name])
    baseline = db.session.scalar(sa.select(Baseline).where(Baseline.period == period.code))
    if baseline is not None and baseline.figures.get(name) not in (None, ""):
        return int(baseline.figures[name])
    rev = latest_revision(period.code)
    if rev is not None and rev.figures.get(name) is not None:
        return int(rev.figures[name])
    return None


def diff(new: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The figures that changed between two revisions (flat figures only), with before and after."""
    if old is None:
        return []
    changes = []
    for key, value in new.items():
        if isinstance(value, (dict, list)):
            continue
        before = old.get(key)
        if before != value:
            changes.append({"figure": key, "before": before, "after": value})
    for key in old:
        if key not in new and not isinstance(old[key], (dict, list)):
            changes.append({"figure": key, "before": old[key], "after": None})
    return changes


def changed_tables(new: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    """The names of the breakdown tables that differ between two revisions."""
    if old is None:
        return []
    return [k for k, v in new.items() if isinstance(v, (dict, list)) and old.get(k) != v]


# --- a published revision never changes ----------------------------------------------------------------------


def _refuse_changing_published(mapper, connection, target: BulletinRevision) -> None:
    """Refuse any change to a revision that was already published."""
    state = sa.inspect(target)
    published = state.attrs.published_at.history
    was_published = (published.deleted and published.deleted[0] is not None) or (
        not published.has_changes() and target.published_at is not None
    )
    if not was_published:
        return
    changed = [a.key for a in state.attrs if a.history.has_changes()]
    if changed:
        raise PublishedRevisionChanged(f"revision {target.period}#{target.number} is published: {changed} refused")


def _refuse_deleting_published(mapper, connection, target: BulletinRevision) -> None:
    """Refuse deleting a published revision."""
    if target.published_at is not None:
        raise PublishedRevisionChanged(f"revision {target.period}#{target.number} is published: delete refused")


def guard_published() -> None:
    """Refuse changing or deleting a published revision (the application factory calls this; once is enough)."""
    for name, listener in (
        ("before_update", _refuse_changing_published),
        ("before_delete", _refuse_deleting_published),
    ):
        if not event.contains(BulletinRevision, name, listener):
            event.listen(BulletinRevision, name, listener)
