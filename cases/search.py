"""Finding appeals: by case number (exact or prefix), phone, service number, the appellant's name (whole, as
written on the appeal; ix_appeal_complainant_name), or words in the facts. "Any" text that is neither a number
nor a case number looks for the words in the facts, and, when it is one word, for an appellant of that name too.

Words in the facts, on PostgreSQL: a two-character word (信号, 扣费, 套餐: most Chinese words) is found in the
GIN index of the facts' character pairs (ix_appeal_facts_bigram), exactly; a longer word with ILIKE served by
the trigram index; a single character with ILIKE alone, which reads every row. Elsewhere (SQLite) every word is
matched with ILIKE. A word so common that PostgreSQL's statistics expect more than COMMON_ROWS cases is listed
by walking the cases newest first (the first 50 come at once) and not counted: the page says "at least".
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from cases import queues
from cases.db import db
from cases.models import Appeal

KEYS = ("any", "case_no", "phone", "service_number", "name", "facts")
NAME_MAX = 100  # the column's length: a longer "name" cannot be one
_CASE_NO = re.compile(r"^[A-Za-z]{1,4}\d{0,4}(-\d{0,6})?$")
_FULL_CASE_NO = re.compile(r"^[A-Z]{1,4}\d{4}-\d{6}$")
_NUMBER = re.compile(r"^\+?[\d\s-]{5,40}$")
MAX_WORDS = 5
COMMON_ROWS = 10 * queues.COUNT_CAP  # expected matches above which a word search is not counted


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: sa.ColumnElement, word: str) -> sa.ColumnElement[bool]:
    """A case-insensitive 'contains' on a column, with the word's wildcards escaped."""
    return column.ilike(f"%{escape_like(word)}%", escape="\\")


def _on_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _facts_contain(word: str) -> sa.ColumnElement[bool]:
    """The facts contain the word (case-insensitively); a two-character word through the pair index on PostgreSQL."""
    if len(word) != 2 or not _on_postgres():
        return _contains(Appeal.facts, word)
    return sa.func.appeal_bigrams(Appeal.facts).op("@>")(sa.func.appeal_bigrams(sa.cast(word, sa.Text)))


def facts_words(text: str, key: str = "any") -> list[str]:
    """The words a search looks for in the facts (none when it searches a number or a case number)."""
    text = (text or "").strip()[:200]
    if not text or _searched_key(text, key) != "facts":
        return []
    return text.split()[:MAX_WORDS]


def guess_key(text: str) -> str:
    """What a search in "any" most likely means: a case number, a phone or service number, or words in the facts."""
    if _CASE_NO.match(text) and any(ch.isdigit() for ch in text):
        return "case_no"
    if _NUMBER.match(text):
        return "number"
    return "facts"


def condition(text: str, key: str = "any") -> sa.ColumnElement[bool] | None:
    """The WHERE clause for a search, or None when there is nothing to search for.

    "any" searches only the column the input looks like, so each search can use its index.
    """
    text = (text or "").strip()[:200]
    if not text:
        return None
    asked = key if key in KEYS else "any"
    key = _searched_key(text, key)
    compact = re.sub(r"[\s-]", "", text)
    if key == "case_no":
        number = text.upper()  # case numbers are stored in capitals, so LIKE (cheaper than ILIKE) finds them
        if _FULL_CASE_NO.match(number):
            return Appeal.case_no == number
        return Appeal.case_no.like(f"{escape_like(number)}%", escape="\\")
    if key == "phone":
        return Appeal.phone == compact
    if key == "service_number":
        return Appeal.service_number == compact
    if key == "number":
        return sa.or_(Appeal.phone == compact, Appeal.service_number == compact)
    if key == "name":
        return Appeal.complainant_name == text
    return _or_name(sa.and_(*[_facts_contain(w) for w in facts_words(text, "facts")]), text, asked)


def _or_name(words: sa.ColumnElement[bool], text: str, key: str) -> sa.ColumnElement[bool]:
    """In "any", one word may also be an appellant's name (equality on its index, next to the word indexes)."""
    if key != "any" or len(text.split()) != 1 or len(text) > NAME_MAX:
        return words
    return sa.or_(words, Appeal.complainant_name == text)


def search_select(where: sa.ColumnElement[bool]) -> sa.Select:
    """The appeals matching a search condition, newest first."""
    return sa.select(Appeal).where(where).order_by(Appeal.received_at.desc(), Appeal.id.desc())


def estimated_rows(where: sa.ColumnElement[bool]) -> float:
    """How many appeals PostgreSQL's statistics expect to match (EXPLAIN, nothing is read)."""
    conn = db.session.connection()  # connected first: the dialect learns how this server escapes strings
    compiled = sa.select(sa.literal(1)).select_from(Appeal).where(where).compile(dialect=conn.dialect)
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return float(plan[0]["Plan"]["Plan Rows"])


def _common(where: sa.ColumnElement[bool], words: list[str]) -> bool:
    """Whether the statistics expect many matches: for all the words together, or for each word on its own.

    Words each common are listed by walking the newest cases (the words of one complaint tend to come together);
    their estimate together assumes they are independent, which for words of one phrase is far too low.
    """
    if estimated_rows(where) > COMMON_ROWS:
        return True
    return len(words) > 1 and all(estimated_rows(_facts_contain(w)) > COMMON_ROWS for w in words)


def results(text: str, key: str, page: int, per_page: int | None = None) -> queues.Page | None:
    """A page of the search's results, newest first; None for an empty search.

    Common words are listed with ILIKE alone (the received_at index read backwards meets 50 matches soon) and
    not counted (the page says "at least"); rarer ones through their indexes, counted exactly up to the cap,
    and when they are no more than the cap, found through the word indexes before they are sorted. A
    case-number prefix with no more matches than the cap is found through the case-number index likewise.
    """
    where = condition(text, key)
    if where is None:
        return None
    words = facts_words(text, key)
    if words and _on_postgres() and _common(where, words):
        plain = _or_name(sa.and_(*[_contains(Appeal.facts, w) for w in words]), text.strip(), key)
        return queues.page_of(search_select(plain), None, page, per_page)
    # A case-number prefix is misjudged like a rare word: JL2021-044% is expected to match 10,101 cases spread
    # over the years (1,000 match, all of 2021), and walking received_at backwards read 600,000 rows.
    if _on_postgres() and (words or _searched_key(text, key) == "case_no"):
        total = queues.count_up_to([where])
        if total <= queues.COUNT_CAP:
            return queues.page_of(_few_newest_first(where), [where], page, per_page, total=total)
    return queues.page_of(search_select(where), [where], page, per_page)


def _searched_key(text: str, key: str) -> str:
    """The key a search reads: the one asked for, or in "any" the one the text looks like (`condition`)."""
    return guess_key((text or "").strip()[:200]) if key not in KEYS or key == "any" else key


def _few_newest_first(where: sa.ColumnElement[bool]) -> sa.Select:
    """The matches of a search known to match few cases, found through the word indexes first, then sorted.

    PostgreSQL's estimate for a word can be ten times too high (197元: 10,047 expected, 1,057 found); it then
    walks the newest cases backwards through the received_at index, filtering each row (51,000 rows read,
    108 ms). Materializing the matches keeps it on the word index: 1,057 rows found and sorted in 5 ms.
    """
    matches = sa.select(Appeal.id, Appeal.received_at).where(where).cte("matches").prefix_with("MATERIALIZED")
    return (
        sa.select(Appeal)
        .join(matches, matches.c.id == Appeal.id)
        .order_by(matches.c.received_at.desc(), matches.c.id.desc())
    )
