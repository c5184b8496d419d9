"""The reference data every installation starts with: Jilin's operators and the shared codes."""

from __future__ import annotations

import sqlalchemy as sa

from cases import codes
from cases.db import db
from cases.models import Operator, ReferenceCode

# (code, legal name, short name, type, address)
JILIN_OPERATORS = (
    ("cmcc_jl", "中国移动通信集团吉林有限公司", "中国移动吉林", "basic", "吉林省长春市"),
    ("unicom_jl", "中国联合网络通信有限公司吉林省分公司", "吉林联通", "basic", "吉林省长春市"),
    ("telecom_jl", "中国电信股份有限公司吉林分公司", "吉林电信", "basic", "吉林省长春市"),
    ("cbn_jl", "中国广电吉林网络股份有限公司", "中国广电吉林", "basic", "吉林省长春市"),
    ("mvno_xiaomi", "小米科技有限责任公司（小米移动）", "小米移动", "resale", "北京市"),
    ("mvno_jd", "北京京东叁佰陆拾度电子商务有限公司（京东通信）", "京东通信", "resale", "北京市"),
    ("mvno_snail", "苏州蜗牛数字科技股份有限公司（蜗牛移动）", "蜗牛移动", "resale", "江苏省苏州市"),
    ("mvno_chinapost", "中邮世纪（北京）通信技术有限公司（中邮通信）", "中邮通信", "resale", "北京市"),
)

# The code kinds kept as reference rows (lifecycle actions live in workflows/).
REFERENCE_KINDS = (
    "operator_type",
    "service_type",
    "category",
    "rejection_ground",
    "outcome",
    "contact_channel",
    "intake_channel",
)


def ensure_reference_data() -> dict[str, int]:
    """Insert whatever reference rows are absent; returns how many of each were added."""
    added = {"operators": 0, "codes": 0}
    have_ops = set(db.session.scalars(sa.select(Operator.code)))
    for code, name, short, kind, address in JILIN_OPERATORS:
        if code not in have_ops:
            db.session.add(Operator(code=code, name=name, short_name=short, operator_type=kind, address=address))
            added["operators"] += 1
    have_codes = set(db.session.execute(sa.select(ReferenceCode.kind, ReferenceCode.code)).tuples())
    for kind in REFERENCE_KINDS:
        for position, row in enumerate(codes.ALL[kind].values()):
            if (kind, row.code) not in have_codes:
                db.session.add(
                    ReferenceCode(kind=kind, code=row.code, name_zh=row.zh, name_en=row.en, position=position)
                )
                added["codes"] += 1
    db.session.commit()
    return added


def active_codes(kind: str) -> list[ReferenceCode]:
    """The active codes of a kind, in their order."""
    return list(
        db.session.scalars(
            sa.select(ReferenceCode)
            .where(ReferenceCode.kind == kind, ReferenceCode.active)
            .order_by(ReferenceCode.position, ReferenceCode.id)
        )
    )


def active_operators() -> list[Operator]:
    """The operators an appeal can be filed against."""
    return list(db.session.scalars(sa.select(Operator).where(Operator.active).order_by(Operator.id)))


def operator_by_code(code: str | None, active_only: bool = False) -> Operator | None:
    """The operator with this code (only an active one, when asked), or None: the one look-up by code."""
    if not code:
        return None
    query = sa.select(Operator).where(Operator.code == str(code))
    return db.session.scalar(query.where(Operator.active) if active_only else query)


def operator_id_by_code(code: str | None) -> int | None:
    """The id of the operator with this code, or None."""
    op = operator_by_code(code)
    return op.id if op else None
