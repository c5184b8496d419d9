"""The bulletin PDF, read back with pypdf: the CJK font embedded, the header and page numbers on every page,
the charts, and each heading on the page of what follows it."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from app import bulletin_pdf
from app.bulletin_export import Table
from tests.factories import publish_small_half_year

AT = dt.datetime(2022, 9, 1, 2, 0)


def _fonts(reader: PdfReader) -> list[dict]:
    """Every font of every page, resolved down to its descriptor."""
    found = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                found.append(descendant.get_object())
    return found


def _text(page) -> str:
    """A page's text. fpdf2 encodes the CFF font's glyphs through an embedded CMap of two-byte codes, which pypdf
    reads a byte at a time: each character comes out after a NUL, dropped here."""
    return page.extract_text().replace("\x00", "")


def _published(client) -> bytes:
    publish_small_half_year(AT)
    resp = client.get("/bulletin/2022H2/export.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return resp.data


def test_the_bulletin_pdf_embeds_its_cjk_font_and_carries_header_page_numbers_and_charts(client):
    reader = PdfReader(io.BytesIO(_published(client)))
    fonts = _fonts(reader)
    assert fonts and all("NotoSansCJK" in str(f["/BaseFont"]) for f in fonts)
    descriptors = [f["/FontDescriptor"].get_object() for f in fonts]
    assert all(any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3")) for d in descriptors)  # embedded
    pages = [_text(page) for page in reader.pages]
    total = len(pages)
    for n, text in enumerate(pages, 1):
        assert "吉林省电信用户申诉受理中心" in text and "2022年下半年" in text
        assert f"第 {n} 页，共 {total} 页" in text
    whole = "\n".join(pages)
    assert "受理用户申诉按被申诉企业（件）" in whole and "中国移动吉林" in whole  # a chart and its bars' labels
    assert "省申诉受理中心" in whole and "主要数据" in whole  # the paragraph and the tables
    assert reader.metadata.title == "2022年下半年申诉受理情况"


def test_a_heading_is_never_left_at_the_foot_of_a_page(app):
    """Many tables: each table's heading is on the page of its first row, each chart's on the page of its bars."""
    tables = [
        Table(f"t{i}", f"表格标题{i:02d}", ["项目", "数值"], [[f"行{i:02d}-{r}", r] for r in range(7)])
        for i in range(14)
    ]
    charts = [bulletin_pdf.Chart(f"图表标题{i}", [(f"条{i}-{r}", r + 1) for r in range(9)]) for i in range(4)]
    data = bulletin_pdf.build(
        title="测试",
        header_left="中心",
        header_right="2022年下半年",
        page_label="第 {n} 页，共 {nb} 页",
        paragraph="段落。" * 200,
        charts=charts,
        tables=tables,
        charts_heading="图表",
        tables_heading="数据表",
    )
    pages = [_text(p) for p in PdfReader(io.BytesIO(data)).pages]
    assert len(pages) >= 3

    def page_of(text: str) -> int:
        return next(i for i, p in enumerate(pages) if text in p)

    for i in range(14):
        assert page_of(f"表格标题{i:02d}") == page_of(f"行{i:02d}-0")
    for i in range(4):
        assert page_of(f"图表标题{i}") == page_of(f"条{i}-8")  # a chart is not split either


def test_without_the_font_file_the_pdf_is_refused_with_a_clear_reason(app):
    with pytest.raises(bulletin_pdf.FontMissing, match="fonts-noto-cjk"):
        bulletin_pdf.build(
            title="x",
            header_left="x",
            header_right="x",
            page_label="{n}",
            paragraph="",
            charts=[],
            tables=[],
            charts_heading="x",
            tables_heading="x",
            font_path="/nonexistent/font.ttc",
        )
