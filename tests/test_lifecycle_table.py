"""Proofs of the lifecycle table: every transition, every refusal, the roles, optimistic locking (web and two real
concurrent sessions), deadlines across holidays and the materials pause, reopening and re-referral."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from cases import codes
from cases.models import Appeal, CaseEvent, Referral
from tests.conftest import make_user, on_postgres
from tests.factories import PATHS, case_for, make_appeal, open_as
from workflows import engine, lifecycle
from workflows.engine import ActionNotAllowed, InvalidFields, RoleNotAllowed

STATES = list(lifecycle.STATES)
ROWS = list(enumerate(lifecycle.TRANSITIONS))
STAFF_ROWS = [(i, t) for i, t in ROWS if t.action != "submit"]


def valid_data(t: lifecycle.Transition) -> dict[str, str]:
    """Values that satisfy every field an action asks for."""
    values = {"text": "已核实并退费", "date": "2036-12-31", "money": "50.00", "bool": "y", "operator": "unicom_jl"}
    data = {}
    for f in t.fields:
        if f.kind.startswith("choice:"):
            data[f.name] = next(iter(codes.ALL[f.kind.split(":", 1)[1]]))
        else:
            data[f.name] = values[f.kind]
    return data


def form_data(t: lifecycle.Transition, version: int, data: dict[str, str] | None = None) -> dict[str, str]:
    """The POST body of a case page's action form (fields carry the action as prefix)."""
    body = {f"{t.action}-{k}": v for k, v in (valid_data(t) if data is None else data).items()}
    body[f"{t.action}-version"] = str(version)
    return body


def snapshot(appeal: Appeal) -> tuple:
    """State, version, outcome and number of events of the appeal, from the database."""
    db.session.expire_all()
    fresh = db.session.get(Appeal, appeal.id)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.appeal_id == fresh.id))
    return fresh.status, fresh.version, fresh.outcome, events


def ids(rows):
    """Readable test ids for rows of the table: action and sources."""
    return [f"{t.action}:{'/'.join(sorted(t.sources))}" for _i, t in rows]


# --- the engine -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "t"), STAFF_ROWS, ids=ids(STAFF_ROWS))
def test_every_transition_of_the_table_moves_the_case_for_every_allowed_role_from_every_source(app, index, t):
    for source in sorted(t.sources):
        a = case_for(t, source)
        for role in sorted(t.roles):
            before = len(a.events)
            event = engine.perform(a, t.action, role=role, data=valid_data(t))
            db.session.flush()
            assert a.status == t.target, (source, role)
            assert len(a.events) == before + 1 and event.action == t.action
            assert (event.from_state, event.to_state) == (source, t.target)
            if t.outcome:
                assert a.outcome == t.outcome
            for kind in t.starts:
                assert a.deadline(kind).stopped_at is None
            for kind in t.stops:
                clock = a.deadline(kind)
                assert clock is None or clock.stopped_at is not None
            db.session.rollback()  # the next role starts from the same case
            assert a.status == source


@pytest.mark.parametrize("state", STATES)
def test_every_action_the_table_does_not_allow_from_a_state_is_refused_and_changes_nothing(app, state):
    a = make_appeal(state=state)
    before = snapshot(a)
    refused = [x for x in lifecycle.ACTIONS if lifecycle.transition_for(x, state) is None]
    assert refused, state
    for action in refused:
        with pytest.raises(ActionNotAllowed):
            engine.perform(a, action, role="supervisor", data={})
        db.session.rollback()
        assert snapshot(a) == before, action


@pytest.mark.parametrize(("index", "t"), ROWS, ids=ids(ROWS))
def test_every_role_outside_a_row_is_refused_by_the_engine(app, index, t):
    for role in sorted(set(lifecycle.ALL_ROLES) - t.roles):
        state = sorted(t.sources)[0]
        if state == "new":
            a = Appeal(status=None)
        else:
            a = case_for(t, state)
        with pytest.raises(RoleNotAllowed):
            engine.perform(a, t.action, role=role, data=valid_data(t))
        db.session.rollback()


def test_every_state_and_action_is_either_in_the_table_or_refused():
    """The table is total: each (state, action) pair has at most one row, so the engine's answer is unambiguous."""
    for state in ["new", *STATES]:
        for action in lifecycle.ACTIONS:
            rows = [t for t in lifecycle.TRANSITIONS if t.action == action and state in t.sources]
            assert len(rows) <= 1, (state, action)
    assert set(PATHS) == set(STATES)


# --- the web: one form per allowed action, refusals with 409, roles with 403 ------------------------------


@pytest.mark.parametrize(("index", "t"), STAFF_ROWS, ids=ids(STAFF_ROWS))
def test_the_case_page_takes_every_transition_through_its_form(client, auth, index, t):
    auth.as_role("supervisor")  # the supervisor may take every staff action
    for source in sorted(t.sources):
        a = case_for(t, source)
        page = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
        assert f'action="/staff/cases/{a.case_no}/actions/{t.action}"' in page
        resp = client.post(f"/staff/cases/{a.case_no}/actions/{t.action}", data=form_data(t, a.version))
        assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
        db.session.expire_all()
        assert db.session.get(Appeal, a.id).status == t.target


@pytest.mark.parametrize("state", STATES)
def test_every_refused_action_on_the_web_answers_409_and_changes_nothing(client, auth, state):
    auth.as_role("supervisor")
    a = make_appeal(state=state)
    before = snapshot(a)
    page = client.get(f"/staff/cases/{a.case_no}").get_data(as_text=True)
    for action in lifecycle.ACTIONS:
        if lifecycle.transition_for(action, state) is not None:
            continue
        assert f'/actions/{action}"' not in page  # no form is offered for it
        row = next(t for t in lifecycle.TRANSITIONS if t.action == action)
        resp = client.post(f"/staff/cases/{a.case_no}/actions/{action}", data=form_data(row, a.version))
        assert resp.status_code == 409, (state, action, resp.status_code)
        assert "不能执行" in resp.get_data(as_text=True)
        assert snapshot(a) == before, action


def test_an_unknown_action_is_not_found(client, auth):
    auth.as_role("supervisor")
    a = make_appeal()
    assert client.post(f"/staff/cases/{a.case_no}/actions/approve_everything", data={}).status_code == 404


@pytest.mark.parametrize(("index", "t"), STAFF_ROWS, ids=ids(STAFF_ROWS))
def test_a_staff_role_outside_a_row_gets_403_on_the_web_and_the_case_is_unchanged(client, auth, index, t):
    outsiders = sorted({"clerk", "mediator", "admin"} - t.roles)
    users = {role: make_user(role) for role in outsiders}
    source = sorted(t.sources)[0]
    a = make_appeal(state=source)
    before = snapshot(a)
    for role in outsiders:
        auth.login(users[role].username)
        resp = client.post(f"/staff/cases/{a.case_no}/actions/{t.action}", data=form_data(t, a.version))
        assert resp.status_code == 403, (role, resp.status_code)
        auth.logout()
    assert snapshot(a) == before


def test_a_missing_required_field_is_shown_next_to_it_and_the_typed_values_stay(client, auth):
    auth.as_role("clerk")
    a = make_appeal()
    reject = lifecycle.transition_for("reject", "received")
    resp = client.post(
        f"/staff/cases/{a.case_no}/actions/reject",
        data=form_data(reject, a.version, {"ground": "", "explanation": "请先向企业投诉"}),
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="reject-ground-error"' in html and "请先向企业投诉" in html
    assert snapshot(a)[0] == "received"


def test_a_bad_date_and_a_bad_amount_are_refused_with_messages_not_errors(client, auth):
    auth.as_role("mediator")
    a = make_appeal(state="replied")
    settle = lifecycle.transition_for("settle", "replied")
    data = valid_data(settle) | {"perform_by": "31/12/2026", "refund_amount": "fifty"}
    resp = client.post(f"/staff/cases/{a.case_no}/actions/settle", data=form_data(settle, a.version, data))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="settle-perform_by-error"' in html and 'id="settle-refund_amount-error"' in html
    assert snapshot(a)[0] == "replied"


# --- optimistic locking -----------------------------------------------------------------------------------


def _fresh_events(appeal: Appeal) -> list[CaseEvent]:
    """The appeal's events as the database has them now."""
    db.session.expire_all()
    return db.session.get(Appeal, appeal.id).events


def test_two_staff_act_on_the_same_case_one_wins_the_other_is_told_the_case_changed(app):
    clerk_client, supervisor_client = app.test_client(), app.test_client()
    from tests.conftest import AuthActions

    AuthActions(clerk_client).as_role("clerk")
    AuthActions(supervisor_client).as_role("supervisor")
    a = make_appeal()
    version = a.version  # both pages were rendered at this version
    accept = lifecycle.transition_for("accept", "received")
    reject = lifecycle.transition_for("reject", "received")
    first = open_as(clerk_client, "POST", f"/staff/cases/{a.case_no}/actions/accept", data=form_data(accept, version))
    assert first.status_code == 302
    assert _fresh_events(a)[-1].actor.role == "clerk"
    second = open_as(
        supervisor_client,
        "POST",
        f"/staff/cases/{a.case_no}/actions/reject",
        data=form_data(reject, version, {"ground": "art11_3", "explanation": "重复申诉，见前案"}),
    )
    html = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "已被他人更新" in html or "不能执行" in html
    status, _version, _outcome, events = snapshot(a)
    assert status == "accepted" and events == 2  # submit + accept: the loser's action left no trace


def test_a_stale_version_on_a_still_allowed_action_is_refused_and_the_form_keeps_what_was_typed(client, auth):
    auth.as_role("supervisor")
    a = make_appeal(state="referred")
    old_version = a.version
    engine.perform(a, "refer", role="mediator", data={"operator": "unicom_jl"})  # someone re-refers meanwhile
    db.session.commit()
    reply = lifecycle.transition_for("reply", "referred")
    resp = client.post(
        f"/staff/cases/{a.case_no}/actions/reply", data=form_data(reply, old_version, {"text": "企业电话答复：已退费"})
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "已被他人更新" in html
    assert "企业电话答复：已退费" in html
    assert snapshot(a)[0] == "referred"


@pytest.mark.skipif(not on_postgres, reason="two concurrent transactions need PostgreSQL's row locks")
def test_two_concurrent_sessions_on_postgresql_the_loser_gets_stale_data_and_nothing_is_lost(app):
    a = make_appeal()
    appeal_id = a.id
    db.session.remove()
    barrier = threading.Barrier(2, timeout=10)
    results: dict[str, str] = {}

    def act(name: str, action: str, role: str, data: dict) -> None:
        """One staff member's session: load the case, wait for the other, then act and commit."""
        with app.app_context():
            appeal = db.session.get(Appeal, appeal_id)
            _ = appeal.deadlines, appeal.events  # loaded before either writes
            barrier.wait()
            try:
                engine.perform(appeal, action, role=role, data=data)
                db.session.commit()
                results[name] = "won"
            except StaleDataError:
                db.session.rollback()
                results[name] = "stale"
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=act, args=("accept", "accept", "clerk", {})),
        threading.Thread(target=act, args=("reject", "reject", "supervisor", {"ground": "art11_1"})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results.values()) == ["stale", "won"], results
    winner = next(k for k, v in results.items() if v == "won")
    fresh = db.session.get(Appeal, appeal_id)
    assert fresh.status == {"accept": "accepted", "reject": "rejected"}[winner]
    actions = [e.action for e in fresh.events]
    assert actions == ["submit", winner]


def test_a_real_stale_data_error_inside_a_request_becomes_a_409_page(app):
    """The loser's UPDATE matches no row (another connection bumped the version); app/errors.py answers 409."""
    from app import create_app, permissions
    from app.extensions import limiter

    saved_limits = (limiter._storage, limiter._limiter)  # a second app rebinds the shared limiter
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SECRET_KEY": "test-secret",
        }
    )
    limiter._storage, limiter._limiter = saved_limits
    a = make_appeal()

    @other.route("/staff/_lost_update/<case_no>")
    def lost_update(case_no: str):
        """Load the case, let another connection save it, then save the stale copy."""
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
        with db.engine.begin() as conn:  # someone else saves the case meanwhile
            conn.execute(sa.update(Appeal).where(Appeal.id == appeal.id).values(version=Appeal.version + 1))
        appeal.facts = appeal.facts + "（补充）"
        db.session.commit()
        return "saved"

    permissions.ROUTES["lost_update"] = permissions.PUBLIC
    try:
        with other.app_context():
            resp = other.test_client().get(f"/staff/_lost_update/{a.case_no}")
            db.engine.dispose()
    finally:
        permissions.ROUTES.pop("lost_update")
    assert resp.status_code == 409 and "已被他人更新" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert "（补充）" not in db.session.get(Appeal, a.id).facts


# --- deadlines, pauses, reopening, re-referral -----------------------------------------------------------


def test_the_decision_deadline_skips_the_spring_festival_and_counts_the_make_up_saturday(app):
    a = make_appeal(at=dt.datetime(2026, 2, 12, 2, 0))  # Thursday 12 Feb, 10:00 Shanghai
    # 13 Feb, Saturday 14 Feb (调休), then 15-23 Feb off, 24, 25, 26 Feb
    assert a.deadline("decision").due_at == dt.datetime(2026, 2, 26, 15, 59, 59)
    assert a.deadline("consumer_reply").due_at == dt.datetime(2026, 3, 14, 15, 59, 59)  # 30 calendar days


def test_a_request_for_materials_pauses_both_clocks_and_the_wait_is_added_in_working_and_calendar_days(app):
    start = dt.datetime(2026, 4, 27, 2, 0)  # Monday 27 April
    a = make_appeal(at=start)
    assert a.deadline("decision").due_at == dt.datetime(2026, 5, 7, 15, 59, 59)  # 28, 29, 30 Apr, 6, 7 May
    engine.perform(a, "request_materials", role="clerk", data={"missing": "缴费凭证"}, at=start + dt.timedelta(days=1))
    db.session.commit()
    assert a.deadline("decision").paused_at is not None and a.status == "awaiting_materials"
    engine.perform(a, "receive_materials", role="consumer", at=dt.datetime(2026, 5, 6, 2, 0))
    db.session.commit()
    # paused 28 Apr -> 6 May: 29, 30 Apr and 6 May are working days (1-5 May is the Labour Day holiday)
    # so 7 May + 3 working days: 8 May, Saturday 9 May (调休), 11 May
    assert a.deadline("decision").due_at == dt.datetime(2026, 5, 11, 15, 59, 59)
    assert a.deadline("decision").paused_at is None
    # the reply clock counts calendar days: 27 May + 8 days
    assert a.deadline("consumer_reply").due_at == dt.datetime(2026, 6, 4, 15, 59, 59)
    assert a.status == "received" and not a.overdue


def test_a_paused_case_is_not_overdue_while_it_waits_for_materials(client, auth):
    auth.as_role("clerk")
    waiting = make_appeal(state="awaiting_materials", at=dt.datetime(2026, 1, 5, 2, 0))
    late = make_appeal(at=dt.datetime(2026, 1, 5, 2, 0), service_number="13900000001")
    html = client.get("/staff/queues/overdue").get_data(as_text=True)
    assert late.case_no in html and waiting.case_no not in html


def test_a_supervisor_reopens_a_closed_case_with_a_reason_and_the_reply_clock_restarts(client, auth):
    a = make_appeal(state="closed")
    reopen = lifecycle.transition_for("reopen", "closed")
    auth.as_role("mediator")
    assert client.post(f"/staff/cases/{a.case_no}/actions/reopen", data=form_data(reopen, a.version)).status_code == 403
    auth.logout()
    auth.as_role("supervisor")
    no_reason = client.post(f"/staff/cases/{a.case_no}/actions/reopen", data=form_data(reopen, a.version, {}))
    assert no_reason.status_code == 422 and 'id="reopen-reason-error"' in no_reason.get_data(as_text=True)
    resp = client.post(
        f"/staff/cases/{a.case_no}/actions/reopen",
        data=form_data(reopen, a.version, {"reason": "申诉人反映企业未履行"}),
    )
    assert resp.status_code == 302
    db.session.expire_all()
    a = db.session.get(Appeal, a.id)
    assert a.status == "mediating" and a.outcome is None and a.closed_at is None
    assert a.events[-1].action == "reopen" and a.events[-1].details["reason"] == "申诉人反映企业未履行"
    assert a.deadline("consumer_reply").stopped_at is None


def test_a_rejected_appeal_reopened_goes_back_to_received_with_fresh_clocks(app):
    a = make_appeal(state="rejected")
    with pytest.raises(InvalidFields):
        engine.perform(a, "reopen", role="supervisor", data={})
    db.session.rollback()
    engine.perform(a, "reopen", role="supervisor", data={"reason": "理由认定有误"})
    db.session.commit()
    assert a.status == "received" and a.rejection_ground == "art11_1"
    assert a.deadline("decision").stopped_at is None


def test_a_case_is_re_referred_to_another_operator_and_its_reply_clock_is_replaced(client, auth):
    auth.as_role("mediator")
    a = make_appeal(state="referred")
    first_clock = a.deadline("operator_reply")
    refer = lifecycle.transition_for("refer", "referred")
    resp = client.post(
        f"/staff/cases/{a.case_no}/actions/refer",
        data=form_data(refer, a.version, {"operator": "unicom_jl", "note": "业务属联通"}),
    )
    assert resp.status_code == 302
    db.session.expire_all()
    a = db.session.get(Appeal, a.id)
    assert a.operator.code == "unicom_jl" and a.status == "referred"
    referrals = db.session.scalars(sa.select(Referral).where(Referral.appeal_id == a.id).order_by(Referral.id)).all()
    assert [(r.operator.code, r.active) for r in referrals] == [("cmcc_jl", False), ("unicom_jl", True)]
    clocks = [d for d in a.deadlines if d.kind == "operator_reply"]
    assert len(clocks) == 2 and clocks[0].id == first_clock.id and clocks[0].stopped_at is not None
    assert clocks[1].stopped_at is None
    assert a.events[-1].details["operator"] == "unicom_jl"


def test_the_table_refuses_before_the_fields_are_checked(client, auth):
    auth.as_role("clerk")
    received = make_appeal()
    closed = make_appeal(state="closed", service_number="13100000001")
    assert client.post(f"/staff/cases/{received.case_no}/actions/settle", data={}).status_code == 409
    assert client.post(f"/staff/cases/{closed.case_no}/actions/reopen", data={}).status_code == 403
    assert snapshot(received)[0] == "received" and snapshot(closed)[0] == "closed"


@pytest.mark.parametrize("action", ["accept", "settle"])
def test_only_a_reopening_leads_a_case_back_to_be_accepted_or_settled_again(action):
    """cases.statistics.event_breakdown counts a case twice only when it was reopened in the period; the table
    must keep that true: from where an action leads, no path without `reopen` reaches where it starts."""
    done = {t.target for t in lifecycle.TRANSITIONS if t.action == action}
    sources = set().union(*(t.sources for t in lifecycle.TRANSITIONS if t.action == action))
    reached, frontier = set(done), list(done)
    while frontier:
        state = frontier.pop()
        for t in lifecycle.TRANSITIONS:
            if t.action != "reopen" and state in t.sources and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert not reached & sources, reached & sources
    assert any(t.action == "reopen" for t in lifecycle.TRANSITIONS)  # and a reopening can lead back
