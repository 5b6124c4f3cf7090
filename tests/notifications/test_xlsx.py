"""The digest .xlsx: same rows as the mail, and no cell can become a formula."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from notifications.cells import clean_text, is_formula_like
from notifications.render import DigestContext, DigestRow, render_digest
from notifications.xlsx import (
    DIGEST_HEADERS,
    DIGEST_WIDTHS,
    XLSX_MIME,
    digest_attachment,
    digest_rows,
    table_xlsx,
    table_xlsx_openpyxl,
)
from tests.notifications.conftest import NOW, sample_digest


def _cells(data: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(data)).active
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_digest_attachment_holds_the_rows_of_the_mail():
    ctx = sample_digest()
    att = digest_attachment(ctx)
    assert att.filename == "督办事项清单_20261125.xlsx"
    assert att.mime == XLSX_MIME
    cells = _cells(att.content)
    assert tuple(cells[0]) == DIGEST_HEADERS
    assert [tuple(r) for r in cells[1:]] == digest_rows(ctx.rows)
    assert cells[1][1:] == [
        "报送三季度预算执行情况",
        "形成书面报告报市政府办公室",
        "2026年11月23日（周一）",
        "已逾期2个工作日",
        "已逾期",
    ]


def test_text_that_looks_like_a_formula_is_stored_as_quoted_text():
    hostile = ['=HYPERLINK("http://evil","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1"]
    ctx = DigestContext(
        recipient_name="张三",
        unit_name="单位",
        generated_at=NOW,
        rows=tuple(
            DigestRow(
                item=h, requirement=h, due_date=date(2026, 11, 25), working_days_left=1, status=h
            )
            for h in hostile
        ),
    )
    ws = load_workbook(io.BytesIO(digest_attachment(ctx).content)).active
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    items = [ws.cell(row=r, column=2) for r in range(2, 2 + len(hostile))]
    assert sorted(c.value for c in items) == sorted(hostile)  # shown exactly as written
    assert all(c.data_type == "s" and c.quotePrefix for c in items)


def test_numbers_and_ordinary_text_are_left_alone():
    assert not is_formula_like(-3)
    assert not is_formula_like("市财政局-综合科")
    cells = _cells(table_xlsx(["a", "b"], [[-3, "正常文本"]]))
    assert cells[1] == [-3, "正常文本"]


def test_render_digest_can_attach_the_xlsx():
    m = render_digest(sample_digest(), attach_xlsx=True)
    (att,) = m.attachments
    assert att.content[:2] == b"PK"
    assert len(_cells(att.content)) == 1 + 3


def _layout_of(data: bytes):
    ws = load_workbook(io.BytesIO(data)).active
    cells = [
        [
            (c.value, c.data_type, c.font.bold, c.fill.fgColor.rgb, c.alignment.wrap_text,
             c.quotePrefix)
            for c in row
        ]
        for row in ws.iter_rows()
    ]
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    return ws.title, ws.freeze_panes, ws.dimensions, widths, cells


def test_fast_writer_produces_the_same_workbook_as_openpyxl():
    rows = [
        [1, "=cmd|' /C calc'!A0", "要求<&>", "2026年11月23日（周一）", "已逾期2个工作日", "已逾期"],
        [2, "  前后空格  ", "多行\n文本", "", "还剩3个工作日", None],
        [3, "控制字符\x07被去掉", "x", "y", "z", "w"],
    ]
    args = (DIGEST_HEADERS, rows)
    kw = {"sheet_title": "督办事项", "widths": DIGEST_WIDTHS, "created": NOW}
    fast, reference = (
        table_xlsx(*args, **kw),
        table_xlsx_openpyxl(DIGEST_HEADERS, rows, **kw),
    )
    assert _layout_of(fast) == _layout_of(reference)
    assert _layout_of(fast)[-1][1][1][0] == "=cmd|' /C calc'!A0"  # quoted text, as written
    assert _layout_of(fast)[-1][3][1][0] == clean_text("控制字符\x07被去掉")
    assert load_workbook(io.BytesIO(fast)).properties.created.year == 2026


def test_fast_writer_is_deterministic_for_the_same_rows():
    ctx = sample_digest()
    assert digest_attachment(ctx).content == digest_attachment(ctx).content


def test_too_many_cells_in_a_row_is_refused():
    with pytest.raises(ValueError, match="row 2 has 3 cells"):
        table_xlsx(["a", "b"], [[1, 2, 3]])
