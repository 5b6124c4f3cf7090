"""Every .xlsx duban writes keeps hostile text as text: a name like ``=HYPERLINK(...)`` or
``@SUM(1)`` is a string cell with Excel's quote prefix (never a formula), and numbers stay
numbers (a deduction of -0.2 is a number). One rule, :mod:`notifications.cells`, for all
writers: the digest attachment (fast path and openpyxl path) and the 评分表 / 扣分明细."""

from __future__ import annotations

import email
import email.policy
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from notifications.cells import FORMULA_TRIGGERS
from notifications.xlsx import table_xlsx, table_xlsx_openpyxl
from tests.security.conftest import EVIL_AT_UNIT, EVIL_FORMULA, EVIL_REQUIREMENT, World

HOSTILE = ['=HYPERLINK("http://evil","x")', "@SUM(1)", "+1+1", "-2+3", "\t=1+1", "\r=1+1",
           "=cmd|' /C calc'!A0"]


def _cells(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


@pytest.mark.parametrize("writer", [table_xlsx, table_xlsx_openpyxl])
def test_table_writers_store_hostile_text_as_quoted_strings_and_numbers_as_numbers(writer):
    rows = [[i, text, Decimal("-0.2"), -0.5] for i, text in enumerate(HOSTILE, start=1)]
    cells = _cells(writer(["序号", "单位", "扣分", "分值"], rows))
    texts = {c.value: c for c in cells if isinstance(c.value, str)}
    for text in HOSTILE:
        cell = texts[text]  # exactly as written: no apostrophe added to the text
        assert cell.data_type == "s" and cell.quotePrefix, (text, cell.data_type)
    assert all(c.data_type != "f" for c in cells)
    numbers = [c for c in cells if c.column in (3, 4) and c.row > 1]
    assert {c.value for c in numbers} == {-0.2, -0.5} and all(c.data_type == "n" for c in numbers)
    assert not any(c.quotePrefix for c in numbers)
    plain = [c for c in cells if c.value == "序号"]
    assert plain and not plain[0].quotePrefix  # ordinary text is left alone


def _workbooks(world: World) -> dict[str, bytes]:
    """Every .xlsx of the run: files on disk and attachments of every mail (outbox + relay)."""
    books: dict[str, bytes] = {}
    for path in world.root.rglob("*.xlsx"):
        books[path.relative_to(world.root).as_posix()] = path.read_bytes()
    mails = [(p.name, p.read_bytes()) for p in world.root.rglob("*.eml")]
    mails += [(f"relay#{n}", r.data) for n, r in enumerate(world.smtp.received)]
    for name, data in mails:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        for att in msg.iter_attachments():
            if (att.get_filename() or "").endswith(".xlsx"):
                books[f"{name}/{att.get_filename()}"] = att.get_payload(decode=True)
    return books


def test_no_workbook_of_the_run_contains_a_formula_and_hostile_names_stay_text(world):
    books = _workbooks(world)
    names = set(books)
    assert any("评分表" in n for n in names) and any("扣分明细" in n for n in names)
    assert any("督办事项清单" in n for n in names)  # digest attachments
    seen: dict[str, int] = {EVIL_FORMULA: 0, EVIL_AT_UNIT: 0, EVIL_REQUIREMENT: 0}
    for name, data in books.items():
        for cell in _cells(data):
            assert cell.data_type != "f", f"{name}!{cell.coordinate} is a formula"
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
                assert cell.data_type == "s" and cell.quotePrefix, f"{name}!{cell.coordinate}"
            if cell.value in seen:
                seen[cell.value] += 1
    assert all(seen.values()), seen  # each hostile name really reached a spreadsheet


def test_deductions_in_the_run_are_negative_numbers_not_text(world):
    (path,) = Path(world.root).rglob("扣分明细-*.xlsx")
    wb = load_workbook(path)
    ws = wb["明细"]
    header = {c.value: c.column for c in ws[4]}
    amounts = [ws.cell(row=r, column=header["分值"]) for r in range(5, ws.max_row + 1)]
    negative = [c for c in amounts if isinstance(c.value, int | float) and c.value < 0]
    assert negative and all(c.data_type == "n" and not c.quotePrefix for c in negative)
