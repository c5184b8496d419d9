"""Demo accounts (one per role) and demo cases in different states, so a newcomer can try each role at once."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from cases import accounts, states
from cases.db import db
from cases.models import Appeal, Operator, User, utcnow

DEMO_ACCOUNTS = (
    ("clerk", states.CLERK, "受理员（演示）", None),
    ("mediator", states.MEDIATOR, "调解员（演示）", None),
    ("supervisor", states.SUPERVISOR, "主管（演示）", None),
    ("admin", states.ADMIN, "管理员（演示）", None),
    ("cmcc", states.OPERATOR, "中国移动吉林联络员（演示）", "cmcc_jl"),
    ("unicom", states.OPERATOR, "吉林联通联络员（演示）", "unicom_jl"),
)


def seed_demo_accounts() -> list[tuple[str, str, str]]:
    """Create the demo accounts that are absent; returns (username, role, password) of each one created."""
    created = []
    for username, role, name, operator_code in DEMO_ACCOUNTS:
        if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            continue
        password = secrets.token_urlsafe(9)
        accounts.create_user(username, password, role, name, operator_code)
        created.append((username, role, password))
    db.session.commit()
    return created


# Demo cases: (state, appellant, phone, operator, category, facts, steps). Each step is (action, role, data);
# the steps are applied through the lifecycle engine, which the caller passes in (cases does not import workflows).
DEMO_CASES = (
    ("received", "王小明", "13944001101", "cmcc_jl", "charging", "本月账单出现未订购的视频会员费20元。", []),
    (
        "awaiting_materials",
        "李丽",
        "13043002202",
        "unicom_jl",
        "service",
        "宽带报修五天无人上门，客服多次承诺回电未回电。",
        [("request_materials", "clerk", {"missing": "报修工单号或通话记录截图"})],
    ),
    (
        "accepted",
        "赵强",
        "18943003303",
        "telecom_jl",
        "marketing",
        "营业厅办理套餐时承诺的赠送流量没有到账。",
        [("accept", "clerk", {})],
    ),
    (
        "referred",
        "孙芳",
        "13804404404",
        "cmcc_jl",
        "network",
        "小区内手机信号长期很差，经常无法接通。",
        [("accept", "clerk", {}), ("refer", "mediator", {})],
    ),
    (
        "replied",
        "周杰",
        "15504405505",
        "unicom_jl",
        "porting",
        "申请携号转网被告知有未到期合约，但合约已于去年到期。",
        [
            ("accept", "clerk", {}),
            ("refer", "mediator", {}),
            ("reply", "operator", {"text": "经核实合约已到期，已为用户解除限制。"}),
        ],
    ),
    (
        "settled",
        "吴敏",
        "17704406606",
        "cmcc_jl",
        "charging",
        "国际漫游流量费用异常，一天扣费300元。",
        [
            ("accept", "clerk", {}),
            ("refer", "mediator", {}),
            ("reply", "operator", {"text": "同意按封顶标准退还超出部分。"}),
            ("settle", "mediator", {"refund_amount": "240.00", "perform_by": "2030-12-31", "apology": True}),
        ],
    ),
    (
        "closed",
        "郑华",
        "13304407707",
        "telecom_jl",
        "service",
        "固话停机未提前通知。",
        [
            ("accept", "clerk", {}),
            ("refer", "mediator", {}),
            ("reply", "operator", {"text": "系欠费停机，已向用户解释并恢复。"}),
            ("acknowledge", "mediator", {"note": "用户表示知晓"}),
        ],
    ),
    (
        "rejected",
        "冯军",
        "13604408808",
        "mvno_xiaomi",
        "charging",
        "三年前的话费争议。",
        [("reject", "clerk", {"ground": "art11_1", "explanation": "收费争议已超过五个月。"})],
    ),
)


def seed_demo_cases(perform: Callable[..., Any], case_no: Callable[[dt.datetime], str]) -> int:
    """Create the demo cases through `perform` (the lifecycle engine), only when there are no appeals; returns how many."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)):
        return 0
    operators = {o.code: o for o in db.session.scalars(sa.select(Operator))}
    now = utcnow()
    for n, (state, name, phone, op_code, category, facts, steps) in enumerate(DEMO_CASES):
        at = now - dt.timedelta(days=len(DEMO_CASES) - n)
        appeal = Appeal(
            case_no=case_no(at),
            complainant_name=name,
            phone=phone,
            id_number="220102199001011234",
            address="吉林省长春市朝阳区人民大街100号",
            postcode="130000",
            operator=operators[op_code],
            service_type="mobile",
            service_number=phone,
            category=category,
            request="请求核实并妥善处理。",
            facts=facts,
            received_at=at,
            channel="online",
        )
        db.session.add(appeal)
        perform(appeal, "submit", role="consumer", at=at)
        for action, role, data in steps:
            perform(appeal, action, role=role, data=data, at=at)
        if appeal.status != state:
            raise RuntimeError(f"demo case {n} ended in {appeal.status}, expected {state}")
    db.session.commit()
    return len(DEMO_CASES)
