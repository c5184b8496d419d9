"""The rules for single values a consumer types: phone, ID number, postcode, email, dates, free text.

Each `check_*` returns the cleaned value or raises `FieldError` with a message in
the consumer's language. The web form and the API both call these (through
`cases.intake`), so there is one copy of every rule.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
# Area code 0 + 2-3 digits, then a 7-8 digit local number; the hyphen is optional.
FIXED_LINE_RE = re.compile(r"0\d{2,3}-?[1-9]\d{6,7}")
POSTCODE_RE = re.compile(r"\d{6}")
ID_RE = re.compile(r"\d{17}[\dX]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


class FieldError(ValueError):
    """A value that breaks a rule; the message is shown next to the field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Explicit direction embeddings, overrides and isolates: they can make a case's text read differently on the
# staff's screen from what is stored ("Trojan Source"), and mixed Chinese, Uyghur or Mongolian text needs none.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What clean_text drops, as one character class: the control characters (category Cc: U+0000-001F and
# U+007F-009F, and no others), lone surrogates (Cs: U+D800-DFFF) and BIDI_CONTROLS. One regex pass instead of
# a category look-up per character (facts of 5,000 characters: ~1 ms of CPU a filing); multiline text keeps
# newlines and tabs. tests/test_validation.py checks the classes against unicodedata for every code point.
_DROP = "\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069"
DROPPED_CHARS = re.compile(f"[\x00-\x1f{_DROP}]")
DROPPED_CHARS_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_DROP}]")


def clean_text(value: Any, *, max_length: int, multiline: bool = False) -> str:
    """Text with control characters removed and outer spaces stripped; refuses non-text and overlong text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(_("请填写文字。"))
    value = unicodedata.normalize("NFC", value)
    value = (DROPPED_CHARS_MULTILINE if multiline else DROPPED_CHARS).sub("", value).strip()
    if len(value) > max_length:
        raise FieldError(_("内容过长：最多%(max)d个字，现在是%(now)d个字。", max=max_length, now=len(value)))
    return value


def check_phone(value: str) -> str:
    """A mainland mobile number (13800138000) or a fixed line with its area code (0431-88888888)."""
    compact = value.replace(" ", "")
    if compact.startswith("+86"):
        compact = compact[3:]
    if MOBILE_RE.fullmatch(compact) or FIXED_LINE_RE.fullmatch(compact):
        return compact
    raise FieldError(_("请填写11位手机号码，或带区号的固定电话（如 0431-88888888）。"))


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def check_id_number(value: str) -> str:
    """An 18-character resident ID number whose date and GB 11643 check character are right."""
    value = value.replace(" ", "").upper()
    if not ID_RE.fullmatch(value):
        raise FieldError(_("身份证号码应为18位（最后一位可以是X）。"))
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise FieldError(_("身份证号码中的出生日期不正确。")) from None
    if born > dt.date.today() or born.year < 1890:
        raise FieldError(_("身份证号码中的出生日期不正确。"))
    if id_check_char(value[:17]) != value[17]:
        raise FieldError(_("身份证号码校验位不正确，请核对。"))
    return value


def check_postcode(value: str) -> str:
    """A six-digit postcode."""
    value = value.replace(" ", "")
    if not POSTCODE_RE.fullmatch(value):
        raise FieldError(_("邮政编码应为6位数字。"))
    return value


def check_email(value: str) -> str:
    """A syntactically valid email address (no DNS lookup), normalised."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise FieldError(_("电子邮箱地址格式不正确。")) from None


def parse_date(value: Any) -> dt.date:
    """A date written YYYY-MM-DD (or a date object)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise FieldError(_("日期格式应为 YYYY-MM-DD。"))
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(_("日期格式应为 YYYY-MM-DD。")) from None
    if day.year < 1990:
        raise FieldError(_("日期过早，请核对。"))
    return day


def check_not_future(day: dt.date, today: dt.date) -> dt.date:
    """A date that is not after today."""
    if day > today:
        raise FieldError(_("日期不能晚于今天。"))
    return day


def parse_bool(value: Any) -> bool | None:
    """A yes/no answer from JSON or a form ('yes', 'no', true, false); None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("yes", "y", "true", "1", "on"):
            return True
        if v in ("no", "n", "false", "0", "off"):
            return False
    return None
