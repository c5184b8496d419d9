"""Tables as an XLSX workbook a person can use at once: one sheet a table, named by its (Chinese) title; the
header row frozen; columns as wide as their labels and values; numbers stored as numbers and percentages as
fractions shown with a percent format; text that a spreadsheet would run as a formula made inert."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
WIDTH_MAX = 60
PERCENT_FORMAT = "0.00%"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")


class Percent(float):
    """A figure in percent (58.69 means 58.69 %): printed as it was given ("60.00" stays "60.00"), stored in a
    spreadsheet as 0.5869 with a percent format."""

    text: str

    def __new__(cls, value: Any) -> Percent:
        number = super().__new__(cls, float(value))
        number.text = str(value)
        return number

    def __str__(self) -> str:
        return self.text


class Sheet(Protocol):
    """What a table needs to become a sheet (app.bulletin_export.Table has it)."""

    title: str
    headers: list[str]
    rows: list[list[Any]]


def inert(value: Any) -> Any:
    """Text that starts like a formula (=, +, -, @, a tab, or their full-width forms) gets a leading apostrophe, so
    a spreadsheet shows it and never runs it; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def display_width(value: Any) -> int:
    """How many character cells a value takes on screen: wide (CJK) characters count two."""
    text = f"{value}%" if isinstance(value, Percent) else str(value)
    longest = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def sheet_names(titles: Iterable[str]) -> list[str]:
    """Names Excel accepts (31 characters, none of []:*?/\\), unique, in the order of the titles."""
    names: list[str] = []
    for title in titles:
        base = _SHEET_FORBIDDEN.sub(" ", str(title)).strip() or "Sheet"
        name, n = base[:SHEET_NAME_MAX], 2
        while name in names:
            suffix = f" ({n})"
            name, n = base[: SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
        names.append(name)
    return names


def _cell_value(value: Any) -> Any:
    if isinstance(value, Percent):
        return float(value) / 100
    if isinstance(value, Decimal):
        return float(value)
    return inert(value)


def xlsx_bytes(tables: Sequence[Sheet]) -> bytes:
    """Every table as one sheet of an XLSX workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for table, name in zip(tables, sheet_names(t.title for t in tables), strict=True):
        ws = wb.create_sheet(title=name)
        ws.append([inert(str(h)) for h in table.headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(vertical="center", wrap_text=False)
        for row in table.rows:
            ws.append([_cell_value(v) for v in row])
            for cell, value in zip(ws[ws.max_row], row, strict=False):
                if isinstance(value, Percent):
                    cell.number_format = PERCENT_FORMAT
                elif isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
        ws.freeze_panes = "A2"  # the header row stays in view
        for index, header in enumerate(table.headers, start=1):
            column = [header, *(row[index - 1] for row in table.rows if len(row) >= index)]
            width = max(display_width(v) for v in column if v is not None) if column else 8
            ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), WIDTH_MAX)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
