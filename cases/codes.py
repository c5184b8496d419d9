"""The shared codes of the domain document: stable codes, Chinese and English names.

The API, the import format and the exports use the codes; pages show the names.
Codes may be added, never renamed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import get_locale


class Code(NamedTuple):
    code: str
    zh: str
    en: str


def _table(*rows: tuple[str, str, str]) -> dict[str, Code]:
    return {r[0]: Code(*r) for r in rows}


OPERATOR_TYPES = _table(
    ("basic", "基础电信业务企业", "Basic telecom operator"),
    ("resale", "移动转售企业", "Mobile reseller"),
    ("other", "其他", "Other"),
)

SERVICE_TYPES = _table(
    ("mobile", "移动电话", "Mobile phone"),
    ("fixed", "固定电话", "Fixed-line phone"),
    ("broadband", "宽带", "Broadband"),
    ("other", "其他", "Other"),
)

CATEGORIES = _table(
    ("service", "服务质量", "Service quality"),
    ("charging", "收费争议", "Charging dispute"),
    ("marketing", "营销宣传", "Marketing"),
    ("network", "网络质量", "Network quality"),
    ("porting", "携号转网", "Number porting"),
    ("security", "个人信息与安全", "Personal data and security"),
    ("other", "其他", "Other"),
)

REJECTION_GROUNDS = _table(
    (
        "art10_1",
        "申诉人与申诉事项无直接利害关系（第十条第一项）",
        "The appellant has no direct interest in the matter (Art. 10(1))",
    ),
    ("art10_2", "没有明确的被申诉人（第十条第二项）", "There is no definite respondent (Art. 10(2))"),
    ("art10_3", "没有具体的申诉请求和事实根据（第十条第三项）", "There is no concrete request and facts (Art. 10(3))"),
    (
        "art10_4",
        "未先向电信业务经营者投诉，或经营者投诉处理未满15日（第十条第四项）",
        "The appellant did not complain to the operator first, or 15 days have not passed (Art. 10(4))",
    ),
    (
        "art11_1",
        "超过申诉时限：收费争议超过五个月，其他争议超过二年（第十一条第一项）",
        "Too late: a charging dispute after 5 months, any other matter after 2 years (Art. 11(1))",
    ),
    (
        "art11_2",
        "双方已达成和解并已履行（第十一条第二项）",
        "The parties already settled and carried it out (Art. 11(2))",
    ),
    (
        "art11_3",
        "申诉受理机构已受理或处理过同一事项（第十一条第三项）",
        "The centre has already accepted or handled the same matter (Art. 11(3))",
    ),
    (
        "art11_4",
        "人民法院、仲裁机构、消费者组织或其他行政机关已受理或处理（第十一条第四项）",
        "A court, arbitration body, consumer association or other authority has it (Art. 11(4))",
    ),
    ("art11_5", "不符合第十条规定的申诉条件（第十一条第五项）", "The conditions of Art. 10 are not met (Art. 11(5))"),
    ("art11_6", "法律、法规另有规定（第十一条第六项）", "Laws or regulations provide otherwise (Art. 11(6))"),
)

OUTCOMES = _table(
    ("settled", "和解", "Settled"),
    ("acknowledged", "知晓", "Acknowledged"),
    ("disagreed", "不认可", "Not accepted by the appellant"),
    ("mediation_failed", "调解不成", "Mediation failed"),
    ("withdrawn", "撤回", "Withdrawn"),
    ("rejected", "不予受理", "Rejected"),
)

CONTACT_CHANNELS = _table(
    ("phone_consultation", "电话咨询", "Phone consultation"),
    ("visit", "现场来访", "Walk-in visit"),
    ("callback", "回访呼出", "Follow-up call"),
)

INTAKE_CHANNELS = _table(
    ("online", "网上申诉", "Online"),
    ("phone", "电话", "Phone"),
    ("visit", "来访", "Walk-in"),
    ("letter", "信函", "Letter"),
)

ACTIONS = _table(
    ("request_materials", "要求补正材料", "Request missing materials"),
    ("receive_materials", "收到补正材料", "Materials received"),
    ("accept", "受理", "Accept"),
    ("reject", "不予受理", "Reject"),
    ("refer", "转办", "Refer to operator"),
    ("reply", "企业答复", "Operator reply"),
    ("mediate", "调解", "Start mediation"),
    ("settle", "和解", "Record settlement"),
    ("acknowledge", "知晓", "Acknowledged"),
    ("disagree", "不认可", "Not accepted"),
    ("end_mediation", "调解不成", "Mediation failed"),
    ("withdraw", "撤回", "Withdraw"),
    ("reopen", "重新开启", "Reopen"),
    # Added codes (the domain allows new codes, never renamed ones).
    ("submit", "提交申诉", "Appeal submitted"),
    ("close", "办结", "Close"),
    # Audit-only events (no state change).
    ("callback", "回访呼出", "Follow-up call"),
    ("propose_settlement", "企业提出和解方案", "Operator proposed settlement terms"),
    ("terms_done", "企业报告已履行", "Operator reported the terms carried out"),
    ("report_terms_not_done", "申诉人反映企业未履行", "Appellant reported the terms not carried out"),
    ("forward_reply", "转达企业答复", "Operator's reply forwarded to the appellant"),
    ("consumer_view", "申诉人验证手机号后查看", "Appellant viewed it after phone sign-in"),
    ("access_code_reissued", "换发查询码", "New access code issued"),
    ("consumer_rating", "申诉人满意度评价", "Appellant's satisfaction rating"),
)

ALL = {
    "operator_type": OPERATOR_TYPES,
    "service_type": SERVICE_TYPES,
    "category": CATEGORIES,
    "rejection_ground": REJECTION_GROUNDS,
    "outcome": OUTCOMES,
    "contact_channel": CONTACT_CHANNELS,
    "intake_channel": INTAKE_CHANNELS,
    "action": ACTIONS,
}


def current_lang() -> str:
    """The page's language: "en" when the visitor chose English, else "zh" (also outside a request)."""
    return "en" if str(get_locale() or "zh").startswith("en") else "zh"


def localized(row: Any, lang: str | None = None, prefix: str = "") -> str:
    """The text a row carries as `zh`/`en` fields (`<prefix>zh`/`<prefix>en` with a prefix) in a language:
    English for "en", Chinese otherwise; the page's language when `lang` is None. The one way the names of
    the lifecycle table (states, fields, deadlines) and of the code tables are read."""
    english = (lang or current_lang()) == "en"
    return getattr(row, f"{prefix}en" if english else f"{prefix}zh")


def name(kind: str, code: str | None, lang: str = "zh") -> str:
    """The display name of a code, or the code itself when unknown."""
    if code is None:
        return ""
    row = ALL[kind].get(code)
    if row is None:
        return code
    return localized(row, lang)
