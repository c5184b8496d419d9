"""Staff search finds appellants by name (the results mask it, as every list does), and a search that finds
nothing says what can be searched."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases import search
from tests.conftest import on_postgres
from tests.factories import make_appeal


def case_numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/staff/cases/([^"]+)">', html)


def test_a_name_finds_the_appellants_cases_and_the_list_masks_it(client, auth):
    auth.as_role("clerk")
    wang = make_appeal(complainant_name="王小明", service_number="13100000001")
    make_appeal(complainant_name="王小红", service_number="13100000002")
    mentioned = make_appeal(facts="代王小明的母亲投诉，宽带未开通", service_number="13100000003")
    html = client.get("/staff/search?q=王小明").get_data(as_text=True)
    assert set(case_numbers(html)) == {wang.case_no, mentioned.case_no}  # the name, and the words in the facts
    assert "王小明" not in html.split("<h2>")[1].replace('value="王小明"', "")  # masked in the results: 王**
    assert "王**" in html
    only_name = client.get("/staff/search?q=王小明&key=name").get_data(as_text=True)
    assert case_numbers(only_name) == [wang.case_no]
    assert case_numbers(client.get("/staff/search?q=王小&key=name").get_data(as_text=True)) == []  # whole names


def test_a_search_that_finds_nothing_says_what_can_be_searched(client, auth):
    auth.as_role("mediator")
    make_appeal()
    html = client.get("/staff/search?q=找不到的词").get_data(as_text=True)
    assert 'id="search-help"' in html and "申诉人姓名" in html and "案件编号" in html and "事实描述中的词语" in html
    found = client.get("/staff/search?q=张三").get_data(as_text=True)
    assert 'id="search-help"' not in found and len(case_numbers(found)) == 1


def test_several_words_are_not_taken_for_a_name(app):
    where = search.condition("流量 扣费", "any")
    assert "complainant_name" not in str(where)
    assert "complainant_name" in str(search.condition("王小明", "any"))
    assert "complainant_name" not in str(search.condition("王小明", "facts"))


@pytest.mark.skipif(not on_postgres, reason="the plan is PostgreSQL's")
def test_on_postgresql_a_name_is_found_through_its_index(app):
    make_appeal(complainant_name="王小明")
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    where = search.condition("王小明", "name").compile(
        dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN SELECT id FROM appeal WHERE {where}")))
    db.session.rollback()
    assert "ix_appeal_complainant_name" in plan, plan
