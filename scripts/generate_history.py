"""Fill a PostgreSQL database with a realistic history: N appeals over ten years, with everything around them.

    .venv/bin/python scripts/generate_history.py                       # 1,000,000 appeals into bench_history
    .venv/bin/python scripts/generate_history.py --appeals 200000 --url postgresql+psycopg://postgres@127.0.0.1/x

The database is emptied and migrated (`flask db upgrade`), the reference data loaded, and then
everything is written by set-based SQL (`INSERT ... SELECT` over `generate_series`), so a million
appeals take minutes:

- appeals across the configured operators and categories, received over ten years (growing a little
  each year), case numbers in the real format (JL2024-000123, numbered per Asia/Shanghai year in order of
  receipt, the per-year counters set so new intakes continue them); distinct phones and service numbers
  (a few per cent repeat an earlier number, as repeat appellants do), names, ID numbers with a valid
  check digit, addresses; facts composed from a vocabulary of complaint phrases, so a word search has
  the selectivity of real text;
- each appeal follows a path through the lifecycle table (`workflows.lifecycle`): its events are the
  table's transitions in order, its clocks (decision, operator reply, reply to the appellant) are started,
  paused, resumed and stopped by the transitions that name them, referrals and settlements are written
  where the path refers and settles. Most cases are closed, rejected or withdrawn; a few thousand per
  million sit in each open state, received in the last weeks, with running clocks (some past due and
  flagged overdue);
- materials (metadata only: no stored file), phone consultations, walk-in visits and follow-up calls.

Deterministic: the same --seed and --now give the same rows (pseudo-random numbers are hashes of the row
number and the seed). Clocks use calendar days (5 working days are taken as 7).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows import lifecycle  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_history"
YEARS = 10
OPEN_SHARE = 0.016  # about 2,000 cases per million in each open path
CLOCK_DAYS = {"decision": 7, "operator_reply": 10, "consumer_reply": 30}

# Days from the previous step to this action (each case scales them by 0.5-1.5).
GAP_DAYS = {
    "submit": 0,
    "request_materials": 1,
    "receive_materials": 4,
    "accept": 2,
    "reject": 3,
    "refer": 1,
    "reply": 6,
    "mediate": 2,
    "settle": 5,
    "close": 20,
    "acknowledge": 4,
    "disagree": 6,
    "end_mediation": 10,
    "withdraw": 5,
    "reopen": 30,
}
# Who takes each action: the consumer, a clerk, the case's mediator, a supervisor or the operator.
ACTOR = {
    "submit": "consumer",
    "request_materials": "clerk",
    "receive_materials": "consumer",
    "accept": "clerk",
    "reject": "clerk",
    "withdraw": "consumer",
    "reply": "operator",
    "reopen": "supervisor",
}
_DONE = ("submit", "accept", "refer", "reply")
# (name, share of the closed cases or None for an open path, actions)
PATHS = (
    ("settled_closed", 0.30, (*_DONE, "settle", "close")),
    ("acknowledged", 0.27, (*_DONE, "acknowledge")),
    ("mediated_settled", 0.07, (*_DONE, "mediate", "settle", "close")),
    ("disagreed", 0.05, (*_DONE, "mediate", "disagree")),
    ("mediation_failed", 0.03, (*_DONE, "mediate", "end_mediation")),
    (
        "materials_settled",
        0.05,
        ("submit", "request_materials", "receive_materials", "accept", "refer", "reply", "settle", "close"),
    ),
    ("rejected", 0.12, ("submit", "reject")),
    ("rejected_no_materials", 0.03, ("submit", "request_materials", "reject")),
    ("withdrawn_early", 0.03, ("submit", "withdraw")),
    ("withdrawn_referred", 0.02, ("submit", "accept", "refer", "withdraw")),
    ("rereferred", 0.02, ("submit", "accept", "refer", "refer", "reply", "acknowledge")),
    ("reopened", 0.01, (*_DONE, "acknowledge", "reopen", "settle", "close")),
    ("open_received", None, ("submit",)),
    ("open_received_again", None, ("submit", "request_materials", "receive_materials")),
    ("open_awaiting_materials", None, ("submit", "request_materials")),
    ("open_accepted", None, ("submit", "accept")),
    ("open_referred", None, ("submit", "accept", "refer")),
    ("open_replied", None, (*_DONE,)),
    ("open_mediating", None, (*_DONE, "mediate")),
    ("open_settled", None, (*_DONE, "settle")),
)

# Weighted choices: (value, weight).
OPERATOR_SHARES = (
    ("cmcc_jl", 40),
    ("unicom_jl", 25),
    ("telecom_jl", 22),
    ("cbn_jl", 5),
    ("mvno_xiaomi", 3),
    ("mvno_jd", 2),
    ("mvno_snail", 2),
    ("mvno_chinapost", 1),
)
CATEGORY_SHARES = (
    ("charging", 35),
    ("service", 20),
    ("network", 15),
    ("marketing", 12),
    ("porting", 5),
    ("security", 5),
    ("other", 8),
)
SERVICE_SHARES = (("mobile", 65), ("broadband", 25), ("fixed", 7), ("other", 3))
CHANNEL_SHARES = (("online", 70), ("phone", 20), ("visit", 5), ("letter", 5))
GROUND_SHARES = (("art10_4", 45), ("art11_1", 20), ("art10_3", 15), ("art11_3", 10), ("art11_4", 5), ("art10_1", 5))

# Complaint phrases by category ({n}: an amount). Common words (扣费, 套餐, 信号, 宽带 ...) recur as in real facts.
PHRASES = {
    "charging": (
        "本月话费账单中出现不明扣费{n}元",
        "套餐外流量费用异常，被多扣费{n}元",
        "未经本人同意开通增值业务并每月扣费{n}元",
        "宽带到期后仍被继续扣费",
        "国际漫游费用与营业厅告知的资费标准不符",
        "办理的优惠套餐未按约定生效，按标准资费收费",
        "销户后仍产生月租费{n}元",
        "话费余额{n}元被清零，要求退还",
    ),
    "service": (
        "营业厅工作人员态度恶劣，拒绝办理业务",
        "客服热线长时间无人接听",
        "宽带装机预约多次爽约",
        "故障报修后超过三天未上门维修",
        "投诉后客服承诺回电但一直未回复",
        "补办SIM卡被要求到归属地营业厅办理",
    ),
    "network": (
        "家中手机信号差，经常无法接通",
        "宽带网速远低于签约带宽",
        "小区内移动网络信号弱，通话经常中断",
        "光猫频繁掉线，影响居家办公",
        "4G网络经常自动切换为2G",
        "农村地区没有5G信号，与宣传不符",
    ),
    "marketing": (
        "营业员以赠送手机为由诱导办理合约套餐",
        "宣传的不限量套餐实际达到阈值后限速",
        "电话推销时承诺的优惠与实际不符",
        "未经同意将套餐变更为更高档位",
        "赠送的宽带业务到期后自动续费{n}元",
    ),
    "porting": (
        "申请携号转网被告知存在合约限制",
        "携号转网授权码无法获取",
        "转网后原运营商仍在扣费",
        "营业厅以各种理由拒绝办理携号转网",
    ),
    "security": (
        "频繁收到骚扰电话和垃圾短信",
        "个人信息疑似被泄露，接到诈骗电话",
        "名下被他人冒名办理手机卡",
        "未经同意被开通实名认证的副卡",
    ),
    "other": (
        "号码被停机且未提前通知",
        "靓号低消协议未告知清楚",
        "积分兑换的礼品一直未发放",
        "过户手续办理不成功",
    ),
}
REQUESTS = {
    "charging": "退还多扣费用{n}元",
    "service": "要求企业赔礼道歉并改进服务",
    "network": "尽快解决网络问题，减免故障期间费用",
    "marketing": "解除合约，恢复原套餐",
    "porting": "尽快办理携号转网",
    "security": "停止骚扰，核查并注销冒名业务",
    "other": "要求企业按约定处理",
}
OPENINGS = ("本人反映：", "近三个月来，", "今年以来，", "本人是老用户，", "本人办理业务后发现", "")
FOLLOW_UPS = (
    "已向企业客服投诉，工单号GD{t}",
    "多次联系客服均未解决",
    "企业答复不予处理",
    "对企业的处理结果不满意",
    "已拨打客服热线投诉，对方称系统正常",
    "营业厅让等待总部答复",
)
CLOSINGS = ("请求申诉中心协调处理。", "要求企业给出合理解释。", "希望尽快解决。", "要求退还费用并赔礼道歉。")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁"
CITIES = (
    ("长春市", "朝阳区", "130000", "220104"),
    ("长春市", "南关区", "130000", "220102"),
    ("长春市", "绿园区", "130000", "220106"),
    ("吉林市", "船营区", "132000", "220204"),
    ("四平市", "铁西区", "136000", "220302"),
    ("延边州", "延吉市", "133000", "222401"),
    ("通化市", "东昌区", "134000", "220502"),
    ("白城市", "洮北区", "137000", "220802"),
    ("松原市", "宁江区", "138000", "220702"),
    ("辽源市", "龙山区", "136200", "220402"),
)
ROADS = ("人民大街", "解放大路", "自由大路", "重庆路", "新民大街", "建设街", "长白山路", "光明路")
MATERIAL_NAMES = (
    ("话费账单.jpg", "image/jpeg"),
    ("投诉工单截图.png", "image/png"),
    ("合约协议.pdf", "application/pdf"),
    ("短信截图.jpg", "image/jpeg"),
    ("缴费凭证.jpg", "image/jpeg"),
    ("身份证复印件.pdf", "application/pdf"),
)
TOPICS = ("话费查询", "申诉条件咨询", "申诉进度查询", "携号转网政策", "宽带资费", "骚扰电话举报途径", "材料如何提交")
STAFF = {"clerk": 6, "mediator": 12, "supervisor": 2}


@dataclass(frozen=True)
class Step:
    """One event of a path: the action and the states of the lifecycle table, and the days since the submission."""

    action: str
    from_state: str | None
    to_state: str
    cum_days: float
    internal: bool


@dataclass(frozen=True)
class Clock:
    """One deadline row of a path: the steps that start, pause, resume and stop it (None: not yet)."""

    kind: str
    start: int
    stop: int | None
    pause: int | None
    resume: int | None


def walk(actions: tuple[str, ...]) -> tuple[list[Step], list[Clock], str | None]:
    """Run a path through the lifecycle table: its events, clocks and outcome; raises when the table refuses a step."""
    steps: list[Step] = []
    clocks: list[dict] = []
    state, cum, outcome = "new", 0.0, None
    for i, action in enumerate(actions):
        t = lifecycle.transition_for(action, state)
        if t is None:
            raise ValueError(f"{action} is not allowed from {state}")
        cum += GAP_DAYS[action]
        steps.append(Step(action, None if state == "new" else state, t.target, cum, not t.public))
        outcome = None if action == "reopen" else t.outcome or outcome
        running = {c["kind"]: c for c in clocks if c["stop"] is None}
        for kind in t.stops:
            if kind in running:
                running.pop(kind)["stop"] = i
        for kind in t.pauses:
            if kind in running and running[kind]["pause"] is None:
                running[kind]["pause"] = i
        for kind in t.resumes:
            if kind in running and running[kind]["pause"] is not None:
                running[kind]["resume"] = i
        for kind in t.starts:
            if kind in running:  # a re-referral replaces the running clock
                running[kind]["stop"] = i
            clocks.append({"kind": kind, "start": i, "stop": None, "pause": None, "resume": None})
        state = t.target
    return steps, [Clock(**c) for c in clocks], outcome


def _weighted(shares: tuple[tuple[str, int], ...]) -> tuple[list[str], list[float]]:
    """Values and the upper bounds of their cumulative shares (0..1]."""
    total = sum(w for _, w in shares)
    bounds, acc = [], 0
    for _, w in shares:
        acc += w
        bounds.append(acc / total)
    return [v for v, _ in shares], bounds


def _pick(values: str, bounds: str, r: str) -> str:
    """SQL: the value whose cumulative share bracket holds r (both arrays are parameters)."""
    return f"({values})[width_bucket({r}, {bounds}) + 1]"


# The ID number's check digit (GB 11643): the 17 digits weighted, modulo 11; written out so PostgreSQL inlines it.
_ID_SUM = " + ".join(
    f"substr(body, {i + 1}, 1)::int * {w}" for i, w in enumerate((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
)


def _setup_sql(seed: int) -> str:
    """Session-local helper functions: a seeded hash-based random number and the ID number's check digit."""
    return f"""
CREATE FUNCTION pg_temp.rnd(g bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
  $$ SELECT ((hashint8(g * 1000003 + salt * 7919 + {int(seed)} * 104729) & 2147483647)::float8 / 2147483648.0) $$;
CREATE FUNCTION pg_temp.id_check(body text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT substr('10X98765432', 1 + ({_ID_SUM}) % 11, 1) $$;
CREATE FUNCTION pg_temp.step_at(received timestamp, scale float8, cum float8, g bigint, step int)
  RETURNS timestamp LANGUAGE sql IMMUTABLE AS
  $$ SELECT received + make_interval(secs => cum * scale * 86400
                                        + CASE WHEN step = 0 THEN 0 ELSE pg_temp.rnd(g, 100 + step) * 28800 END) $$;
"""


def _paths_sql(conn, paths) -> None:
    """The paths, their steps, clocks, referrals and settlements as temporary tables the fill joins."""
    conn.execute(
        "CREATE TEMP TABLE gen_path (path_id int PRIMARY KEY, name text, open bool, lo float8, hi float8,"
        " final_state text, outcome text, n_steps int, last_cum float8, accept_step int, has_reject bool)"
    )
    conn.execute(
        "CREATE TEMP TABLE gen_step (path_id int, step int, action text, from_state text, to_state text,"
        " cum float8, actor text, internal bool, PRIMARY KEY (path_id, step))"
    )
    conn.execute(
        "CREATE TEMP TABLE gen_clock (path_id int, kind text, start_step int, stop_step int, pause_step int,"
        " resume_step int, days int)"
    )
    conn.execute("CREATE TEMP TABLE gen_referral (path_id int, refer_step int, reply_step int, active bool)")
    conn.execute("CREATE TEMP TABLE gen_settle (path_id int, settle_step int, close_step int)")
    closed_total = sum(share for _, share, _ in paths if share is not None)
    lo = 0.0
    for pid, (name, share, actions) in enumerate(paths):
        steps, clocks, outcome = walk(actions)
        final = steps[-1].to_state
        hi = lo + share / closed_total if share is not None else lo
        accept = max((i for i, s in enumerate(steps) if s.action == "accept"), default=None)
        conn.execute(
            "INSERT INTO gen_path VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                pid,
                name,
                share is None,
                lo,
                1.0 if hi > 0.999999 and share else hi,
                final,
                outcome,
                len(steps),
                steps[-1].cum_days,
                accept,
                "reject" in actions,
            ),
        )
        lo = hi
        for i, s in enumerate(steps):
            actor = ACTOR.get(s.action, "mediator")
            conn.execute(
                "INSERT INTO gen_step VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (pid, i, s.action, s.from_state, s.to_state, s.cum_days, actor, s.internal),
            )
        for c in clocks:
            conn.execute(
                "INSERT INTO gen_clock VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (pid, c.kind, c.start, c.stop, c.pause, c.resume, CLOCK_DAYS[c.kind]),
            )
        refers = [i for i, s in enumerate(steps) if s.action == "refer"]
        for i in refers:
            reply = next((j for j in range(i + 1, len(steps)) if steps[j].action == "reply"), None)
            last = i == refers[-1]
            conn.execute("INSERT INTO gen_referral VALUES (%s, %s, %s, %s)", (pid, i, reply if last else None, last))
        for i, s in enumerate(steps):
            if s.action == "settle":
                close = next((j for j in range(i + 1, len(steps)) if steps[j].action == "close"), None)
                conn.execute("INSERT INTO gen_settle VALUES (%s, %s, %s)", (pid, i, close))


def _vocabulary() -> dict:
    """The text and choice arrays passed to the fill as parameters."""
    cats, cat_bounds = _weighted(CATEGORY_SHARES)
    flat, starts, lens = [], [], []
    for cat in cats:
        starts.append(len(flat) + 1)
        lens.append(len(PHRASES[cat]))
        flat.extend(PHRASES[cat])
    ops, op_bounds = _weighted(OPERATOR_SHARES)
    services, service_bounds = _weighted(SERVICE_SHARES)
    channels, channel_bounds = _weighted(CHANNEL_SHARES)
    grounds, ground_bounds = _weighted(GROUND_SHARES)
    return {
        "cats": cats,
        "cat_b": cat_bounds,
        "phrases": flat,
        "ph_start": starts,
        "ph_len": lens,
        "requests": [REQUESTS[c] for c in cats],
        "ops": ops,
        "op_b": op_bounds,
        "svc": services,
        "svc_b": service_bounds,
        "chan": channels,
        "chan_b": channel_bounds,
        "grounds": grounds,
        "ground_b": ground_bounds,
        "openings": list(OPENINGS),
        "follow_ups": list(FOLLOW_UPS),
        "closings": list(CLOSINGS),
        "surnames": list(SURNAMES),
        "given": list(GIVEN),
        "cities": [c[0] for c in CITIES],
        "districts": [c[1] for c in CITIES],
        "postcodes": [c[2] for c in CITIES],
        "regions": [c[3] for c in CITIES],
        "roads": list(ROADS),
        "mat_names": [m[0] for m in MATERIAL_NAMES],
        "mat_types": [m[1] for m in MATERIAL_NAMES],
        "topics": list(TOPICS),
    }


def _arr(name: str) -> str:
    return f"%({name})s"


def _el(name: str, r: str) -> str:
    """SQL: a uniformly chosen element of an array parameter."""
    return f"({_arr(name)})[1 + floor({r} * cardinality({_arr(name)}))::int]"


CASES_SQL = f"""
CREATE TEMP TABLE gen_case AS
SELECT c.*, p.path_id, p.open, p.accept_step, p.n_steps, p.last_cum, p.final_state, p.outcome,
       CASE WHEN p.open THEN %(now)s - make_interval(secs => (p.last_cum * c.scale + 0.4 + pg_temp.rnd(c.g, 9)
                                                               * %(open_window)s) * 86400)
            ELSE %(start)s + make_interval(secs => power(c.g::float8 / %(n_closed)s, 0.85) * %(span)s)
                 + make_interval(secs => pg_temp.rnd(c.g, 10) * 43200)
       END AS received_at
FROM (
  SELECT g, g > %(n_closed)s AS is_open, 0.5 + pg_temp.rnd(g, 3) AS scale,
         {_pick(_arr("cats"), _arr("cat_b"), "pg_temp.rnd(g, 1)")} AS category,
         {_pick(_arr("op_ids"), _arr("op_b"), "pg_temp.rnd(g, 2)")} AS operator_id,
         {_pick(_arr("svc"), _arr("svc_b"), "pg_temp.rnd(g, 4)")} AS service_type,
         {_pick(_arr("chan"), _arr("chan_b"), "pg_temp.rnd(g, 5)")} AS channel,
         {_pick(_arr("grounds"), _arr("ground_b"), "pg_temp.rnd(g, 6)")} AS ground,
         -- about 4 %% repeat an earlier appellant's number
         CASE WHEN pg_temp.rnd(g, 7) < 0.04 AND g > 600 THEN g - 1 - floor(pg_temp.rnd(g, 8) * 500)::int ELSE g END
           AS person,
         (%(mediators)s)[1 + floor(pg_temp.rnd(g, 11) * cardinality(%(mediators)s))::int] AS mediator_id,
         (%(clerks)s)[1 + floor(pg_temp.rnd(g, 12) * cardinality(%(clerks)s))::int] AS clerk_id,
         (%(supervisors)s)[1 + floor(pg_temp.rnd(g, 13) * cardinality(%(supervisors)s))::int] AS supervisor_id
  FROM generate_series(1::bigint, %(n)s) AS g
) AS c
JOIN gen_path p ON CASE WHEN c.is_open THEN p.open AND p.path_id = (SELECT min(path_id) FROM gen_path WHERE open)
                                             + (c.g - %(n_closed)s - 1) %% (SELECT count(*) FROM gen_path WHERE open)
                        ELSE NOT p.open AND pg_temp.rnd(c.g, 0) >= p.lo AND pg_temp.rnd(c.g, 0) < p.hi END;
"""

NUMBER_SQL = """
CREATE TEMP TABLE gen_number AS
SELECT c.g, c.received_at,
       extract(year FROM c.received_at + interval '8 hours')::int AS year,
       row_number() OVER (PARTITION BY extract(year FROM c.received_at + interval '8 hours')
                          ORDER BY c.received_at, c.g) AS seq
FROM gen_case c;
"""

APPEAL_SQL = f"""
INSERT INTO appeal (id, case_no, status, outcome, version, access_code_hash, channel, complainant_name, phone,
                    id_number, address, postcode, email, operator_id, service_type, service_number, category,
                    event_date, operator_complaint_date, operator_ticket_no, request, facts, received_at,
                    accepted_at, closed_at, rejection_ground, assignee_id, overdue, updated_at)
SELECT %(base)s + c.g, %(prefix)s || n.year || '-' || lpad(n.seq::text, 6, '0'), c.final_state, c.outcome,
       c.n_steps, '', c.channel,
       {_el("surnames", "pg_temp.rnd(c.person, 20)")} || {_el("given", "pg_temp.rnd(c.person, 21)")}
         || CASE WHEN pg_temp.rnd(c.person, 22) < 0.6 THEN {_el("given", "pg_temp.rnd(c.person, 23)")} ELSE '' END,
       c.phone, c.id_body || pg_temp.id_check(c.id_body),
       '吉林省' || (%(cities)s)[c.city] || (%(districts)s)[c.city] || {_el("roads", "pg_temp.rnd(c.person, 24)")}
         || (1 + floor(pg_temp.rnd(c.person, 25) * 2000))::int || '号',
       (%(postcodes)s)[c.city],
       CASE WHEN pg_temp.rnd(c.person, 26) < 0.3 THEN 'user' || c.person || '@example.cn' ELSE '' END,
       c.operator_id, c.service_type,
       CASE c.service_type WHEN 'mobile' THEN CASE WHEN pg_temp.rnd(c.g, 27) < 0.8 THEN c.phone
                                                   ELSE '15' || lpad(((c.person * 48271 + 7) %% 1000000000)::text, 9, '0') END
                           WHEN 'fixed' THEN '0431' || lpad(((c.person * 69621 + 3) %% 100000000)::text, 8, '0')
                           ELSE 'KD' || lpad(((c.person * 16807 + 5) %% 10000000000)::text, 10, '0') END,
       c.category,
       (c.received_at - make_interval(days => 20 + floor(pg_temp.rnd(c.g, 28) * 60)::int))::date,
       (c.received_at - make_interval(days => 16 + floor(pg_temp.rnd(c.g, 29) * 4)::int))::date,
       'GD' || lpad(((c.g * 7919 + 11) %% 100000000)::text, 8, '0'),
       replace((%(requests)s)[c.cat_idx], '{{n}}', c.amount::text),
       {_el("openings", "pg_temp.rnd(c.g, 30)")}
         || replace((%(phrases)s)[c.ph_a], '{{n}}', c.amount::text) || '，'
         || replace((%(phrases)s)[c.ph_b], '{{n}}', (c.amount + 12)::text) || '。'
         || replace({_el("follow_ups", "pg_temp.rnd(c.g, 31)")}, '{{t}}', lpad(((c.g * 7919 + 11) %% 100000000)::text, 8, '0'))
         || '，' || {_el("closings", "pg_temp.rnd(c.g, 32)")},
       c.received_at,
       pg_temp.step_at(c.received_at, c.scale, acc.cum, c.g, c.accept_step),
       CASE WHEN c.final_state IN ('closed', 'rejected', 'withdrawn')
            THEN pg_temp.step_at(c.received_at, c.scale, c.last_cum, c.g, c.n_steps - 1) END,
       CASE WHEN c.final_state = 'rejected' THEN c.ground END,
       CASE WHEN c.final_state IN ('received', 'awaiting_materials') OR c.final_state = 'rejected'
              OR (c.final_state = 'withdrawn' AND c.n_steps = 2) THEN NULL
            WHEN c.final_state = 'accepted' AND pg_temp.rnd(c.g, 33) < 0.5 THEN NULL
            ELSE c.mediator_id END,
       false,
       pg_temp.step_at(c.received_at, c.scale, c.last_cum, c.g, c.n_steps - 1)
FROM (
  SELECT c.*, array_position(%(cats)s, c.category) AS cat_idx,
         (%(ph_start)s)[array_position(%(cats)s, c.category)]
           + floor(pg_temp.rnd(c.g, 34) * (%(ph_len)s)[array_position(%(cats)s, c.category)])::int AS ph_a,
         (%(ph_start)s)[array_position(%(cats)s, c.category)]
           + ((floor(pg_temp.rnd(c.g, 34) * (%(ph_len)s)[array_position(%(cats)s, c.category)])::int + 1
               + floor(pg_temp.rnd(c.g, 35) * ((%(ph_len)s)[array_position(%(cats)s, c.category)] - 1))::int)
              %% (%(ph_len)s)[array_position(%(cats)s, c.category)]) AS ph_b,  -- another phrase than ph_a
         (5 + floor(pg_temp.rnd(c.g, 36) * 495))::int AS amount,
         '1' || (ARRAY['39','38','37','36','35','50','51','52','58','59','30','31','32','55','56','86','33','53','80','89'])
           [1 + (c.person %% 20)::int] || lpad(((c.person * 7919 + 12345) %% 100000000)::text, 8, '0') AS phone,
         1 + floor(pg_temp.rnd(c.person, 37) * cardinality(%(cities)s))::int AS city,
         (%(regions)s)[1 + floor(pg_temp.rnd(c.person, 37) * cardinality(%(cities)s))::int]
           || to_char(date '1950-01-01' + floor(pg_temp.rnd(c.person, 38) * 20000)::int, 'YYYYMMDD')
           || lpad(floor(pg_temp.rnd(c.person, 39) * 1000)::int::text, 3, '0') AS id_body
  FROM gen_case c
) AS c
JOIN gen_number n ON n.g = c.g
LEFT JOIN gen_step acc ON acc.path_id = c.path_id AND acc.step = c.accept_step
ORDER BY c.g;
"""

EVENT_SQL = """
INSERT INTO case_event (appeal_id, action, from_state, to_state, at, actor_id, actor_kind, details, public_message,
                        internal)
SELECT %(base)s + c.g, s.action, s.from_state, s.to_state, pg_temp.step_at(c.received_at, c.scale, s.cum, c.g, s.step),
       CASE s.actor WHEN 'clerk' THEN c.clerk_id WHEN 'mediator' THEN c.mediator_id
                    WHEN 'supervisor' THEN c.supervisor_id END,
       CASE WHEN s.actor = 'consumer' AND (s.action <> 'submit' OR c.channel = 'online') THEN 'consumer'
            WHEN s.actor = 'operator' THEN 'operator' ELSE 'staff' END,
       CASE s.action
         WHEN 'reject' THEN jsonb_build_object('ground', c.ground, 'explanation', '')
         WHEN 'request_materials' THEN jsonb_build_object('missing', '向企业投诉的记录和话费账单')
         WHEN 'reply' THEN jsonb_build_object('text', '经核查，已与用户联系并说明情况。')
         WHEN 'settle' THEN jsonb_build_object('refund_amount', (5 + floor(pg_temp.rnd(c.g, 36) * 495))::int || '.00',
                                               'perform_by', (pg_temp.step_at(c.received_at, c.scale, s.cum, c.g, s.step)
                                                              + interval '15 days')::date::text)
         WHEN 'end_mediation' THEN jsonb_build_object('advice', '可依法申请仲裁或向人民法院提起诉讼。')
         WHEN 'withdraw' THEN jsonb_build_object('reason', '企业已解决')
         WHEN 'reopen' THEN jsonb_build_object('reason', '申诉人反映企业未履行')
         ELSE '{}'::jsonb END,
       CASE s.action
         WHEN 'reject' THEN '不予受理理由：' || (SELECT name_zh FROM reference_code
                                                 WHERE kind = 'rejection_ground' AND code = c.ground) || '。'
         WHEN 'request_materials' THEN '请补充：向企业投诉的记录和话费账单'
         WHEN 'end_mediation' THEN '可依法申请仲裁或向人民法院提起诉讼。'
         ELSE '' END,
       s.internal
FROM gen_case c JOIN gen_step s ON s.path_id = c.path_id
ORDER BY c.g, s.step;
"""

DEADLINE_SQL = """
INSERT INTO deadline (appeal_id, kind, started_at, due_at, paused_at, stopped_at, met, flagged_overdue_at)
SELECT d.appeal_id, d.kind, d.started_at, d.due_at, d.paused_at, d.stopped_at,
       CASE WHEN d.stopped_at IS NOT NULL THEN d.stopped_at <= d.due_at END,
       CASE WHEN coalesce(d.stopped_at, CASE WHEN d.paused_at IS NULL THEN %(now)s END) > d.due_at
            THEN d.due_at + interval '1 hour' END
FROM (
  SELECT %(base)s + c.g AS appeal_id, k.kind, c.g,
         pg_temp.step_at(c.received_at, c.scale, st.cum, c.g, k.start_step) AS started_at,
         pg_temp.step_at(c.received_at, c.scale, st.cum, c.g, k.start_step) + make_interval(days => k.days)
           + coalesce(pg_temp.step_at(c.received_at, c.scale, re.cum, c.g, k.resume_step)
                      - pg_temp.step_at(c.received_at, c.scale, pa.cum, c.g, k.pause_step), interval '0') AS due_at,
         CASE WHEN k.resume_step IS NULL AND k.stop_step IS NULL
              THEN pg_temp.step_at(c.received_at, c.scale, pa.cum, c.g, k.pause_step) END AS paused_at,
         pg_temp.step_at(c.received_at, c.scale, sp.cum, c.g, k.stop_step) AS stopped_at
  FROM gen_case c
  JOIN gen_clock k ON k.path_id = c.path_id
  JOIN gen_step st ON st.path_id = c.path_id AND st.step = k.start_step
  LEFT JOIN gen_step sp ON sp.path_id = c.path_id AND sp.step = k.stop_step
  LEFT JOIN gen_step pa ON pa.path_id = c.path_id AND pa.step = k.pause_step
  LEFT JOIN gen_step re ON re.path_id = c.path_id AND re.step = k.resume_step
) AS d
ORDER BY d.g, d.started_at;

UPDATE appeal a SET overdue = true
FROM deadline d
WHERE d.appeal_id = a.id AND a.id > %(base)s AND d.stopped_at IS NULL AND d.paused_at IS NULL AND d.due_at < %(now)s;

-- the due times the engine keeps on the row (workflows.engine.set_due_times)
UPDATE appeal a SET next_due_at = d.next_due, running_due_at = d.running_due
FROM (SELECT appeal_id, min(due_at) AS next_due, min(due_at) FILTER (WHERE paused_at IS NULL) AS running_due
      FROM deadline WHERE stopped_at IS NULL AND appeal_id > %(base)s GROUP BY appeal_id) AS d
WHERE d.appeal_id = a.id;
"""

REFERRAL_SQL = """
INSERT INTO referral (appeal_id, operator_id, referred_at, due_at, replied_at, reply_text, active)
SELECT %(base)s + c.g, c.operator_id, pg_temp.step_at(c.received_at, c.scale, rs.cum, c.g, r.refer_step),
       pg_temp.step_at(c.received_at, c.scale, rs.cum, c.g, r.refer_step) + interval '10 days',
       pg_temp.step_at(c.received_at, c.scale, ps.cum, c.g, r.reply_step),
       CASE WHEN r.reply_step IS NOT NULL THEN '经核查，已与用户联系并说明情况。' ELSE '' END, r.active
FROM gen_case c
JOIN gen_referral r ON r.path_id = c.path_id
JOIN gen_step rs ON rs.path_id = c.path_id AND rs.step = r.refer_step
LEFT JOIN gen_step ps ON ps.path_id = c.path_id AND ps.step = r.reply_step
ORDER BY c.g, r.refer_step;

INSERT INTO settlement (appeal_id, refund_amount, service_restored, apology, other_terms, perform_by, proposed_by,
                        agreed_at, operator_reported_done_at, confirmed_at, missed)
SELECT %(base)s + c.g, (5 + floor(pg_temp.rnd(c.g, 36) * 495))::int, pg_temp.rnd(c.g, 40) < 0.3,
       pg_temp.rnd(c.g, 41) < 0.4, '', (pg_temp.step_at(c.received_at, c.scale, ss.cum, c.g, x.settle_step)
                                        + interval '15 days')::date,
       CASE WHEN pg_temp.rnd(c.g, 42) < 0.2 THEN 'operator' ELSE 'staff' END,
       pg_temp.step_at(c.received_at, c.scale, ss.cum, c.g, x.settle_step),
       pg_temp.step_at(c.received_at, c.scale, cs.cum, c.g, x.close_step) - interval '5 days',
       pg_temp.step_at(c.received_at, c.scale, cs.cum, c.g, x.close_step), false
FROM gen_case c
JOIN gen_settle x ON x.path_id = c.path_id
JOIN gen_step ss ON ss.path_id = c.path_id AND ss.step = x.settle_step
LEFT JOIN gen_step cs ON cs.path_id = c.path_id AND cs.step = x.close_step
ORDER BY c.g;
"""

MATERIAL_SQL = """
INSERT INTO material (appeal_id, stored_name, original_name, size, mime_type, sha256, received_at, source)
SELECT %(base)s + c.g, NULL, (%(mat_names)s)[1 + ((c.g + m) %% cardinality(%(mat_names)s))::int],
       20000 + floor(pg_temp.rnd(c.g, 50 + m) * 3000000)::int,
       (%(mat_types)s)[1 + ((c.g + m) %% cardinality(%(mat_types)s))::int],
       md5(c.g || '/' || m || '/' || %(seed)s) || md5(m || '/' || c.g),
       c.received_at + make_interval(mins => m * 3), CASE WHEN c.channel = 'online' THEN 'consumer' ELSE 'staff' END
FROM gen_case c JOIN generate_series(1, 4) AS m ON m <= floor(pg_temp.rnd(c.g, 49) * 4.6)
ORDER BY c.g, m;
"""

CONTACT_SQL = f"""
INSERT INTO contact (channel, at, appeal_id, operator_id, person_name, phone, topic, notes, answer,
                     complained_to_operator, callee, reached, satisfaction, next_call_due, terms_carried_out)
SELECT CASE WHEN pg_temp.rnd(g, 60) < 0.93 THEN 'phone_consultation' ELSE 'visit' END,
       %(start)s + make_interval(secs => power(g::float8 / %(n_contacts)s, 0.85) * %(span_all)s),
       NULL, {_pick(_arr("op_ids"), _arr("op_b"), "pg_temp.rnd(g, 61)")},
       {_el("surnames", "pg_temp.rnd(g, 62)")} || {_el("given", "pg_temp.rnd(g, 63)")},
       '1' || (ARRAY['39','38','37','50','86','33'])[1 + (g %% 6)::int] || lpad(((g * 15485863 + 99) %% 100000000)::text, 8, '0'),
       {_el("topics", "pg_temp.rnd(g, 64)")}, '来电咨询', '已解答，告知申诉条件和途径',
       CASE WHEN pg_temp.rnd(g, 65) < 0.2 THEN NULL ELSE pg_temp.rnd(g, 66) < 0.6 END, '', NULL, NULL, NULL, NULL
FROM generate_series(1::bigint, %(n_contacts)s) AS g
WHERE %(start)s + make_interval(secs => power(g::float8 / %(n_contacts)s, 0.85) * %(span_all)s) < %(now)s;

INSERT INTO contact (channel, at, appeal_id, operator_id, person_name, phone, topic, notes, answer, callee, reached,
                     satisfaction, terms_carried_out)
SELECT 'callback', a.closed_at + make_interval(secs => (1 + pg_temp.rnd(a.id, 70) * 3) * 86400), a.id, a.operator_id,
       '', '', '办结回访', '回访申诉人', '', 'consumer', pg_temp.rnd(a.id, 71) < 0.85,
       CASE WHEN pg_temp.rnd(a.id, 71) < 0.85 THEN 1 + floor(pg_temp.rnd(a.id, 72) * 5)::int END,
       CASE WHEN a.outcome = 'settled' AND pg_temp.rnd(a.id, 71) < 0.85 THEN pg_temp.rnd(a.id, 73) < 0.95 END
FROM appeal a
WHERE a.id > %(base)s AND a.status = 'closed' AND a.outcome IN ('settled', 'acknowledged')
  AND a.closed_at + interval '4 days' < %(now)s AND pg_temp.rnd(a.id, 74) < 0.7
ORDER BY a.id;
"""


def _staff_ids(conn, password_hash: str) -> dict[str, list[int]]:
    """Create the centre's staff (signing in with an unknown password) and return their ids by role."""
    ids: dict[str, list[int]] = {}
    for role, count in STAFF.items():
        ids[role] = []
        for k in range(1, count + 1):
            username = f"hist-{role}-{k:02d}"
            row = conn.execute("SELECT id FROM user_account WHERE username = %s", (username,)).fetchone()
            if row is None:
                row = conn.execute(
                    "INSERT INTO user_account (username, full_name, role, email, password_hash, active, failed_logins,"
                    " created_at) VALUES (%s, %s, %s, '', %s, true, 0, now()) RETURNING id",
                    (username, f"{SURNAMES[k]}{GIVEN[k]}（{role}）", role, password_hash),
                ).fetchone()
            ids[role].append(row[0])
    return ids


def _typed_arrays(sql: str, params: dict) -> str:
    """Cast the list parameters in a statement to their array types (psycopg sends a list of str untyped)."""
    for name, value in params.items():
        if isinstance(value, list):
            kind = "int[]" if isinstance(value[0], int) else "float8[]" if isinstance(value[0], float) else "text[]"
            sql = sql.replace(f"%({name})s", f"(%({name})s::{kind})")
    return sql


_BULK_TABLES = ("appeal", "case_event", "deadline", "referral", "settlement", "material", "contact")


def _drop_indexes(conn) -> list[str]:
    """Drop the foreign keys and secondary indexes of the filled tables; return the DDL that puts them back.

    A bulk load is much faster without them: each row would queue a foreign-key check and update every index;
    rebuilt afterwards, each is one pass (and the foreign keys are validated then).
    """
    keys = conn.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)",
        (list(_BULK_TABLES),),
    ).fetchall()
    for table, name, _ in keys:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (list(_BULK_TABLES),),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in indexes] + [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys]


def _rebuild(conn, ddl: list[str]) -> None:
    """Rebuild the indexes two at a time (a GIN build uses one core), then put the foreign keys back."""
    import psycopg

    indexes = [d for d in ddl if d.startswith("CREATE")]

    def build(statements: list[str]) -> None:
        with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as other:
            other.execute("SET maintenance_work_mem = '512MB'")
            for statement in statements:
                other.execute(statement)

    # the big GIN indexes on the facts first, one on each connection
    indexes.sort(key=lambda d: "gin" not in d)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(build, [indexes[0::2], indexes[1::2]]))
    for statement in ddl:
        if not statement.startswith("CREATE"):
            conn.execute(statement)
    conn.commit()


def fill(
    conn,
    appeals: int,
    seed: int = 1,
    now: dt.datetime | None = None,
    prefix: str = "JL",
    progress: Callable[[str], None] = print,
) -> dict[str, int]:
    """Add `appeals` generated appeals and their history through an open psycopg connection; returns the row counts.

    The reference data must be loaded. Commits after each table. Indexes are dropped for the fill and rebuilt.
    """
    from werkzeug.security import generate_password_hash

    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    start = now - dt.timedelta(days=365 * YEARS)
    n_open_paths = sum(1 for p in PATHS if p[1] is None)
    n_open = max(n_open_paths, round(appeals * OPEN_SHARE))
    n_closed = appeals - n_open
    closed_end = now - dt.timedelta(days=120)  # the longest closed path (reopened) ends before now
    base = conn.execute("SELECT coalesce(max(id), 0) FROM appeal").fetchone()[0]
    staff = _staff_ids(conn, generate_password_hash(os.urandom(16).hex()))
    vocabulary = _vocabulary()
    op_ids = dict(conn.execute("SELECT code, id FROM operator").fetchall())
    params = {
        **vocabulary,
        "op_ids": [op_ids[code] for code in vocabulary["ops"]],
        "n": appeals,
        "n_closed": n_closed,
        "now": now,
        "start": start,
        "span": (closed_end - start).total_seconds(),
        "span_all": (now - start).total_seconds(),
        "open_window": 12,
        "base": base,
        "prefix": prefix,
        "seed": seed,
        "n_contacts": round(appeals * 1.6),
        "mediators": staff["mediator"],
        "clerks": staff["clerk"],
        "supervisors": staff["supervisor"],
    }
    t0 = time.perf_counter()

    def run(label: str, sql: str) -> None:
        t = time.perf_counter()
        for statement in sql.split(";\n"):
            if statement.strip():
                conn.execute(_typed_arrays(statement, params), params)
        conn.commit()
        progress(f"  {label}: {time.perf_counter() - t:.1f} s")

    conn.execute(_setup_sql(seed))
    _paths_sql(conn, PATHS)
    conn.execute("SET work_mem = '256MB'")
    progress(f"generating {appeals:,} appeals ({n_open:,} open) over {YEARS} years up to {now:%Y-%m-%d}")
    indexes = _drop_indexes(conn) if appeals >= 50_000 else []  # a small fill is quicker with them in place
    run("cases planned", CASES_SQL + NUMBER_SQL + "ANALYZE gen_case;\nANALYZE gen_number")
    run("appeals", APPEAL_SQL)
    run("events", EVENT_SQL)
    run("deadlines", DEADLINE_SQL)
    run("referrals and settlements", REFERRAL_SQL)
    run("materials", MATERIAL_SQL)
    run("contacts and follow-up calls", CONTACT_SQL)
    conn.execute(
        "INSERT INTO case_number_sequence (year, last) SELECT year, max(seq) FROM gen_number GROUP BY year"
        " ON CONFLICT (year) DO UPDATE SET last = greatest(case_number_sequence.last, excluded.last)"
    )
    for table in ("appeal", "case_event", "deadline", "referral", "settlement", "material", "contact"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}),"
            " false)"
        )
    conn.execute("DROP TABLE gen_case, gen_number, gen_path, gen_step, gen_clock, gen_referral, gen_settle")
    conn.commit()
    t = time.perf_counter()
    _rebuild(conn, indexes)
    progress(f"  indexes and foreign keys rebuilt: {time.perf_counter() - t:.1f} s")
    counts = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("appeal", *_BULK_TABLES[1:])
    }
    progress(f"generated in {time.perf_counter() - t0:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return counts


def ensure_database(url: str) -> None:
    """Create the database when it is missing."""
    import psycopg

    base, name = url.replace("+psycopg", "").rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def generate(url: str, appeals: int, seed: int = 1, now: dt.datetime | None = None) -> dict[str, int]:
    """Empty the database, migrate it, load the reference data and fill it; then VACUUM ANALYZE."""
    import psycopg

    ensure_database(url)
    plain = url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="history-instance-"))
    import flask_migrate

    from app import create_app
    from app.extensions import db
    from cases import reference

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        reference.ensure_reference_data()
        prefix = app.config["CASE_PREFIX"]
        db.engine.dispose()
    with psycopg.connect(plain) as conn:
        counts = fill(conn, appeals, seed, now, prefix)
    t = time.perf_counter()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE: {time.perf_counter() - t:.1f} s")
    return counts


def main() -> int:
    """Command line: generate a history into a database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=int(os.environ.get("BENCH_APPEALS", 1_000_000)))
    parser.add_argument("--url", default=os.environ.get("HISTORY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", type=dt.date.fromisoformat, help="the day the history ends (default: today, UTC)")
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        raise SystemExit("the generator writes PostgreSQL (--url postgresql+psycopg://...)")
    now = dt.datetime.combine(args.now, dt.time()) if args.now else None
    t = time.perf_counter()
    generate(args.url, args.appeals, args.seed, now)
    print(f"done in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
