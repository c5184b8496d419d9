"""The bulletin as a PDF (fpdf2): the centre's name and the period on every page, page numbers, the paragraph,
the charts and the tables, each heading kept on the page of what follows it, in an embedded CJK font.

The font is Noto Sans CJK SC from Debian's fonts-noto-cjk (PDF_FONT_PATH): fpdf2 embeds the subset of glyphs
the document uses, so the PDF reads the same on any reader, with or without Chinese fonts of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FAMILY_NAME = "Noto Sans CJK SC"
FONT = "cjk"
BAR = (46, 94, 170)
GRID = (170, 170, 170)
HEADING_GAP = 3  # mm before a heading


class FontMissing(RuntimeError):
    """The CJK font file is not there (install fonts-noto-cjk, or set PDF_FONT_PATH)."""


@dataclass
class Chart:
    """A horizontal bar chart: a title and (label, value) rows."""

    title: str
    rows: list[tuple[str, float | int | None]]
    unit: str = ""


@cache
def font_index(path: str, family: str = FAMILY_NAME) -> int:
    """The index of the simplified-Chinese face in a font collection (0 for a single font)."""
    if not path.endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    faces = TTCollection(path, lazy=True).fonts
    names = [face["name"].getDebugName(1) for face in faces]
    return names.index(family) if family in names else 0


class BulletinPdf(FPDF):
    """A4 pages with the centre's name and the period at the top and "page n of N" at the bottom."""

    def __init__(self, header_left: str, header_right: str, page_label: str, font_path: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        if not Path(font_path).is_file():
            raise FontMissing(f"CJK font not found: {font_path} (install fonts-noto-cjk or set PDF_FONT_PATH)")
        index = font_index(font_path)
        self.add_font(FONT, "", font_path, collection_font_number=index)
        bold = font_path.replace("-Regular.", "-Bold.")
        self.add_font(FONT, "B", bold if Path(bold).is_file() else font_path, collection_font_number=index)
        self.header_left, self.header_right, self.page_label = header_left, header_right, page_label
        self.set_margins(18, 22, 18)
        self.set_auto_page_break(True, margin=18)

    def header(self) -> None:
        """The centre's name and the period, over a thin rule."""
        self.set_font(FONT, "", 8.5)
        self.set_text_color(90, 90, 90)
        self.set_xy(self.l_margin, 10)
        self.cell(self.epw / 2, 5, self.header_left)
        self.cell(self.epw / 2, 5, self.header_right, align="R")
        self.set_draw_color(*GRID)
        self.line(self.l_margin, 16, self.w - self.r_margin, 16)
        self.set_text_color(0, 0, 0)
        self.set_y(22)

    def footer(self) -> None:
        """Page n of N."""
        self.set_y(-13)
        self.set_font(FONT, "", 8.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.page_label.replace("{n}", str(self.page_no())), align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, follows: float, size: float = 12) -> None:
        """A heading, on a new page when it and the first `follows` mm of what it heads would not fit."""
        height = size * 0.6 + HEADING_GAP
        if self.will_page_break(height + follows):
            self.add_page()
        else:
            self.ln(HEADING_GAP)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def chart(self, chart: Chart) -> None:
        """A horizontal bar chart, its heading kept with it (a chart is never split)."""
        rows = chart.rows or [("—", 0)]
        bar_h, gap = 5.0, 1.6
        height = len(rows) * (bar_h + gap) + 2
        self.heading(chart.title, follows=height, size=11)
        label_w, value_w = 46.0, 24.0
        bar_w = self.epw - label_w - value_w
        top = max(float(v or 0) for _, v in rows) or 1.0
        self.set_font(FONT, "", 8.5)
        y = self.get_y()
        self.set_fill_color(*BAR)
        for label, value in rows:
            self.set_xy(self.l_margin, y)
            self.cell(label_w - 2, bar_h, _fit(self, str(label), label_w - 2), align="R")
            width = bar_w * float(value or 0) / top
            if width > 0:
                self.rect(self.l_margin + label_w, y + 0.6, width, bar_h - 1.2, style="F")
            self.set_xy(self.l_margin + label_w + width + 1.5, y)
            self.cell(value_w, bar_h, "—" if value is None else f"{value}{chart.unit}")
            y += bar_h + gap
        self.set_y(y + 2)

    def data_table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        """A table with its heading row repeated on each page; its heading kept with its first rows."""
        self.heading(title, follows=8 * (1 + min(len(rows), 3)), size=11)
        self.set_font(FONT, "", 9)
        self.set_fill_color(255, 255, 255)  # the charts' bar colour must not fill the cells
        widths = [2.2] + [1.0] * (len(headers) - 1)
        with self.table(
            col_widths=widths,
            headings_style=FontFace(emphasis="BOLD", fill_color=(240, 240, 240)),
            line_height=5.5,
            text_align="LEFT",
            wrapmode=WrapMode.CHAR,  # Chinese breaks between characters
            repeat_headings=1,
        ) as table:
            table.row([str(h) for h in headers])
            for values in rows:
                table.row(["—" if v is None else str(v) for v in values])
        self.ln(2)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text cut with an ellipsis to fit `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def build(
    *,
    title: str,
    header_left: str,
    header_right: str,
    page_label: str,
    paragraph: str,
    charts: list[Chart],
    tables: list[Any],
    charts_heading: str,
    tables_heading: str,
    font_path: str = DEFAULT_FONT,
    lang: str = "zh-CN",
) -> bytes:
    """The whole document as PDF bytes; `page_label` holds {n} for the page and {nb} for the page count."""
    pdf = BulletinPdf(header_left, header_right, page_label, font_path)
    pdf.set_title(title)
    pdf.set_author(header_left)
    pdf.set_lang(lang)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    if paragraph:
        pdf.set_font(FONT, "", 10.5)
        pdf.multi_cell(0, 6.5, paragraph, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if charts:
        pdf.heading(charts_heading, follows=40, size=13)
        for chart in charts:
            pdf.chart(chart)
    shown = [t for t in tables if t.rows]
    if shown:
        pdf.heading(tables_heading, follows=40, size=13)
        for t in shown:
            pdf.data_table(t.title, t.headers, t.rows)
    return bytes(pdf.output())
