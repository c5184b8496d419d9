"""Case numbers: one series per (Asia/Shanghai) year, never given out twice, continuing an existing counter."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import numbering
from cases.models import CaseNumberSequence
from cases.numbering import next_case_no
from tests.conftest import on_postgres

NEW_YEAR_EVE_UTC = dt.datetime(2030, 12, 31, 16, 30)  # 00:30 on 1 January 2031 in Asia/Shanghai


def test_each_year_has_its_own_series_starting_at_one_and_the_local_year_decides(app):
    first = next_case_no("JL", dt.datetime(2030, 6, 1, 2, 0))
    second = next_case_no("JL", dt.datetime(2030, 12, 31, 15, 59))  # 23:59 on 31 December in Shanghai
    new_year = next_case_no("JL", NEW_YEAR_EVE_UTC)
    db.session.commit()
    assert (first, second, new_year) == ("JL2030-000001", "JL2030-000002", "JL2031-000001")


def test_numbers_continue_after_the_counter_of_an_existing_installation(app):
    """A database numbered before the sequences (or by the import) keeps its series: no number comes back."""
    db.session.add(CaseNumberSequence(year=2029, last=41))
    db.session.commit()
    assert next_case_no("JL", dt.datetime(2029, 5, 5)) == "JL2029-000042"
    assert next_case_no("JL", dt.datetime(2029, 5, 5)) == "JL2029-000043"


def test_moving_past_imported_numbers_never_goes_back(app):
    assert next_case_no("JL", dt.datetime(2028, 3, 1)) == "JL2028-000001"
    numbering.move_past(2028, 500)
    db.session.commit()
    assert next_case_no("JL", dt.datetime(2028, 3, 2)) == "JL2028-000501"
    numbering.move_past(2028, 10)  # an import of older numbers leaves the series where it is
    db.session.commit()
    number = int(next_case_no("JL", dt.datetime(2028, 3, 3)).split("-")[1])
    assert number > 501


@pytest.mark.skipif(not on_postgres, reason="concurrent writers need PostgreSQL (SQLite serialises them)")
def test_concurrent_intakes_get_distinct_numbers_without_waiting_for_each_other(app):
    """Eight sessions take numbers while one of them holds its transaction open: nobody waits, nobody repeats."""
    at = dt.datetime(2027, 4, 1, 2, 0)
    holder_took = threading.Event()
    release = threading.Event()
    taken: list[str] = []
    lock = threading.Lock()

    def holder() -> None:
        with app.app_context():
            number = next_case_no("JL", at)
            with lock:
                taken.append(number)
            holder_took.set()
            release.wait(10)  # its transaction stays open meanwhile
            db.session.rollback()  # a rolled-back intake leaves a gap, never a duplicate
            db.session.remove()

    def intake() -> None:
        with app.app_context():
            numbers = [next_case_no("JL", at) for _ in range(5)]
            db.session.commit()
            db.session.remove()
            with lock:
                taken.extend(numbers)

    first = threading.Thread(target=holder)
    first.start()
    assert holder_took.wait(10)
    others = [threading.Thread(target=intake) for _ in range(7)]
    for t in others:
        t.start()
    for t in others:
        t.join(10)
    finished_while_held = not any(t.is_alive() for t in others)
    release.set()
    first.join(10)
    assert finished_while_held
    assert len(taken) == 36 and len(set(taken)) == 36
    assert sorted(int(n.split("-")[1]) for n in taken) == list(range(1, 37))


@pytest.mark.skipif(not on_postgres, reason="the per-year sequences exist on PostgreSQL only")
def test_the_sequence_of_a_year_is_made_once_when_first_needed(app):
    def exists() -> bool:
        return db.session.scalar(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": numbering.sequence_name(2032)})

    assert not exists()
    next_case_no("JL", dt.datetime(2032, 1, 5))
    db.session.commit()
    assert exists()
    assert next_case_no("JL", dt.datetime(2032, 1, 6)) == "JL2032-000002"
