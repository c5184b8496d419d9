"""Early warning: the method's false-alarm rate on simulated steady weeks, a doubled week found in its week,
the minimum count, acknowledgement and the four quiet weeks, one notice per alert, the CLI and the pages."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random

import sqlalchemy as sa

from app.extensions import db
from cases import alerts
from cases.models import Alert, Appeal, Notification, OutboxJob
from cases.trends import day_start_utc
from tests.conftest import make_user
from tests.factories import operator
from workflows import jobs

YEAR_START = dt.date(2024, 1, 1)  # a Monday
NUMBERS = itertools.count(1)


def poisson(rng: random.Random, rate: float) -> int:
    """A Poisson draw (Knuth's method: fine for the rates used here)."""
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_the_binomial_tail_is_exact_on_small_cases():
    assert math.isclose(alerts.binomial_tail(2, 2, 0.5), 0.25)
    assert math.isclose(alerts.binomial_tail(1, 3, 0.5), 0.875)
    assert alerts.binomial_tail(0, 5, 0.1) == 1.0 and alerts.binomial_tail(6, 5, 0.1) == 0.0
    exact = sum(math.comb(40, i) * (1 / 13) ** i * (12 / 13) ** (40 - i) for i in range(9, 41))
    assert math.isclose(alerts.binomial_tail(9, 40, 1 / 13), exact, rel_tol=1e-12)


def test_steady_weeks_raise_false_alarms_at_most_at_the_stated_rate():
    """100,000 simulated weeks of steady Poisson counts at rates 4 to 60 a week: measured rate <= ALPHA (0.1 %)."""
    rng = random.Random(14)
    weeks = alarms = 0
    for rate in (4, 8, 12, 20, 30, 45, 60):
        for _series in range(14):
            counts = [poisson(rng, rate) for _ in range(12 + 1030)]
            for w in range(12, len(counts)):
                alarm, _p = alerts.significant(counts[w], sum(counts[w - 12 : w]))
                alarms += alarm
                weeks += 1
    rate_measured = alarms / weeks
    print(f"false alarms: {alarms} in {weeks} steady weeks = {rate_measured:.5f} (stated at most {alerts.ALPHA})")
    assert weeks >= 100_000 and rate_measured <= alerts.ALPHA


def test_a_doubled_week_is_found_and_a_quiet_operator_going_from_1_to_3_is_not():
    before = [20] * 12
    assert alerts.significant(40, sum(before))[0] is True  # twice the usual 20
    assert alerts.significant(30, sum(before))[0] is False  # 1.5 times: within what steady weeks do
    assert alerts.significant(3, 12)[0] is False  # 1 a week, then 3: below the minimum count
    assert alerts.significant(9, 0)[0] is False  # from nothing to 9: still below the minimum


# --- through the database ----------------------------------------------------------------------------------


def _file(rows: list[dict]) -> None:
    db.session.execute(sa.insert(Appeal.__table__), rows)
    db.session.commit()


def _appeals(week: dt.date, n: int, operator_code: str, category: str, service_type: str = "mobile") -> list[dict]:
    """n appeals received in the week (spread over Monday to Sunday, Asia/Shanghai)."""
    op_id = operator(operator_code).id
    start = day_start_utc(week)
    rows = []
    for i in range(n):
        at = start + dt.timedelta(seconds=(7 * 86400 - 1) * (i + 0.5) / n)
        rows.append(
            {
                "case_no": f"SIM2024-{next(NUMBERS):07d}",
                "status": "received",
                "complainant_name": "模拟",
                "phone": "13800000000",
                "operator_id": op_id,
                "service_type": service_type,
                "service_number": "13800000000",
                "category": category,
                "received_at": at,
                "channel": "online",
                "version": 1,
            }
        )
    return rows


SERIES = (
    ("cmcc_jl", "charging", 20),
    ("unicom_jl", "network", 12),
    ("telecom_jl", "service", 30),
    ("mvno_jd", "porting", 4),
)


def _steady_year(rng: random.Random, spike: tuple[int, str, str] | None = None) -> None:
    rows = []
    for w in range(52):
        week = YEAR_START + dt.timedelta(weeks=w)
        for code, category, rate in SERIES:
            n = poisson(rng, rate)
            if spike and spike[:3] == (w, code, category):
                n = 2 * rate
            rows += _appeals(week, n, code, category)
    _file(rows)


def test_a_simulated_steady_year_raises_no_false_alarm_and_a_doubled_week_is_found_in_its_week(app):
    """Four operator × category series, a year of steady weeks; then one week doubled in one series."""
    _steady_year(random.Random(2024), spike=(30, "cmcc_jl", "charging"))
    found = {}
    for w in range(12, 52):
        week = YEAR_START + dt.timedelta(weeks=w)
        found[w] = [(f.dimension, operator_code(f.operator_id), f.key) for f in alerts.scan(week)]
    # the spike, in its own week (by service type too: it is the only mobile series of cmcc_jl), and nothing else
    assert found[30] == [("category", "cmcc_jl", "charging"), ("service_type", "cmcc_jl", "mobile")]
    assert all(not hits for w, hits in found.items() if w != 30)
    spike = alerts.scan(YEAR_START + dt.timedelta(weeks=30))[0]
    assert spike.count == 40 and spike.week_start == YEAR_START + dt.timedelta(weeks=30)
    assert 15 <= spike.expected <= 25 and spike.p_value < alerts.ALPHA


def operator_code(op_id: int) -> str:
    return next(code for code, *_ in SERIES if operator(code).id == op_id)


def _flat(weeks: range, code: str, category: str, n: int) -> list[dict]:
    return [row for w in weeks for row in _appeals(YEAR_START + dt.timedelta(weeks=w), n, code, category)]


def test_an_alert_is_acknowledged_with_a_note_and_the_series_stays_quiet_four_weeks(app, client, auth):
    supervisor = make_user("supervisor")
    supervisor.email = "boss@example.com"
    db.session.commit()
    rows = _flat(range(0, 30), "cmcc_jl", "charging", 10)
    for spike in (12, 14, 17):  # three doubled weeks; each with its 12 weeks before it
        start = day_start_utc(YEAR_START + dt.timedelta(weeks=spike))
        rows = [r for r in rows if not start <= r["received_at"] < start + dt.timedelta(weeks=1)]
        rows += _appeals(YEAR_START + dt.timedelta(weeks=spike), 30, "cmcc_jl", "charging")
    _file(rows)

    def scan(w: int):
        return [(a.operator.code, a.dimension, a.key, new) for a, new in jobs.raise_alerts(day(w + 1))]

    def day(w: int) -> dt.date:
        return YEAR_START + dt.timedelta(weeks=w, days=2)  # a Wednesday: the week before is scanned

    assert scan(12) == [("cmcc_jl", "category", "charging", True), ("cmcc_jl", "service_type", "mobile", True)]
    assert scan(12) == [("cmcc_jl", "category", "charging", False), ("cmcc_jl", "service_type", "mobile", False)]
    sent = db.session.scalars(sa.select(OutboxJob.name)).all()
    assert sent == ["notify_alert", "notify_alert"]  # one per alert, however often the week is scanned
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2  # inline: to the supervisor

    alert = db.session.scalar(sa.select(Alert).where(Alert.dimension == "category"))
    auth.login(supervisor.username)
    page = client.get(f"/staff/alerts/{alert.id}").get_data(as_text=True)
    assert page.count('<th scope="row"><a href="/staff/cases/SIM') == 30 and "138****0000" in page
    refused = client.post(f"/staff/alerts/{alert.id}/acknowledge", data={"note": "  "})
    assert refused.status_code == 422 and "请写明核查情况" in refused.get_data(as_text=True)
    with_note = client.post(f"/staff/alerts/{alert.id}/acknowledge", data={"note": "计费系统故障，企业已退费"})
    assert with_note.status_code == 302
    db.session.refresh(alert)
    assert alert.acknowledged_by_id == supervisor.id and alert.note == "计费系统故障，企业已退费"
    db.session.execute(
        sa.update(Alert).where(Alert.id == alert.id).values(acknowledged_at=day_start_utc(day(13)))
    )  # acknowledged on the Wednesday of week 13
    db.session.commit()

    assert scan(14) == [("cmcc_jl", "service_type", "mobile", True)]  # category quiet; service type not acknowledged
    assert scan(17) == [("cmcc_jl", "category", "charging", True), ("cmcc_jl", "service_type", "mobile", True)]


def test_the_cli_prints_each_alert_as_json(app, runner):
    rows = _flat(range(0, 12), "unicom_jl", "network", 8) + _appeals(
        YEAR_START + dt.timedelta(weeks=12), 25, "unicom_jl", "network"
    )
    _file(rows)
    result = runner.invoke(args=["alerts", "scan", "--as-of", "2024-04-03"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    category = next(p for p in printed if p["dimension"] == "category")
    assert category | {"p_value": 0} == {
        "id": category["id"],
        "operator": "unicom_jl",
        "dimension": "category",
        "category": "network",
        "week_start": "2024-03-25",
        "count": 25,
        "expected": 8.0,
        "p_value": 0,
        "new": True,
    }
    assert runner.invoke(args=["alerts", "scan", "--as-of", "27/03/2024"]).exit_code == 2


def test_the_alerts_page_lists_open_alerts_for_supervisors_only(client, auth):
    _file(
        _flat(range(0, 12), "cmcc_jl", "charging", 10)
        + _appeals(YEAR_START + dt.timedelta(weeks=12), 30, "cmcc_jl", "charging")
    )
    jobs.raise_alerts(dt.date(2024, 4, 3))
    auth.as_role("supervisor")
    html = client.get("/staff/alerts").get_data(as_text=True)
    assert "待确认" in html and "2024-03-25" in html and "收费争议" in html and "千分之一" in html
    assert "待确认的异常预警：2条" in client.get("/staff/dashboard").get_data(as_text=True)
    auth.logout()
    auth.as_role("clerk")
    assert client.get("/staff/alerts").status_code == 403
