"""The acceptance-decision deadline of an online appeal: 5 working days on the official calendar (Art. 14).

2026: 25-27 Sep Mid-Autumn, 1-7 Oct National Day, Saturday 10 Oct a 调休 working day;
Spring Festival 15-23 Feb with Saturdays 14 and 28 Feb as 调休 working days.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.public import casefile
from cases import intake
from cases.models import Appeal
from tests.test_public_portal import file_through_the_portal
from tests.test_validation import valid_fields
from workflows import calendar

SHANGHAI_OFFSET = dt.timedelta(hours=8)


def file_at(local_time: dt.datetime):
    """File an online appeal received at a Shanghai wall-clock time; returns the appeal."""
    received = local_time - SHANGHAI_OFFSET
    cleaned = intake.clean_appeal(
        valid_fields(event_date="2026-01-02", operator_complaint_date="2026-01-05"), local_time.date()
    )
    filed = casefile.submit_appeal(cleaned, received_at=received)
    db.session.commit()
    return filed.appeal


def due_day(appeal) -> dt.date:
    return calendar.local_date(appeal.deadline("decision").due_at)


def test_the_official_calendar_knows_the_2026_holidays_and_make_up_days():
    assert not chinese_calendar.is_workday(dt.date(2026, 9, 25))  # Friday, Mid-Autumn
    assert not chinese_calendar.is_workday(dt.date(2026, 10, 5))  # Monday, National Day
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # Saturday, 调休
    assert chinese_calendar.is_workday(dt.date(2026, 2, 14))  # Saturday, 调休


@pytest.mark.parametrize(
    "received,due",
    [
        # Thursday 24 Sep: 28, 29, 30 Sep, then 8 and 9 Oct after the holidays
        (dt.datetime(2026, 9, 24, 10, 0), dt.date(2026, 10, 9)),
        # Wednesday 30 Sep: 8, 9, Saturday 10 (调休), 12, 13 Oct
        (dt.datetime(2026, 9, 30, 16, 0), dt.date(2026, 10, 13)),
        # filed on a holiday (2 Oct): counting starts with the first working day after it
        (dt.datetime(2026, 10, 2, 9, 0), dt.date(2026, 10, 13)),
        # 23:50 on Thursday 24 Sep in Shanghai is still the 24th even though UTC says 15:50
        (dt.datetime(2026, 9, 24, 23, 50), dt.date(2026, 10, 9)),
    ],
)
def test_a_decision_deadline_skips_the_national_day_holiday_and_counts_the_make_up_saturday(app, received, due):
    appeal = file_at(received)
    assert due_day(appeal) == due
    # the deadline ends at 23:59:59 Shanghai time of that day
    assert appeal.deadline("decision").due_at == dt.datetime.combine(due, dt.time(15, 59, 59))


@pytest.mark.parametrize(
    "received,due",
    [
        # Thursday 12 Feb: 13, Saturday 14 (调休), then 24, 25, 26 Feb after the Spring Festival
        (dt.datetime(2026, 2, 12, 11, 0), dt.date(2026, 2, 26)),
        # Friday 27 Feb: Saturday 28 (调休), then 2, 3, 4, 5 Mar
        (dt.datetime(2026, 2, 27, 11, 0), dt.date(2026, 3, 5)),
    ],
)
def test_a_decision_deadline_counts_a_make_up_weekend_day(app, received, due):
    assert due_day(file_at(received)) == due


def test_the_receipt_names_the_decision_date_of_the_case(app, client):
    receipt = file_through_the_portal(client)
    appeal = db.session.scalar(sa.select(Appeal))
    assert calendar.local_date(appeal.deadline("decision").due_at).isoformat() in receipt
