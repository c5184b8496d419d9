"""The staff console: queues, search, the case page, notes, masking and its audit, duplicates, assignment."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from cases.models import Appeal
from tests.conftest import make_user, on_postgres
from tests.factories import make_appeal


def test_the_home_page_shows_each_queue_with_its_count(client, auth):
    mediator = auth.as_role("mediator")
    make_appeal()
    make_appeal(state="awaiting_materials")
    mine = make_appeal(state="accepted")
    mine.assignee_id = mediator.id
    db.session.commit()
    make_appeal(state="closed")
    html = client.get("/staff/").get_data(as_text=True)
    assert 'id="count-new">2<' in html
    assert 'id="count-mine">1<' in html
    assert 'id="count-closed">1<' in html
    for label in ("工作台", "待受理", "我的案件", "等待企业答复", "已超期", "已办结", "搜索"):
        assert label in html
    assert "主管看板" not in html  # supervisors only


def test_clerks_are_not_shown_a_my_cases_queue_they_can_never_fill(client, auth):
    auth.as_role("clerk")  # cases are assigned to mediators only (cases/assignment.py)
    make_appeal()
    html = client.get("/staff/").get_data(as_text=True)
    assert 'id="count-new">1<' in html and 'id="count-mine"' not in html and "我的案件" not in html
    assert client.get("/staff/queues/mine").status_code == 200  # the page itself still answers


@pytest.mark.parametrize("role", ["clerk", "mediator", "supervisor", "admin"])
@pytest.mark.parametrize("state", ["received", "awaiting_materials", "replied", "settled", "closed", "rejected"])
def test_the_case_page_renders_for_every_staff_role_and_state(client, auth, role, state):
    auth.as_role(role)
    a = make_appeal(state=state)
    resp = client.get(f"/staff/cases/{a.case_no}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    html = resp.get_data(as_text=True)
    assert a.case_no in html and "138****8000" in html


# --- queues: filters, sorting, pagination, masking, no N+1 ------------------------------------------------


def _case_numbers(html: str) -> list[str]:
    """The case numbers linked from a page, in order."""
    import re

    return re.findall(r'href="/staff/cases/(JL\d{4}-\d{6})"', html)


def test_the_new_appeals_queue_holds_received_and_awaiting_materials_with_the_phone_masked(client, auth):
    auth.as_role("clerk")
    received = make_appeal()
    waiting = make_appeal(state="awaiting_materials", phone="13912345678", service_number="13912345678")
    accepted = make_appeal(state="accepted")
    html = client.get("/staff/queues/new").get_data(as_text=True)
    assert set(_case_numbers(html)) == {received.case_no, waiting.case_no}
    assert accepted.case_no not in html
    assert "139****5678" in html and "13912345678" not in html


def test_the_other_queues_waiting_overdue_closed_and_mine(client, auth):
    clerk = auth.as_role("clerk")
    referred = make_appeal(state="referred")
    late = make_appeal(at=dt.datetime(2026, 1, 5, 2, 0), service_number="13900000009")
    closed = make_appeal(state="closed")
    rejected = make_appeal(state="rejected")
    withdrawn = make_appeal(state="withdrawn")
    mine = make_appeal(state="accepted")
    mine.assignee_id = clerk.id
    db.session.commit()
    assert _case_numbers(client.get("/staff/queues/waiting").get_data(as_text=True)) == [referred.case_no]
    assert _case_numbers(client.get("/staff/queues/overdue").get_data(as_text=True)) == [late.case_no]
    closed_html = client.get("/staff/queues/closed").get_data(as_text=True)
    assert set(_case_numbers(closed_html)) == {closed.case_no, rejected.case_no, withdrawn.case_no}
    assert _case_numbers(client.get("/staff/queues/mine").get_data(as_text=True)) == [mine.case_no]
    assert client.get("/staff/queues/nonsense").status_code == 404


def test_queue_filters_by_state_operator_category_dates_assignee_and_overdue(client, auth):
    auth.as_role("supervisor")
    mediator = make_user("mediator")
    a = make_appeal(at=dt.datetime(2026, 3, 2, 2, 0), category="network")
    b = make_appeal(at=dt.datetime(2026, 3, 10, 2, 0), operator_code="unicom_jl", service_number="13100000001")
    c = make_appeal(state="awaiting_materials", at=dt.datetime(2026, 3, 20, 2, 0), service_number="13100000002")
    c.assignee_id = mediator.id
    fresh = make_appeal(service_number="13100000003")  # received now: its decision clock is still running
    db.session.commit()
    unicom = db.session.scalar(sa.select(Appeal.operator_id).where(Appeal.id == b.id))

    def listed(query: str) -> set[str]:
        """The case numbers the new-appeals queue lists for a query string."""
        resp = client.get(f"/staff/queues/new?{query}")
        assert resp.status_code == 200
        return set(_case_numbers(resp.get_data(as_text=True)))

    assert listed("state=awaiting_materials") == {c.case_no}
    assert listed(f"operator={unicom}") == {b.case_no}
    assert listed("category=network") == {a.case_no}
    assert listed("received_from=2026-03-05&received_to=2026-03-20") == {b.case_no, c.case_no}
    assert listed("received_to=2026-03-02") == {a.case_no}  # the whole local day counts
    assert listed(f"assignee={mediator.id}") == {c.case_no}
    assert listed("overdue=1") == {a.case_no, b.case_no}  # c is paused, fresh is in time
    assert listed("overdue=0") == {c.case_no, fresh.case_no}
    bad = client.get("/staff/queues/new?received_from=2026-13-45&operator=abc&page=-3&sort=drop+table")
    assert bad.status_code == 200 and "日期格式应为" in bad.get_data(as_text=True)


def test_queues_sort_by_deadline_and_by_received_date(client, auth):
    auth.as_role("clerk")
    middle = make_appeal(at=dt.datetime(2026, 3, 10, 2, 0), service_number="13100000001")
    old = make_appeal(at=dt.datetime(2026, 3, 2, 2, 0), service_number="13100000002")
    new = make_appeal(at=dt.datetime(2026, 3, 20, 2, 0), service_number="13100000003")
    paused = make_appeal(state="awaiting_materials", at=dt.datetime(2026, 3, 1, 2, 0), service_number="13100000004")
    # the paused case's clocks still have due dates; by deadline it comes first (earliest due)
    by_deadline = _case_numbers(client.get("/staff/queues/new?sort=deadline").get_data(as_text=True))
    assert by_deadline == [paused.case_no, old.case_no, middle.case_no, new.case_no]
    latest_first = _case_numbers(client.get("/staff/queues/new?sort=-received").get_data(as_text=True))
    assert latest_first == [new.case_no, middle.case_no, old.case_no, paused.case_no]
    earliest_first = _case_numbers(client.get("/staff/queues/new?sort=received").get_data(as_text=True))
    assert earliest_first == list(reversed(latest_first))
    last_due_first = _case_numbers(client.get("/staff/queues/new?sort=-deadline").get_data(as_text=True))
    assert last_due_first == list(reversed(by_deadline))


def test_queues_are_paginated_fifty_a_page_and_the_links_keep_the_filters(client, auth):
    auth.as_role("clerk")
    for n in range(53):
        make_appeal(service_number=f"1310000{n:04d}", category="service")
    first = client.get("/staff/queues/new?category=service&sort=received").get_data(as_text=True)
    assert len(set(_case_numbers(first))) == 50
    assert "共 53 件" in first
    assert "page=2" in first and "category=service" in first
    second = client.get("/staff/queues/new?category=service&sort=received&page=2").get_data(as_text=True)
    assert len(set(_case_numbers(second))) == 3
    assert not set(_case_numbers(first)) & set(_case_numbers(second))
    assert client.get("/staff/queues/new?page=99").status_code == 200


def test_a_queue_page_costs_the_same_number_of_queries_for_3_or_30_cases(client, auth, app):
    auth.as_role("clerk")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        """Record each SQL statement sent."""
        statements.append(statement)

    def queries_for_page() -> int:
        """How many statements one queue page sends."""
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/staff/queues/new").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    for n in range(3):
        make_appeal(service_number=f"1320000{n:04d}")
    few = queries_for_page()
    for n in range(27):
        make_appeal(service_number=f"1330000{n:04d}", operator_code="unicom_jl" if n % 2 else "telecom_jl")
    many = queries_for_page()
    assert many == few, (few, many)


# --- search -----------------------------------------------------------------------------------------------


def test_search_by_case_number_exact_and_prefix(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    b = make_appeal(service_number="13100000001")
    exact = client.get(f"/staff/search?q={a.case_no}").get_data(as_text=True)
    assert _case_numbers(exact) == [a.case_no]
    prefix = client.get(f"/staff/search?q={a.case_no[:8]}&key=case_no").get_data(as_text=True)
    assert set(_case_numbers(prefix)) == {a.case_no, b.case_no}
    typed_small = client.get(f"/staff/search?q={a.case_no[:10].lower()}").get_data(as_text=True)
    assert set(_case_numbers(typed_small)) == {a.case_no, b.case_no}


def test_search_by_phone_and_by_service_number(client, auth):
    auth.as_role("clerk")
    a = make_appeal(phone="13912345678", service_number="04318888888", service_type="fixed")
    make_appeal(phone="13011112222", service_number="13011112222")
    assert _case_numbers(client.get("/staff/search?q=139-1234-5678&key=phone").get_data(as_text=True)) == [a.case_no]
    assert _case_numbers(client.get("/staff/search?q=04318888888").get_data(as_text=True)) == [a.case_no]
    assert _case_numbers(client.get("/staff/search?q=13912345678&key=service_number").get_data(as_text=True)) == []


def test_search_chinese_words_in_the_facts(client, auth):
    auth.as_role("mediator")
    roaming = make_appeal(facts="国际漫游期间流量扣费异常，一天三百元", service_number="13100000001")
    broadband = make_appeal(facts="宽带报修无人上门", service_number="13100000002")
    assert _case_numbers(client.get("/staff/search?q=漫游").get_data(as_text=True)) == [roaming.case_no]
    assert _case_numbers(client.get("/staff/search?q=流量 扣费&key=facts").get_data(as_text=True)) == [roaming.case_no]
    assert _case_numbers(client.get("/staff/search?q=宽带 漫游&key=facts").get_data(as_text=True)) == []
    assert _case_numbers(client.get("/staff/search?q=报修").get_data(as_text=True)) == [broadband.case_no]


def test_search_treats_percent_and_underscore_literally(client, auth):
    auth.as_role("clerk")
    discount = make_appeal(facts="承诺打折50%但未兑现", service_number="13100000001")
    make_appeal(facts="承诺打折50元", service_number="13100000002")
    make_appeal(facts="套餐名称A_B", service_number="13100000003")
    assert _case_numbers(client.get("/staff/search?q=50%25").get_data(as_text=True)) == [discount.case_no]
    assert len(_case_numbers(client.get("/staff/search?q=%25").get_data(as_text=True))) == 1
    assert len(_case_numbers(client.get("/staff/search?q=A_B").get_data(as_text=True))) == 1
    assert _case_numbers(client.get("/staff/search?q=_").get_data(as_text=True)) != []  # only the A_B case
    assert len(_case_numbers(client.get("/staff/search?q=_").get_data(as_text=True))) == 1


def test_an_empty_or_overlong_search_is_answered_with_a_message(client, auth):
    auth.as_role("clerk")
    assert "请输入要查找的内容" in client.get("/staff/search?q=").get_data(as_text=True)
    assert client.get("/staff/search?q=" + "词" * 500).status_code == 200
    assert client.get("/staff/search").status_code == 200


def test_the_console_speaks_english_when_asked(client, auth):
    auth.as_role("supervisor")
    a = make_appeal(state="replied")
    client.set_cookie("lang", "en")
    home = client.get("/staff/").get_data(as_text=True)
    assert "Workbench" in home and "Awaiting decision" in home and "Supervisor dashboard" in home
    case = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    assert 'lang="en"' in case and "Show in full" in case and "Add internal note" in case
    assert "Record settlement" in case and "Operator carries out the terms by" in case  # labels from the table
    assert "Operator replied" in case  # the state's English name


@pytest.mark.skipif(not on_postgres, reason="the trigram index exists on PostgreSQL only")
def test_on_postgresql_the_facts_have_a_trigram_gin_index_that_serves_the_word_search(app):
    definition = db.session.scalar(
        sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = 'appeal' AND indexname = 'ix_appeal_facts_trgm'")
    )
    assert "USING gin" in definition and "gin_trgm_ops" in definition
    from cases import search

    # a small test table is cheapest to scan, so forbid that to see which index the condition can use
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))
    where = search.condition("国际漫游", "facts").compile(
        dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    sql = f"EXPLAIN SELECT id FROM appeal WHERE {str(where).replace('%%', '%')}"
    plan = "\n".join(db.session.scalars(sa.text(sql)))
    db.session.rollback()
    assert "ix_appeal_facts_trgm" in plan, plan


def test_the_queues_know_the_same_open_and_closed_states_as_the_lifecycle_table():
    import re

    from cases import models, queues
    from workflows import lifecycle

    assert set(queues.OPEN_STATES) == set(lifecycle.OPEN_STATES)
    assert set(re.findall(r"'(\w+)'", models.OPEN_STATES_SQL)) == set(lifecycle.OPEN_STATES)  # the partial index
    assert set(queues.CLOSED_STATES) == set(lifecycle.STATES) - set(lifecycle.OPEN_STATES)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("JL2026-000012", "case_no"),
        ("jl2026", "case_no"),
        ("138 0013 8000", "number"),
        ("0431-88888888", "number"),
        ("漫游", "facts"),
        ("JL", "facts"),
        ("50%", "facts"),
        ("12", "facts"),
    ],
)
def test_a_search_in_everything_looks_where_the_input_belongs(text, key):
    from cases import search

    assert search.guess_key(text) == key


def test_a_queue_offers_only_its_own_states_in_the_state_filter(client, auth):
    auth.as_role("clerk")
    new = client.get("/staff/queues/new").get_data(as_text=True)
    state_select = new.split('id="state"')[1].split("</select>")[0]
    assert 'value="awaiting_materials"' in state_select and 'value="closed"' not in state_select
    closed = client.get("/staff/queues/closed").get_data(as_text=True)
    state_select = closed.split('id="state"')[1].split("</select>")[0]
    assert 'value="rejected"' in state_select and 'value="received"' not in state_select


# --- large lists: capped counts, two-character words, common words ------------------------------------------


def test_a_list_longer_than_the_cap_says_more_than_and_still_pages(client, auth, monkeypatch):
    from cases import queues

    auth.as_role("clerk")
    for n in range(7):
        make_appeal(service_number=f"1340000{n:04d}", category="network", facts="家中信号差")
    monkeypatch.setattr(queues, "COUNT_CAP", 5)
    monkeypatch.setattr(queues, "PER_PAGE", 3)
    home = client.get("/staff/").get_data(as_text=True)
    assert 'id="count-new"><span title="超过 5 件">5+</span>' in home
    first = client.get("/staff/queues/new?sort=received").get_data(as_text=True)
    assert "超过 5 件" in first and "共 " not in first
    pages = [
        _case_numbers(client.get(f"/staff/queues/new?sort=received&page={p}").get_data(as_text=True)) for p in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert len({n for p in pages for n in p}) == 7
    last = client.get("/staff/queues/new?sort=received&page=3").get_data(as_text=True)
    assert 'rel="next"' not in last and 'rel="prev"' in last
    monkeypatch.setattr(queues, "COUNT_CAP", 7)
    assert "共 7 件，第 1 / 3 页" in client.get("/staff/queues/new?sort=received").get_data(as_text=True)


def test_the_closed_queue_sorts_by_date_only(client, auth):
    auth.as_role("clerk")
    older = make_appeal(state="closed", at=dt.datetime(2026, 1, 5, 2))
    newer = make_appeal(state="closed", at=dt.datetime(2026, 2, 5, 2), service_number="13100000009")
    page = client.get("/staff/queues/closed?sort=deadline").get_data(as_text=True)
    assert _case_numbers(page) == [newer.case_no, older.case_no]  # the default, newest first
    sort_select = page.split('id="sort"')[1].split("</select>")[0]
    assert 'value="deadline"' not in sort_select and 'value="received"' in sort_select


def test_two_character_words_are_found_exactly_and_case_insensitively(client, auth):
    auth.as_role("mediator")
    signal = make_appeal(facts="小区手机信号差，通话中断", service_number="13100000001")
    sim = make_appeal(facts="补办SIM卡被拒", service_number="13100000002")
    make_appeal(facts="信用卡扣款号码不对", service_number="13100000003")  # 信 and 号 apart: not 信号
    assert _case_numbers(client.get("/staff/search?q=信号").get_data(as_text=True)) == [signal.case_no]
    assert _case_numbers(client.get("/staff/search?q=si&key=facts").get_data(as_text=True)) == [sim.case_no]
    assert _case_numbers(client.get("/staff/search?q=信号 中断").get_data(as_text=True)) == [signal.case_no]
    assert _case_numbers(client.get("/staff/search?q=信号 SIM卡").get_data(as_text=True)) == []
    assert len(_case_numbers(client.get("/staff/search?q=号").get_data(as_text=True))) == 2  # one character: ILIKE


def test_a_common_word_is_listed_newest_first_without_counting(client, auth, monkeypatch):
    from cases import queues, search

    auth.as_role("clerk")
    cases = [
        make_appeal(facts=f"套餐被变更{n}", service_number=f"1350000{n:04d}", at=dt.datetime(2026, 3, 1 + n, 2))
        for n in range(3)
    ]
    make_appeal(facts="宽带报修", service_number="13600000001")
    counted = client.get("/staff/search?q=套餐").get_data(as_text=True)
    assert _case_numbers(counted) == [a.case_no for a in reversed(cases)] and "共 3 件" in counted
    monkeypatch.setattr(search, "COMMON_ROWS", -1)  # every word counts as common
    listed = client.get("/staff/search?q=套餐").get_data(as_text=True)
    assert _case_numbers(listed) == [a.case_no for a in reversed(cases)]
    assert "共 3 件" in listed  # one page: every match was seen, so the total is known without counting
    monkeypatch.setattr(queues, "PER_PAGE", 2)
    first = client.get("/staff/search?q=套餐").get_data(as_text=True)
    assert _case_numbers(first) == [cases[2].case_no, cases[1].case_no]
    assert ("至少 3 件" in first) == on_postgres  # the two shown and one more seen
    last = client.get("/staff/search?q=套餐&page=2").get_data(as_text=True)
    assert _case_numbers(last) == [cases[0].case_no] and "共 3 件" in last  # the last page knows the total


@pytest.mark.skipif(not on_postgres, reason="the character-pair index exists on PostgreSQL only")
def test_on_postgresql_a_two_character_word_is_served_by_the_pair_index(app):
    from cases import search

    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    where = search.condition("扣费", "facts").compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN SELECT id FROM appeal WHERE {where}")))
    db.session.rollback()
    assert "ix_appeal_facts_bigram" in plan, plan
    assert db.session.scalar(sa.text("SELECT appeal_bigrams('Ab信号')")) == ["ab", "b信", "信号"]


@pytest.mark.skipif(not on_postgres, reason="appeal_bigrams exists on PostgreSQL only")
def test_on_postgresql_the_pairs_of_long_multibyte_facts_are_every_two_neighbouring_characters(app):
    facts = "话费账单多扣50元，ＡＢ已向客服投诉；\n答复不予退还😀 Ok." * 150  # ~4,700 characters, mixed widths
    pairs = db.session.scalar(sa.text("SELECT appeal_bigrams(:t)"), {"t": facts})
    lowered = facts.lower()
    assert pairs == [lowered[i : i + 2] for i in range(len(lowered) - 1)]
    assert db.session.scalar(sa.text("SELECT appeal_bigrams('')")) == []
    assert db.session.scalar(sa.text("SELECT appeal_bigrams('信')")) == []


@pytest.mark.skipif(not on_postgres, reason="the pattern index matters on PostgreSQL (its collation is not C)")
def test_on_postgresql_a_case_number_prefix_is_served_by_an_index(app):
    from cases import search

    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    where = search.condition("JL2024-00", "case_no").compile(
        dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN SELECT id FROM appeal WHERE {where}")))
    db.session.rollback()
    assert "ix_appeal_case_no_pattern" in plan, plan


def test_forged_or_impossible_queue_filters_are_ignored_not_a_server_error(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    for query in (
        "operator=99999999999&assignee=99999999999",
        "operator=x&category=nope&state=closed&sort=zz&overdue=2",
        "received_from=0001-01-01&received_to=9999-12-31",
    ):
        page = client.get(f"/staff/queues/new?{query}")
        assert page.status_code == 200, query
        assert _case_numbers(page.get_data(as_text=True)) == [a.case_no], query


@pytest.mark.skipif(not on_postgres, reason="the materialized word matches are a PostgreSQL plan")
def test_on_postgresql_a_rare_word_is_found_through_its_index_then_sorted_newest_first(app, monkeypatch):
    """Matches known to be few are read through the word index and sorted, whatever the planner's estimate."""
    from cases import queues, search

    cases = [
        make_appeal(facts=f"多收197元月费{n}", service_number=f"1350000{n:04d}", at=dt.datetime(2026, 3, 1 + n, 2))
        for n in range(4)
    ]
    make_appeal(facts="宽带报修", service_number="13600000001")
    where = search.condition("197元", "any")
    select = search._few_newest_first(where).with_only_columns(Appeal.id)
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    compiled = select.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {compiled}".replace("%%", "%"))))
    db.session.rollback()
    assert "ix_appeal_facts_trgm" in plan and "ix_appeal_received_at" not in plan, plan
    monkeypatch.setattr(queues, "PER_PAGE", 3)
    first, second = search.results("197元", "any", 1), search.results("197元", "any", 2)
    assert [a.case_no for a in first.items] == [c.case_no for c in reversed(cases[1:])]
    assert [a.case_no for a in second.items] == [cases[0].case_no]
    assert first.total == second.total == 4 and first.total_exact and first.has_next and not second.has_next


@pytest.mark.skipif(not on_postgres, reason="the planner's estimate is asked of PostgreSQL only")
def test_a_word_search_as_a_fresh_process_first_statement_works(app):
    """The estimate's EXPLAIN is compiled after connecting: before, a new process's first statement rendered
    the LIKE escape for a server without standard strings (ESCAPE '\\\\') and PostgreSQL refused it."""
    from app import create_app
    from cases import search

    make_appeal(facts="多收197元月费", service_number="13500000001")
    fresh = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": None})
    with fresh.app_context():
        try:
            assert search.results("197元", "any", 1).total == 1
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_case_number_prefix_lists_its_cases_newest_first_counted_through_the_number_index(client, auth, monkeypatch):
    """Few matches (no more than COUNT_CAP): found through the case-number index, then sorted; on PostgreSQL
    the page is the materialized one (the planner misjudges a prefix as spread over the years)."""
    from cases import search

    auth.as_role("clerk")
    cases = [make_appeal(service_number=f"1350000{n:04d}", at=dt.datetime(2026, 3, 1 + n, 2)) for n in range(3)]
    materialized = []
    few = search._few_newest_first
    monkeypatch.setattr(search, "_few_newest_first", lambda where: materialized.append(where) or few(where))
    prefix = cases[0].case_no[:-2]
    page = client.get(f"/staff/search?q={prefix}").get_data(as_text=True)
    assert _case_numbers(page) == [a.case_no for a in reversed(cases)] and "共 3 件" in page
    assert bool(materialized) == on_postgres
